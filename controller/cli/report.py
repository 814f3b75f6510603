"""``loaxa report uptime|indicators``, ``loaxa uptime`` and ``loaxa alerts``.

A report is fetched from the running controller's API by default. With ``--local`` it
is computed straight from the database the settings name — what the regional collector
uses (``loaxa report indicators --local -c collector.toml ...``), and what a station
administrator can use while the controller is stopped. ``loaxa uptime rebuild`` builds
the rollups of another indicator definition's service window ahead of its first report
(which would otherwise build them itself).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click
import httpx

from controller.i18n import _

from .common import DATE
from .context import api, context
from .errors import EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from .local import CONFIG_OPTION, local_settings, upgraded_database
from .output import emit, json_option, say, show_table

KINDS = ["uptime", "indicators"]
FORMATS = ["csv", "xlsx", "html", "json"]
PRESETS = ["day", "week", "month", "quarter", "year"]


def _format(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt
    if output is not None and output.suffix.lstrip(".").lower() in FORMATS:
        return output.suffix.lstrip(".").lower()
    return "json"


def _period(start: dt.datetime | None, end: dt.datetime | None, preset: str | None,
            on: dt.datetime | None) -> tuple[dt.date, dt.date]:
    from controller.reports.period import Period

    if preset is not None:
        if start is not None or end is not None:
            raise CliError(_("Give either --period or --from/--to, not both."), code="usage",
                           exit_code=EXIT_USAGE)
        period = Period.of(preset, (on or dt.datetime.now()).date())
        return period.start, period.end
    if start is None:
        raise CliError(_("Give --from (and --to), or --period."), code="usage",
                       exit_code=EXIT_USAGE)
    return start.date(), (end or start).date()


def _fetch(kind: str, params: dict[str, Any]) -> bytes:
    client = api()
    query = {k: v for k, v in params.items() if v is not None}
    try:
        response = client.http.get(f"/v1/reports/{kind}", params=query)
    except httpx.HTTPError as exc:
        raise CliError(_("Cannot reach the controller at {where}: is it running? "
                         "({error})").format(where=client.where, error=exc),
                       code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
    if response.status_code >= 400:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "message" in payload:
            raise CliError(str(payload["message"]), code=str(payload.get("code", "error")),
                           details=list(payload.get("details") or []))
        raise CliError(_("The controller answered {status}.").format(
            status=response.status_code))
    return response.content


def _local(kind: str, start: dt.date, end: dt.date, fmt: str, unit: str | None,
           definition: str | None, language: str | None, detail: bool,
           config: Path | None) -> bytes:
    from sqlalchemy import select

    from controller.i18n import current_language
    from controller.registry.errors import ServiceError
    from controller.reports.builder import ReportBuilder
    from controller.reports.document import ReportKind
    from controller.reports.formats import Format
    from controller.reports.service import (
        ReportQuery,
        check_zone,
        make_report,
        resolve_definition,
    )
    from controller.storage.tables.collect import CollectedCommune
    from controller.uptime.indexer import index_all
    from protocols.clock import SystemClock

    settings = local_settings(config)
    try:
        with upgraded_database(settings.database_url) as db:
            chosen = resolve_definition(definition or None)
            with db.engine.connect() as conn:
                table = CollectedCommune.__table__  # type: ignore[attr-defined]
                collector = conn.execute(select(table.c.commune).limit(1)).first()
            configured = resolve_definition(settings.collector.definition
                                            if collector is not None else None)
            check_zone(chosen, configured)
            if collector is None:  # a station: count every play record stored so far
                index_all(db, configured.window.tz, SystemClock(trust="always"))
            query = ReportQuery(ReportKind(kind), start, end, Format(fmt), unit, definition,
                                language or current_language(), detail)
            _, rendered = make_report(ReportBuilder(db), query, chosen,
                                      dt.datetime.now(dt.UTC))
            return rendered.content
    except ServiceError as error:
        raise CliError(error.translated(language), code=error.code) from None


@click.command("report", help=_("A report: uptime (per agent and village, with outages "
                                "and missed airings) or indicators (the ministry's table)."))
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--from", "start", type=DATE, help=_("First day (local), e.g. 2026-10-01."))
@click.option("--to", "end", type=DATE, help=_("Last day, included (default: --from)."))
@click.option("--period", "preset", type=click.Choice(PRESETS),
              help=_("A whole day, week, month, quarter or year instead of --from/--to."))
@click.option("--on", type=DATE, help=_("A day inside --period (default: today)."))
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help=_("csv, xlsx, html or json (default: from -o, else json)."))
@click.option("--unit", help=_("A unit key: a commune, district or province."))
@click.option("--definition", help=_("Indicator definition version or file."))
@click.option("--lang", type=click.Choice(["vi", "en"]), help=_("Language of headings."))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help=_("Write the report to this file."))
@click.option("--no-detail", "no_detail", is_flag=True,
              help=_("Leave out the drill-down tables."))
@click.option("--local", "local", is_flag=True,
              help=_("Compute from the database in the settings, not through the API "
                     "(the regional collector)."))
@click.option("-c", "--config", type=click.Path(path_type=Path, dir_okay=False),
              help=_("Settings file (TOML), with --local."))
def report(kind: str, start: dt.datetime | None, end: dt.datetime | None,
           preset: str | None, on: dt.datetime | None, fmt: str | None, unit: str | None,
           definition: str | None, lang: str | None, output: Path | None, no_detail: bool,
           local: bool, config: Path | None) -> None:
    first, last = _period(start, end, preset, on)
    chosen = _format(fmt, output)
    if chosen == "xlsx" and output is None:
        raise CliError(_("An XLSX report needs -o FILE."), code="usage", exit_code=EXIT_USAGE)
    if local or config is not None:
        content = _local(kind, first, last, chosen, unit, definition, lang, not no_detail,
                         config or context().config)
    else:
        content = _fetch(kind, {"from": first.isoformat(), "to": last.isoformat(),
                                "format": chosen, "unit": unit, "definition": definition,
                                "lang": lang, "detail": str(not no_detail).lower()})
    if output is None:
        sys.stdout.write(content.decode("utf-8"))
        sys.stdout.flush()
        return
    try:
        output.write_bytes(content)
    except OSError as error:
        raise CliError(_("Cannot write {path}: {error}").format(path=output, error=error),
                       code="unavailable") from None
    say(_("Report written to {path}").format(path=output))


@click.group("uptime", help=_("The availability rollups behind the reports."))
def uptime() -> None:
    pass


@uptime.command("rebuild", help=_("Build (again) the rollups of an indicator definition's "
                                  "service window from every stored record, and keep them "
                                  "current from then on; a report with a definition not "
                                  "built yet does this first itself."))
@click.option("--definition", help=_("Indicator definition version or file (default: "
                                     "the bundled one)."))
@CONFIG_OPTION
@json_option
def rebuild(definition: str | None, config: Path | None) -> None:
    from controller.registry.errors import ServiceError
    from controller.reports.service import resolve_definition
    from controller.uptime.windows import build

    try:
        chosen = resolve_definition(definition or None)
    except ServiceError as error:
        raise CliError(error.translated(), code=error.code, exit_code=EXIT_USAGE) from None
    with upgraded_database(local_settings(config).database_url) as db:
        built = build(db, chosen.window, chosen.version)
    emit({"window": built.window_key, "definition": chosen.version, "boots": built.boots,
          "days": built.days}, lambda d: say(_(
              "Rollups of the service window {window} built: {boots} boots, {days} agent "
              "days; they are kept current from now on.").format(**d)))


@uptime.command("windows", help=_("The service windows whose rollups are kept current."))
@CONFIG_OPTION
@json_option
def windows(config: Path | None) -> None:
    from controller.uptime.windows import registered

    with upgraded_database(local_settings(config).database_url) as db:
        rows = [{"window": r.window_key, "definition": r.definition,
                 "built_at": r.built_at.isoformat()} for r in registered(db)]

    def human(found: list[dict[str, str]]) -> None:
        for row in found:
            say(_("{window}: first built for {definition} on {built_at}").format(**row))
        if not found:
            say(_("(nothing)"))

    emit(rows, human)


@uptime.command("forget", help=_("Stop keeping a service window's rollups and delete them "
                                 "(a later report with it builds them again)."))
@click.argument("window")
@CONFIG_OPTION
@json_option
def forget(window: str, config: Path | None) -> None:
    from controller.uptime.windows import forget as forget_window

    with upgraded_database(local_settings(config).database_url) as db:
        found = forget_window(db, window)
    if not found:
        raise CliError(_("No service window {window} is kept (see loaxa uptime windows)."
                         ).format(window=window), code="not_found", exit_code=EXIT_USAGE)
    emit({"window": window, "forgotten": True},
         lambda d: say(_("Rollups of {window} deleted.").format(**d)))


def _alerts(rows: list[dict[str, Any]]) -> None:
    from controller.i18n import translations
    from controller.reports.labels import VALUES

    word = translations().gettext
    show_table([{"id": r["id"], "commune": r["commune"],
                 "kind": word(VALUES.get(r["kind"], r["kind"])),
                 "target": r["subject"], "at": r["raised_at"],
                 "status": "active" if r["cleared_at"] is None else "-"} for r in rows],
               ["id", "commune", "kind", "target", "at", "status"])


@click.command("alerts", help=_("Alerts about the fleet, newest first."))
@click.option("--commune", help=_("Only this commune."))
@click.option("--open", "open_only", is_flag=True, help=_("Only alerts not cleared."))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help=_("How many alerts."))
@json_option
def alerts(commune: str | None, open_only: bool, limit: int) -> None:
    emit(api().call("GET", "/alerts", params={"commune": commune,
                                              "open": str(open_only).lower(),
                                              "limit": limit}), _alerts)


COMMANDS = [report, uptime, alerts]
