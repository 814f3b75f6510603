"""A report laid out as titled tables, in one language, ready for any format.

The first tables are the report itself (the ministry's indicator table, or uptime per
village and agent with outages and missed airings); the *detail* tables after them are
the drill-down: each figure of the first tables is a sum or a verdict over rows of a
detail table, down to availability intervals and play records. Values stay typed
(shares as fractions, durations as hours, times as local datetimes) so a spreadsheet
can compute with them; only categories (basis, cause, outcome) are translated words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ..i18n import translations
from . import labels
from .model import ReportData

MS_PER_HOUR = 3_600_000


class ReportKind(StrEnum):
    UPTIME = "uptime"
    INDICATORS = "indicators"


class ColumnType(StrEnum):
    TEXT = "text"
    INT = "int"
    SHARE = "share"  # a fraction, shown as a percentage
    HOURS = "hours"
    DATETIME = "datetime"  # local, naive (the zone is named in the report)
    DATE = "date"
    BOOL = "bool"
    VALUE = "value"  # the indicator table's mixed value column


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    type: ColumnType


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class IndicatorLine:
    """One row of the ministry's table: STT | Nội dung chỉ tiêu | value."""

    stt: str
    code: str  # i1, i1_dat, ... (stable, for machines)
    content: str
    value: float | int | bool | None
    display: str
    numerator: int | None = None
    denominator: int | None = None
    drill: str | None = None  # the detail table that breaks it down


@dataclass
class Document:
    kind: ReportKind
    language: str
    title: str
    meta: list[tuple[str, str]]
    main: list[Table]
    details: list[Table]
    lines: list[IndicatorLine]
    data: ReportData
    gettext: Callable[[str], str] = field(repr=False, default=str)


class Formatter:
    """Numbers and times as a reader of ``language`` writes them."""

    def __init__(self, language: str, zone: str) -> None:
        self.language = language
        self.zone = ZoneInfo(zone)
        self.gettext = translations(language).gettext

    def number(self, value: float, digits: int = 1) -> str:
        text = f"{value:,.{digits}f}"
        if self.language == "vi":  # 1.234,5
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def percent(self, value: float | None) -> str:
        return "—" if value is None else f"{self.number(100 * value)}%"

    def local(self, ns: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ns / 1e9, self.zone).replace(tzinfo=None)

    def value(self, value: Any, type_: ColumnType) -> str:
        """The text of a cell (CSV and HTML)."""
        if value is None:
            return ""
        if type_ is ColumnType.SHARE:
            return self.percent(float(value))
        if type_ is ColumnType.HOURS:
            return self.number(float(value), 2)
        if type_ is ColumnType.DATETIME and isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M")
        if type_ is ColumnType.DATE and isinstance(value, dt.date):
            return value.isoformat()
        if type_ is ColumnType.BOOL or isinstance(value, bool):
            return self.word("yes" if value else "no")
        if type_ is ColumnType.VALUE and isinstance(value, float):
            return self.percent(value)
        return str(value)

    def word(self, code: str) -> str:
        return self.gettext(labels.VALUES[code]) if code in labels.VALUES else code


def hours(ms: int | None) -> float | None:
    return None if ms is None else ms / MS_PER_HOUR


def build_document(data: ReportData, kind: ReportKind, language: str,
                   detail: bool = True) -> Document:
    return _Layout(data, kind, language, detail).document()


