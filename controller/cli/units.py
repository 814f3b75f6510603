"""``loaxa unit ...``: the administrative tree."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from controller.i18n import _

from .common import DATE, choice, iso_date, seg
from .context import api
from .output import emit, json_option, say, show_fields, show_table, text

LEVELS = ["province", "district", "commune", "village"]


@click.group("units", help=_("Administrative units (province, district, commune, village)."))
def unit() -> None:
    pass


def _tree(units: list[dict[str, Any]]) -> None:
    if not units:
        click.echo(_("(nothing)"))
        return
    depth: dict[str, int] = {}
    for item in units:
        level = depth.get(item["parent"], -1) + 1 if item["parent"] else 0
        depth[item["key"]] = level
        click.echo(f"{'  ' * level}{item['name']}  [{item['key']}, "
                   f"{text(item['level'])}]")


@unit.command("tree", help=_("The tree as it is (or was) on a date."))
@click.option("--on", type=DATE, help=_("Date (YYYY-MM-DD); default today."))
@json_option
def tree(on: dt.datetime | None) -> None:
    emit(api().call("GET", "/units", params={"on": iso_date(on)}), _tree)


@unit.command("show", help=_("One unit."))
@click.argument("key")
@click.option("--on", type=DATE, help=_("Date (YYYY-MM-DD); default today."))
@json_option
def show(key: str, on: dt.datetime | None) -> None:
    emit(api().call("GET", f"/units/{seg(key)}", params={"on": iso_date(on)}), show_fields)


@unit.command("history", help=_("Every name and parent a unit has had."))
@click.argument("key")
@json_option
def history(key: str) -> None:
    emit(api().call("GET", f"/units/{seg(key)}/history"), lambda rows: show_table(
        rows, ["valid_from", "valid_to", "name", "parent"]))


@unit.command("create", help=_("Create a unit."))
@click.argument("key")
@click.option("--level", type=choice(LEVELS), required=True, help=_("Its level."))
@click.option("--name", required=True, help=_("Its name."))
@click.option("--parent", help=_("The unit above it."))
@click.option("--code", help=_("Official unit code."))
@click.option("--from", "valid_from", type=DATE, help=_("Valid from (YYYY-MM-DD)."))
@json_option
def create(key: str, level: str, name: str, parent: str | None, code: str | None,
           valid_from: dt.datetime | None) -> None:
    result = api().call("POST", "/units", body={
        "key": key, "level": level, "name": name, "parent": parent, "code": code,
        "valid_from": iso_date(valid_from)})
    emit(result, lambda u: say(_("Created {key}.").format(key=u["key"])))


@unit.command("update", help=_("Rename and/or move a unit from a date (a new version)."))
@click.argument("key")
@click.option("--name", help=_("New name."))
@click.option("--parent", help=_("New parent."))
@click.option("--from", "valid_from", type=DATE, help=_("Valid from (YYYY-MM-DD)."))
@json_option
def update(key: str, name: str | None, parent: str | None,
           valid_from: dt.datetime | None) -> None:
    result = api().call("PATCH", f"/units/{seg(key)}", body={
        "name": name, "parent": parent, "valid_from": iso_date(valid_from)})
    emit(result, lambda u: say(_("Updated {key}.").format(key=u["key"])))


@unit.command("merge", help=_("Merge communes into another from a date."))
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", required=True, help=_("The commune they become part of."))
@click.option("--from", "valid_from", type=DATE, help=_("Valid from (YYYY-MM-DD)."))
@json_option
def merge(sources: tuple[str, ...], into: str, valid_from: dt.datetime | None) -> None:
    result = api().call("POST", f"/units/{seg(into)}/merge", body={
        "sources": list(sources), "valid_from": iso_date(valid_from)})
    emit(result, lambda u: say(_("Merged into {key}.").format(key=u["key"])))


COMMANDS = [unit]
