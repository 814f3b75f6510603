"""JSON: the whole report for machines, every figure with the rows behind it.

Keys are English and stable; ``headings`` and each indicator line's ``content`` are in
the report's language. The drill-down is relational: a commune lists its villages and
stations, a village its clusters, a cluster its agents and attestations, and the
``days``, ``intervals``, ``outages`` and ``airings`` sections are keyed by agent (an
airing names the play record, ``journal_id``/``seq``, that proves it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import asdict, fields, is_dataclass
from typing import Any
from zoneinfo import ZoneInfo

from . import labels
from .document import Document, ReportKind


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def report_json(document: Document) -> dict[str, Any]:
    data, meta = document.data, document.data.meta
    zone = ZoneInfo(meta.zone)
    t = document.gettext

    def local(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / 1e9, zone).isoformat()

    villages_of: dict[str, list[str]] = defaultdict(list)
    for village in data.villages:
        villages_of[village.commune].append(village.key)
    stations_of: dict[str, list[str]] = defaultdict(list)
    for station in data.stations:
        stations_of[station.commune].append(station.key)
    clusters_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cluster in data.clusters:
        clusters_of[(cluster.commune, cluster.village)].append(cluster.key)
    body: dict[str, Any] = {
        "report": document.kind.value,
        "language": document.language,
        "title": document.title,
        "definition": {
            "version": meta.definition, "title": meta.definition_title,
            "service_window": meta.window, "min_evidence": meta.min_evidence,
            "village_threshold": meta.village_threshold,
            "airing_threshold": meta.airing_threshold,
            "hybrid_ip_share": meta.hybrid_ip_share,
            "attestation_valid_days": meta.attestation_valid_days,
            "targets": meta.targets},
        "period": {"from": meta.period.start.isoformat(), "to": meta.period.end.isoformat(),
                   "units_as_of": meta.tree_day.isoformat(),
                   "measured_until": meta.measured_until.isoformat(),
                   "window_ms": meta.window_ms},
        "generated_at": meta.generated_at.isoformat(),
        "unit": {"key": meta.unit_key, "name": meta.unit_name, "level": meta.unit_level},
        "header": [{"label": k, "value": v} for k, v in document.meta],
        "headings": {key: t(title) for key, title in labels.SECTIONS.items()},
        "indicators": [_plain(line) for line in document.lines],
        "region": {"communes": len(data.region.communes),
                   "communes_dat": data.region.communes_dat,
                   "share_dat": data.region.share_dat,
                   "stations": data.region.stations, "converted": data.region.converted,
                   "share_converted": data.region.share_converted},
        "communes": [{**_plain(c), "village_keys": villages_of[c.key],
                      "station_keys": stations_of[c.key]} for c in data.communes],
        "villages": [{**_plain(v), "cluster_keys": clusters_of[(v.commune, v.key)]}
                     for v in data.villages],
        "stations": _plain(data.stations),
        "clusters": _plain(data.clusters),
        "agents": [{**_plain(a), "by_level": {f"e{i}": ms for i, ms in enumerate(a.by_level)}}
                   for a in data.agents],
        "attestations": _plain(data.attestations),
        "alerts": _plain(data.alerts),
    }
    if document.kind is ReportKind.UPTIME or data.outages:
        body["outages"] = [{**asdict(o), "cause": o.cause.value, "start": local(o.start_ns),
                            "end": local(o.end_ns), "duration_ms": o.duration_ms}
                           for o in data.outages]
        body["intervals"] = [{**asdict(i), "start": local(i.start_ns), "end": local(i.end_ns)}
                             for i in data.intervals]
    if data.airings or document.kind is ReportKind.UPTIME:
        body["airings"] = [{**asdict(a), "scheduled": local(a.start_ns)} for a in data.airings]
        body["missed"] = [{**asdict(a), "scheduled": local(a.start_ns)} for a in data.missed]
    if data.days:
        body["days"] = [{**_plain(d), "by_level": {f"e{i}": ms for i, ms in
                                                   enumerate(d.by_level)}}
                        for d in data.days]
    return body


def render_json(document: Document) -> bytes:
    return json.dumps(report_json(document), ensure_ascii=False, indent=1,
                      sort_keys=False).encode("utf-8")