class _Layout:
    def __init__(self, data: ReportData, kind: ReportKind, language: str,
                 detail: bool) -> None:
        self.data = data
        self.kind = kind
        self.language = language
        self.detail = detail
        self.f = Formatter(language, data.meta.zone)
        self.t = self.f.gettext

    def column(self, key: str, type_: ColumnType = ColumnType.TEXT) -> Column:
        return Column(key, self.t(labels.COLUMNS[key]), type_)

    def table(self, key: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]
              ) -> Table:
        return Table(key, self.t(labels.SECTIONS[key]), tuple(columns), rows)

    def document(self) -> Document:
        lines = self.lines()
        if self.kind is ReportKind.INDICATORS:
            main = [self.indicator_table(lines), self.communes()]
            details = [self.villages(), self.stations(), self.clusters(), self.agents(),
                       self.days(), self.airings(), self.intervals(), self.attestations(),
                       self.alerts()]
        else:
            main = [self.villages(), self.agents(), self.outages(), self.missed()]
            details = [self.days(), self.intervals(), self.airings(), self.clusters(),
                       self.alerts()]
        if not self.detail:
            details = []
        details = [t for t in details if t.columns]
        return Document(self.kind, self.language, self.t(labels.TITLES[self.kind.value]),
                        self.meta(), main, details, lines, self.data, self.t)

    # ------------------------------------------------------------------ header
    def meta(self) -> list[tuple[str, str]]:
        m, t, f = self.data.meta, self.t, self.f
        unit = f"{m.unit_name} ({m.unit_key})" if m.unit_key != "*" else \
            t(labels.TEXT["whole_region"])
        evidence = t(labels.TEXT["evidence"]).format(
            level=m.min_evidence, name=t(labels.EVIDENCE[m.min_evidence]))
        thresholds = t(labels.TEXT["thresholds"]).format(
            availability=f.percent(m.village_threshold), aired=f.percent(m.airing_threshold),
            hybrid=f.percent(m.hybrid_ip_share), days=m.attestation_valid_days)
        zone = ZoneInfo(m.zone)
        return [
            (t(labels.META["unit"]), unit),
            (t(labels.META["period"]), m.period.label()),
            (t(labels.META["definition"]), f"{m.definition} — {m.definition_title}"),
            (t(labels.META["window"]), m.window),
            (t(labels.META["evidence"]), evidence),
            (t(labels.META["thresholds"]), thresholds),
            (t(labels.META["tree_day"]), m.tree_day.isoformat()),
            (t(labels.META["measured_until"]),
             m.measured_until.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
            (t(labels.META["generated_at"]),
             m.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
            (t(labels.META["times"]), m.zone),
        ]

    # ------------------------------------------------------------------ indicators
    def lines(self) -> list[IndicatorLine]:
        data, t, f = self.data, self.t, self.f
        region = data.region
        meta = data.meta
        year = meta.period.end.year
        reached = sum(v.reached for v in data.villages)
        clusters = len(data.clusters)
        ip = sum(c.kind == "ip" for c in data.clusters)
        one_commune = meta.unit_level == "commune" and len(region.communes) == 1

        def ratio(part: int, whole: int) -> tuple[float | None, str]:
            value = part / whole if whole else None
            return value, f"{f.percent(value)} ({part}/{whole})"

        def target(name: str, code: str) -> IndicatorLine:
            value = meta.targets.get(name)
            return IndicatorLine(f"{code[1]}.4", f"{code}_target",
                                 t(labels.INDICATORS[f"{code}_target"]).format(year=year),
                                 value, f.percent(value) if value is not None else
                                 t(labels.INDICATORS["no_target"]))

        lines: list[IndicatorLine] = []
        if one_commune:
            commune = region.communes[0]
            lines.append(IndicatorLine("1", "i1", t(labels.INDICATORS["i1_commune"]),
                                       commune.dat, f.word("dat" if commune.dat else
                                                           "not_dat"),
                                       int(commune.dat), 1, "communes"))
        else:
            value, shown = ratio(region.communes_dat, len(region.communes))
            lines.append(IndicatorLine("1", "i1", t(labels.INDICATORS["i1"]), value, shown,
                                       region.communes_dat, len(region.communes), "communes"))
            lines.append(IndicatorLine("1.1", "i1_dat", t(labels.INDICATORS["i1_dat"]),
                                       region.communes_dat, str(region.communes_dat),
                                       drill="communes"))
            lines.append(IndicatorLine("1.2", "i1_total", t(labels.INDICATORS["i1_total"]),
                                       len(region.communes), str(len(region.communes)),
                                       drill="communes"))
        value, shown = ratio(reached, len(data.villages))
        lines.append(IndicatorLine("1.3" if not one_commune else "1.1", "i1_villages",
                                   t(labels.INDICATORS["i1_villages"]), value, shown,
                                   reached, len(data.villages), "villages"))
        if not one_commune:
            lines.append(target("indicator1", "i1"))
        value, shown = ratio(region.converted, region.stations)
        lines.append(IndicatorLine("2", "i2", t(labels.INDICATORS["i2"]), value, shown,
                                   region.converted, region.stations, "stations"))
        lines.append(IndicatorLine("2.1", "i2_converted", t(labels.INDICATORS["i2_converted"]),
                                   region.converted, str(region.converted), drill="stations"))
        lines.append(IndicatorLine("2.2", "i2_total", t(labels.INDICATORS["i2_total"]),
                                   region.stations, str(region.stations), drill="stations"))
        value, shown = ratio(ip, clusters)
        lines.append(IndicatorLine("2.3", "i2_clusters", t(labels.INDICATORS["i2_clusters"]),
                                   value, shown, ip, clusters, "clusters"))
        if not one_commune:
            lines.append(target("indicator2", "i2"))
        return lines

    def indicator_table(self, lines: list[IndicatorLine]) -> Table:
        columns = [self.column("stt"), self.column("content"),
                   self.column("value", ColumnType.VALUE)]
        return self.table("indicators", columns, [(line.stt, line.content, line.display)
                                                  for line in lines])

    # ------------------------------------------------------------------ tables
    def communes(self) -> Table:
        c, T = self.column, ColumnType
        return self.table("communes", [
            c("commune"), c("name"), c("parents"), c("villages", T.INT),
            c("villages_reached", T.INT), c("coverage", T.SHARE), c("dat"),
            c("stations", T.INT), c("converted", T.INT),
            c("mean_availability", T.SHARE)], [
            (r.key, r.name, r.parents, r.villages, r.villages_reached, r.coverage,
             self.f.word("dat" if r.dat else "not_dat"), r.stations, r.converted,
             r.mean_availability) for r in self.data.communes])

    def villages(self) -> Table:
        c, T, w = self.column, ColumnType, self.f.word
        return self.table("villages", [
            c("village"), c("name"), c("commune"), c("clusters", T.INT),
            c("ip_clusters", T.INT), c("best_availability", T.SHARE),
            c("mean_availability", T.SHARE), c("targeted", T.INT), c("aired", T.INT),
            c("reached", T.BOOL), c("basis")], [
            (r.key, r.name, r.commune, r.clusters, r.ip_clusters, r.best_availability,
             r.mean_availability, r.targeted, r.aired, r.reached, w(r.basis))
            for r in self.data.villages])

    def stations(self) -> Table:
        c, T, w = self.column, ColumnType, self.f.word
        return self.table("stations", [
            c("station"), c("name"), c("commune"), c("kind"), c("clusters", T.INT),
            c("ip_clusters", T.INT), c("ip_share", T.SHARE), c("converted", T.BOOL),
            c("mean_availability", T.SHARE)], [
            (r.key, r.name, r.commune, w(r.kind), r.clusters, r.ip_clusters, r.ip_share,
             r.converted, r.mean_availability) for r in self.data.stations])

    def clusters(self) -> Table:
        c, T, w = self.column, ColumnType, self.f.word
        return self.table("clusters", [
            c("cluster"), c("name"), c("kind"), c("commune"), c("village"), c("station"),
            c("agents"), c("availability", T.SHARE), c("targeted", T.INT),
            c("aired", T.INT), c("reaches", T.BOOL), c("basis"), c("attested_by"),
            c("attested_at"), c("attestations")], [
            (r.key, r.name, w(r.kind), r.commune, r.village, r.station, ", ".join(r.agents),
             r.availability, r.targeted if r.kind == "ip" else None,
             r.aired if r.kind == "ip" else None, r.reaches, w(r.basis), r.attested_by,
             r.attested_at, ", ".join(str(a) for a in r.attestations))
            for r in self.data.clusters])

    def agents(self) -> Table:
        c, T = self.column, ColumnType
        return self.table("agents", [
            c("agent"), c("commune"), c("village"), c("cluster"), c("station"),
            c("availability", T.SHARE), c("window_h", T.HOURS), c("up_h", T.HOURS),
            c("e0_h", T.HOURS), c("e1_h", T.HOURS), c("e2_h", T.HOURS),
            c("e3_h", T.HOURS), c("unanchored_h", T.HOURS), c("outages", T.INT),
            c("outage_h", T.HOURS), c("targeted", T.INT), c("aired", T.INT),
            c("missed", T.INT)], [
            (r.agent_id, r.commune, r.village, r.cluster, r.station, r.availability,
             hours(r.window_ms), hours(r.up_ms), *[hours(v) for v in r.by_level],
             hours(r.unanchored_ms), r.outages, hours(r.outage_ms), r.targeted, r.aired,
             r.missed) for r in self.data.agents])

    def outages(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        return self.table("outages", [
            c("agent"), c("start", T.DATETIME), c("end", T.DATETIME),
            c("duration_h", T.HOURS), c("in_window_h", T.HOURS), c("cause"),
            c("from_before", T.BOOL), c("ongoing", T.BOOL)], [
            (o.agent_id, f.local(o.start_ns), f.local(o.end_ns), hours(o.duration_ms),
             hours(o.in_window_ms), f.word(o.cause.value), o.from_before, o.ongoing)
            for o in self.data.outages])

    def missed(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        return self.table("missed", [
            c("agent"), c("slot"), c("programme"), c("scheduled", T.DATETIME),
            c("outcome"), c("record")], [
            (a.agent_id, a.slot_id, a.programme, f.local(a.start_ns), f.word(a.outcome),
             f"{a.play_journal_id}/{a.play_seq}" if a.play_journal_id else None)
            for a in self.data.missed])

    def airings(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        return self.table("airings", [
            c("agent"), c("slot"), c("programme"), c("scheduled", T.DATETIME),
            c("aired", T.BOOL), c("outcome"), c("record")], [
            (a.agent_id, a.slot_id, a.programme, f.local(a.start_ns), a.aired,
             f.word(a.outcome),
             f"{a.play_journal_id}/{a.play_seq}" if a.play_journal_id else None)
            for a in self.data.airings])

    def days(self) -> Table:
        c, T = self.column, ColumnType
        return self.table("days", [
            c("agent"), c("day", T.DATE), c("availability", T.SHARE), c("window_h", T.HOURS),
            c("up_h", T.HOURS), c("e0_h", T.HOURS), c("e1_h", T.HOURS),
            c("e2_h", T.HOURS), c("e3_h", T.HOURS), c("unanchored_h", T.HOURS),
            c("targeted", T.INT), c("aired", T.INT)], [
            (r.agent_id, r.day, r.availability, hours(r.window_ms), hours(r.up_ms),
             *[hours(v) for v in r.by_level], hours(r.unanchored_ms), r.targeted, r.aired)
            for r in self.data.days])

    def intervals(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        return self.table("intervals", [
            c("agent"), c("journal"), c("boot", T.INT), c("interval", T.INT),
            c("start", T.DATETIME), c("end", T.DATETIME), c("evidence", T.INT),
            c("anchored", T.BOOL)], [
            (i.agent_id, i.journal_id, i.boot, i.interval, f.local(i.start_ns),
             f.local(i.end_ns), i.evidence, i.anchored) for i in self.data.intervals])

    def attestations(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        zone = f.zone
        return self.table("attestations", [
            c("id", T.INT), c("commune"), c("target"), c("key"),
            c("period_start", T.DATE), c("period_end", T.DATE),
            c("effective_end", T.DATE), c("attested_by"), c("attested_at", T.DATETIME),
            c("note")], [
            (a.id, a.commune, f.word(a.target), a.key, a.period_start, a.period_end,
             a.effective_end, a.attested_by,
             a.attested_at.astimezone(zone).replace(tzinfo=None), a.note)
            for a in self.data.attestations])

    def alerts(self) -> Table:
        c, T, f = self.column, ColumnType, self.f
        zone = f.zone
        return self.table("alerts", [
            c("id", T.INT), c("commune"), c("kind"), c("subject"),
            c("raised_at", T.DATETIME), c("cleared_at", T.DATETIME), c("detail")], [
            (a.id, a.commune, f.word(a.kind), a.subject,
             a.raised_at.astimezone(zone).replace(tzinfo=None),
             a.cleared_at.astimezone(zone).replace(tzinfo=None) if a.cleared_at else None,
             a.detail) for a in self.data.alerts])
