"""Reports as the station (and the regional collector) serve them: who may read what,
which definition, how much detail, in which format.

A reader gets the communes in their read scope (a viewer granted a province reads every
commune of it); asking for a unit outside it is "not found". Before a report is built
the airing index is brought up to date, so it counts every play record stored so far.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from controller.i18n import N_, current_language
from controller.registry.errors import Invalid
from controller.registry.timebase import StationTime
from controller.registry.work import reading
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database

from ..uptime.definition import DefinitionError, IndicatorDefinition, load_definition
from .builder import ReportBuilder, Request
from .document import ReportKind, build_document
from .formats import Format, Rendered, render
from .model import ReportData
from .period import Period, PeriodError

log = logging.getLogger("loaxa.reports")
INTERVAL_TIMELINE_DAYS = 14


@dataclass(frozen=True)
class ReportQuery:
    kind: ReportKind
    start: dt.date
    end: dt.date
    format: Format = Format.JSON
    unit: str | None = None
    definition: str | None = None
    language: str | None = None
    detail: bool = True


def resolve_definition(version: str | None,
                       default: IndicatorDefinition | None = None) -> IndicatorDefinition:
    if version is None and default is not None:
        return default
    try:
        return load_definition(version) if version else load_definition()
    except DefinitionError as exc:
        raise Invalid(N_("Unknown or unusable indicator definition: {problem}"),
                      problem=str(exc)) from None


def check_zone(chosen: IndicatorDefinition, configured: IndicatorDefinition) -> None:
    """Airings are indexed by the local days of the configured definition's time zone
    (``controller.uptime.airings``); a definition counting days in another zone would
    find none of them and judge every village on availability alone. A definition may
    change its service window's hours, then, but not its zone."""
    if chosen.window.tz != configured.window.tz:
        raise Invalid(N_("Definition {version} counts its days in the time zone {zone}, "
                         "but this database indexes airings in {indexed}: a definition "
                         "may change the service window's hours, not its time zone."),
                      version=chosen.version, zone=chosen.window.tz,
                      indexed=configured.window.tz)


def period_of(start: dt.date, end: dt.date) -> Period:
    try:
        return Period(start, end)
    except PeriodError as exc:
        raise Invalid(N_("Not a usable period: {problem}"), problem=str(exc)) from None


def request_for(query: ReportQuery, definition: IndicatorDefinition, until: dt.datetime
                ) -> Request:
    """How much a report computes: an uptime report always lists outages and missed
    airings; the drill-down adds days (and the indicator report its intervals and
    airings); an HTML page needs days for its timeline, and intervals for a short one."""
    period = period_of(query.start, query.end)
    uptime = query.kind is ReportKind.UPTIME
    html = query.format is Format.HTML
    short = period.days_count <= INTERVAL_TIMELINE_DAYS
    return Request(period=period, definition=definition, until=until, unit=query.unit,
                   days=query.detail or html, airings=uptime or query.detail,
                   outages=uptime or query.detail or (html and short))


def make_report(builder: ReportBuilder, query: ReportQuery, definition: IndicatorDefinition,
                until: dt.datetime, visible: Callable[[int], bool] | None = None
                ) -> tuple[ReportData, Rendered]:
    data = builder.build(request_for(query, definition, until), visible)
    language = query.language or current_language()
    document = build_document(data, query.kind, language, detail=query.detail)
    return data, render(document, query.format)


class ReportService:
    def __init__(self, db: Database, time: StationTime,
                 definition: IndicatorDefinition | None = None,
                 catch_up: Callable[[], None] | None = None) -> None:
        self.db = db
        self.time = time
        self.definition = definition
        self.builder = ReportBuilder(db)
        self._catch_up = catch_up

    def report(self, who: Principal, query: ReportQuery) -> Rendered:
        definition = resolve_definition(query.definition, self.definition)
        if self.definition is not None:
            check_zone(definition, self.definition)
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            visible = None if who.system else scope.units(Permission.READ)
        if self._catch_up is not None:
            try:
                self._catch_up()
            except Exception:  # a report of slightly stale airings beats no report
                log.exception("could not bring the airing index up to date")
        language = query.language or who.language
        query = ReportQuery(query.kind, query.start, query.end, query.format, query.unit,
                            query.definition, language, query.detail)
        _, rendered = make_report(self.builder, query, definition, self.time.now(),
                                  None if visible is None else visible.__contains__)
        return rendered
