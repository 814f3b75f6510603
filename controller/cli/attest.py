"""``loaxa attest``: an operator's word that a legacy (wired/FM) cluster or station was
operational, which indicator 1 accepts where no agent reports (audited: who, when)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from controller.i18n import _

from .common import DATE, iso_date, seg
from .context import api
from .output import emit, json_option, show_fields, show_table


def _target(value: str) -> str:
    from controller.reports.labels import VALUES

    return _(VALUES[value]) if value in VALUES else value


def _rows(data: list[dict[str, Any]]) -> None:
    show_table([{"id": a["id"], "commune": a["commune"], "kind": _target(a["target"]),
                 "key": a["key"], "valid_from": a["period_start"],
                 "valid_to": a["effective_end"], "username": a["attested_by"],
                 "at": a["attested_at"], "revoked_at": a["withdrawn_at"]} for a in data],
               ["id", "commune", "kind", "key", "valid_from", "valid_to", "username", "at",
                "revoked_at"])


def _one(data: dict[str, Any]) -> None:
    show_fields({"id": data["id"], "commune": data["commune"], "kind": _target(data["target"]),
                 "key": data["key"], "valid_from": data["period_start"],
                 "valid_to": data["effective_end"], "username": data["attested_by"],
                 "at": data["attested_at"], "revoked_at": data["withdrawn_at"],
                 "notes": data["note"]})


@click.group("attest", help=_("Attest a legacy (wired/FM) cluster or station operational "
                              "for a period (indicator 1)."))
def attest() -> None:
    pass


def _attest(target: str, commune: str, key: str, start: dt.datetime,
            end: dt.datetime | None, note: str) -> None:
    emit(api().call("POST", f"/communes/{seg(commune)}/attestations", body={
        "target": target, "key": key, "start": iso_date(start), "end": iso_date(end),
        "note": note}), _one)


@attest.command("cluster", help=_("Attest one wired/FM cluster operational."))
@click.argument("commune")
@click.argument("key")
@click.option("--from", "start", type=DATE, required=True, help=_("First day attested."))
@click.option("--to", "end", type=DATE,
              help=_("Last day attested (default: as long as the definition allows)."))
@click.option("--note", default="", help=_("What was checked, and how."))
@json_option
def cluster(commune: str, key: str, start: dt.datetime, end: dt.datetime | None,
            note: str) -> None:
    _attest("cluster", commune, key, start, end, note)


@attest.command("station", help=_("Attest every wired/FM cluster of a station operational."))
@click.argument("commune")
@click.argument("key")
@click.option("--from", "start", type=DATE, required=True, help=_("First day attested."))
@click.option("--to", "end", type=DATE,
              help=_("Last day attested (default: as long as the definition allows)."))
@click.option("--note", default="", help=_("What was checked, and how."))
@json_option
def station(commune: str, key: str, start: dt.datetime, end: dt.datetime | None,
            note: str) -> None:
    _attest("station", commune, key, start, end, note)


@attest.command("list", help=_("Attestations in force (or all, with --withdrawn)."))
@click.option("--commune", help=_("Only this commune."))
@click.option("--withdrawn", is_flag=True, help=_("Include withdrawn attestations."))
@json_option
def list_(commune: str | None, withdrawn: bool) -> None:
    emit(api().call("GET", "/attestations", params={
        "commune": commune, "withdrawn": str(withdrawn).lower()}), _rows)


@attest.command("withdraw", help=_("Withdraw an attestation (it stops counting)."))
@click.argument("attestation_id", type=click.IntRange(1))
@json_option
def withdraw(attestation_id: int) -> None:
    emit(api().call("POST", f"/attestations/{attestation_id}/withdraw"), _one)


COMMANDS = [attest]
