"""HTML: one self-contained page (inline CSS, SVG and a little JavaScript; nothing
fetched from the network), for a reviewer who opens it from an e-mail or a USB stick.

It carries the report tables, an availability chart (the best IP cluster of each
village against the definition's threshold), an uptime timeline per village (a cell
per day, week or month; for periods of two weeks or less, the availability intervals
and outages of each agent on a time axis), and the detail tables folded away under
``<details>``. The script only sorts and filters tables; the page reads the same
without it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from html import escape
from zoneinfo import ZoneInfo

from . import labels
from .document import Document, Formatter, Table
from .model import ReportData
from .period import window_ms

CELL_PERIOD_DAYS = 92  # one cell per day up to a quarter, per week up to two years
INTERVAL_TIMELINE_DAYS = 14  # up to two weeks, the intervals themselves

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
margin:1.5rem;color:#1b1b1b;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;
border-bottom:2px solid #1565c0;padding-bottom:.2rem}h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.3rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #c8c8c8;padding:.2rem .45rem;vertical-align:top}
th{background:#e8eef7;text-align:left;cursor:pointer}td.n{text-align:right}
table.meta th{cursor:default;width:16rem}table.indicators td:nth-child(2){max-width:38rem}
tr.head td{font-weight:600}.ok{color:#1b5e20}.bad{color:#b71c1c}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.note{color:#555;font-size:.85rem}input.filter{margin:.2rem 0;padding:.15rem .3rem}
svg text{font-size:11px;fill:#222}.legend span{display:inline-block;margin-right:1rem}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
@media print{details{display:block}input.filter{display:none}}
"""

SCRIPT = """
(function(){
  function cellValue(td){var v=td.getAttribute('data-v');return v===null?td.textContent:v;}
  document.querySelectorAll('table.data').forEach(function(table){
    var heads=table.querySelectorAll('th');
    heads.forEach(function(th,i){th.addEventListener('click',function(){
      var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
      var dir=th.getAttribute('data-dir')==='asc'?-1:1;
      th.setAttribute('data-dir',dir>0?'asc':'desc');
      rows.sort(function(a,b){var x=cellValue(a.cells[i]),y=cellValue(b.cells[i]);
        var nx=parseFloat(x),ny=parseFloat(y);
        if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*dir;return x.localeCompare(y)*dir;});
      rows.forEach(function(r){body.appendChild(r);});});});
    var box=table.parentNode.querySelector('input.filter');
    if(box){box.addEventListener('input',function(){var q=box.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
        r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});}
  });
  var bars=document.querySelectorAll('#availability-chart rect.bar').length;
  var lines=document.querySelectorAll('svg.timeline').length;
  var out=document.getElementById('rendered');
  if(out){out.textContent=bars+' / '+lines;}
  document.body.setAttribute('data-ready','1');
})();
"""


def render_html(document: Document) -> bytes:
    f = Formatter(document.language, document.data.meta.zone)
    t = document.gettext
    parts = [f'<!DOCTYPE html><html lang="{document.language}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             f"<title>{escape(document.title)}</title><style>{CSS}</style></head>",
             f'<body data-report="{document.kind.value}" '
             f'data-definition="{escape(document.data.meta.definition)}">',
             f"<h1>{escape(document.title)}</h1>", _meta(document)]
    for table in document.main:
        parts.append(_table(table, f, document, main=True))
    parts.append(f"<h2>{escape(t(labels.SECTIONS['chart']))}</h2>")
    parts.append(availability_chart(document.data, f))
    parts.append(f'<p class="note">{escape(t(labels.TEXT["chart_note"]))}</p>')
    parts.append(f"<h2>{escape(t(labels.SECTIONS['timeline']))}</h2>")
    note = "timeline_intervals_note" if uses_intervals(document.data) else "timeline_note"
    parts.append(f'<p class="note">{escape(t(labels.TEXT[note]))}</p>')
    parts.append(timelines(document.data, f))
    if document.details:
        parts.append(f"<h2>{escape(t(labels.TEXT['details']))}</h2>")
        parts.append(f'<p class="note">{escape(t(labels.TEXT["drill_note"]))}</p>')
        for table in document.details:
            parts.append(_table(table, f, document, main=False))
    parts.append('<p class="note" id="rendered"></p>')
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts).encode("utf-8")


def _meta(document: Document) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>"
                   for k, v in document.meta)
    return f'<table class="meta">{rows}</table>'


def _table(table: Table, f: Formatter, document: Document, *, main: bool) -> str:
    head = "".join(f"<th>{escape(c.title)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for value, column in zip(row, table.columns, strict=True):
            text = escape(f.value(value, column.type))
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            attr = f' class="n" data-v="{value}"' if numeric else ""
            cells.append(f"<td{attr}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if table.key == "indicators":
        body = [_indicator_row(line.stt, line.content, line.display, line.drill)
                for line in document.lines]
    empty = "" if table.rows else \
        f'<p class="note">{escape(document.gettext(labels.TEXT["no_rows"]))}</p>'
    html = (f'<table class="data {escape(table.key)}" id="t-{escape(table.key)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{empty}")
    filter_box = '<input class="filter" type="search" aria-label="filter">' \
        if len(table.rows) > 15 else ""
    if main:
        return f'<section id="s-{escape(table.key)}"><h2>{escape(table.title)}</h2>' \
               f"{filter_box}{html}</section>"
    return f'<details id="s-{escape(table.key)}"><summary>{escape(table.title)} ' \
           f"({len(table.rows)})</summary>{filter_box}{html}</details>"


def _indicator_row(stt: str, content: str, display: str, drill: str | None) -> str:
    value = escape(display)
    if drill:
        value = f'<a href="#s-{escape(drill)}">{value}</a>'
    css = ' class="head"' if "." not in stt else ""
    return f"<tr{css}><td>{escape(stt)}</td><td>{escape(content)}</td><td>{value}</td></tr>"


# --------------------------------------------------------------------------- charts


def availability_chart(data: ReportData, f: Formatter) -> str:
    """Horizontal bars: the best IP cluster of each village, and the threshold."""
    villages = data.villages
    threshold = data.meta.village_threshold
    label_w, bar_w, row_h = 220, 520, 18
    height = 30 + row_h * max(1, len(villages))
    out = [f'<svg id="availability-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
           f'width="{label_w + bar_w + 80}" height="{height}" '
           f'viewBox="0 0 {label_w + bar_w + 80} {height}">']
    for index, village in enumerate(villages):
        y = 10 + index * row_h
        value = village.best_availability
        name = escape(f"{village.name} ({village.commune})")
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{name}</text>')
        if value is None:
            out.append(f'<text x="{label_w + 4}" y="{y + 12}" fill="#777">—</text>')
            continue
        colour = "#2e7d32" if value >= threshold else "#c62828"
        width = max(1.0, bar_w * value)
        out.append(f'<rect class="bar" data-village="{escape(village.key)}" '
                   f'data-value="{value:.6f}" x="{label_w}" y="{y + 2}" width="{width:.1f}" '
                   f'height="{row_h - 5}" fill="{colour}"><title>{name}: '
                   f"{escape(f.percent(value))}</title></rect>")
        out.append(f'<text x="{label_w + width + 4:.1f}" y="{y + 12}">'
                   f"{escape(f.percent(value))}</text>")
    x = label_w + bar_w * threshold
    out.append(f'<line class="threshold" x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 14}" '
               f'stroke="#1565c0" stroke-dasharray="4 3" stroke-width="1.5"/>')
    out.append(f'<text x="{x:.1f}" y="{height - 2}" text-anchor="middle" fill="#1565c0">'
               f"{escape(f.percent(threshold))}</text></svg>")
    return "".join(out)


def uses_intervals(data: ReportData) -> bool:
    """Short periods show the intervals themselves (when the report computed them)."""
    return data.meta.period.days_count <= INTERVAL_TIMELINE_DAYS and \
        bool(data.intervals or data.outages)


def timelines(data: ReportData, f: Formatter) -> str:
    return interval_timelines(data, f) if uses_intervals(data) else cell_timelines(data, f)


def _bucket(day: dt.date, days: int) -> dt.date:
    if days <= CELL_PERIOD_DAYS:
        return day
    if days <= 731:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def cell_timelines(data: ReportData, f: Formatter) -> str:
    """A row of cells per village: the village's availability per day/week/month."""
    meta = data.meta
    period_days = meta.period.days_count
    until = int(meta.measured_until.timestamp() * 1e9)
    window = data.meta.service_window
    buckets = sorted({_bucket(d, period_days) for d in meta.period.days()})
    cluster_of = {(a.agent_id): (a.commune, a.cluster) for a in data.agents}
    village_of = {(c.commune, c.key): (c.commune, c.village) for c in data.clusters}
    up: dict[tuple[str, str], dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    cluster_up: dict[tuple[tuple[str, str], dt.date], int] = defaultdict(int)
    whole: dict[dt.date, int] = defaultdict(int)
    for day in meta.period.days():
        whole[_bucket(day, period_days)] += window_ms(window, day, until)
    for row in data.days:
        where = cluster_of.get(row.agent_id)
        if where is not None:
            cluster_up[(where, _bucket(row.day, period_days))] += row.up_ms
    for (cluster, bucket), ms in cluster_up.items():
        village = village_of.get(cluster)
        if village is not None:
            up[village][bucket] = max(up[village][bucket], ms)
    has_ip = {(v.commune, v.key) for v in data.villages if v.ip_clusters}
    cell = max(4, min(22, 880 // max(1, len(buckets))))
    out = []
    for place in data.villages:
        key = (place.commune, place.key)
        width = 10 + cell * len(buckets)
        svg = [f'<svg class="timeline" data-village="{escape(place.key)}" '
               f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="26" '
               f'viewBox="0 0 {width} 26">']
        for index, bucket in enumerate(buckets):
            total = whole[bucket]
            share = (min(1.0, up[key][bucket] / total) if total and key in has_ip else None)
            colour = "#bdbdbd" if share is None else (
                "#2e7d32" if share >= meta.village_threshold else "#c62828")
            tip = f"{bucket.isoformat()}: " + ("—" if share is None else f.percent(share))
            svg.append(f'<rect class="cell" x="{5 + index * cell}" y="3" '
                       f'width="{cell - 1}" height="20" fill="{colour}"'
                       f'{"" if share is None else f" data-value={share:.4f}"}>'
                       f"<title>{escape(tip)}</title></rect>")
        svg.append("</svg>")
        out.append(f"<h3>{escape(place.name)} ({escape(place.key)}, "
                   f"{escape(place.commune)}) — {escape(f.percent(place.best_availability))}"
                   f"</h3>{''.join(svg)}")
    return "".join(out)


def interval_timelines(data: ReportData, f: Formatter) -> str:
    """For short periods: each agent's intervals and outages on a time axis."""
    meta = data.meta
    zone = ZoneInfo(meta.zone)
    window = data.meta.service_window
    start = int(dt.datetime.combine(meta.period.start, dt.time(), zone).timestamp()) * 10**9
    end = int(dt.datetime.combine(meta.period.end + dt.timedelta(days=1), dt.time(),
                                  zone).timestamp()) * 10**9
    width, label_w, row_h = 900, 90, 16
    scale = width / max(1, end - start)

    def x(ns: int) -> float:
        return label_w + (min(max(ns, start), end) - start) * scale

    agents_by_village: dict[tuple[str, str], list[str]] = defaultdict(list)
    for agent_row in data.agents:
        agents_by_village[(agent_row.commune, agent_row.village)].append(agent_row.agent_id)
    out = []
    for village in data.villages:
        agents = agents_by_village.get((village.commune, village.key), [])
        height = 22 + row_h * max(1, len(agents))
        svg = [f'<svg class="timeline" data-village="{escape(village.key)}" '
               f'xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 10}" '
               f'height="{height}" viewBox="0 0 {label_w + width + 10} {height}">']
        for day in meta.period.days():  # the service window, shaded
            w_start, w_end = window.on(day)
            svg.append(f'<rect class="window" x="{x(w_start):.1f}" y="0" '
                       f'width="{x(w_end) - x(w_start):.1f}" height="{height - 14}" '
                       f'fill="#eef3fb"/>')
            svg.append(f'<text x="{x(w_start):.1f}" y="{height - 2}">{day:%m-%d}</text>')
        for row, agent in enumerate(agents):
            y = 4 + row * row_h
            svg.append(f'<text x="{label_w - 4}" y="{y + 10}" text-anchor="end">'
                       f"{escape(agent)}</text>")
            for piece in (i for i in data.intervals if i.agent_id == agent):
                colour = "#2e7d32" if piece.anchored and piece.evidence >= meta.min_evidence \
                    else ("#f9a825" if piece.anchored else "#8e24aa")
                tip = (f"{f.local(piece.start_ns):%Y-%m-%d %H:%M} – "
                       f"{f.local(piece.end_ns):%Y-%m-%d %H:%M} e{piece.evidence}")
                svg.append(f'<rect class="up" x="{x(piece.start_ns):.1f}" y="{y}" '
                           f'width="{max(0.5, x(piece.end_ns) - x(piece.start_ns)):.1f}" '
                           f'height="{row_h - 4}" fill="{colour}"><title>{escape(tip)}'
                           f"</title></rect>")
            for outage in (o for o in data.outages if o.agent_id == agent):
                tip = (f"{f.local(outage.start_ns):%Y-%m-%d %H:%M} – "
                       f"{f.local(outage.end_ns):%Y-%m-%d %H:%M}")
                svg.append(f'<rect class="outage" x="{x(outage.start_ns):.1f}" y="{y + 3}" '
                           f'width="{max(0.5, x(outage.end_ns) - x(outage.start_ns)):.1f}" '
                           f'height="{row_h - 10}" fill="#c62828"><title>{escape(tip)}'
                           f"</title></rect>")
        svg.append("</svg>")
        out.append(f"<h3>{escape(village.name)} ({escape(village.key)}, "
                   f"{escape(village.commune)}) — {escape(f.percent(village.best_availability))}"
                   f"</h3>{''.join(svg)}")
    legend = "".join(f'<span><i class="sw" style="background:{colour}"></i>'
                     f"{escape(f.gettext(labels.LEGEND[key]))}</span>"
                     for key, colour in (("up", "#2e7d32"), ("low", "#f9a825"),
                                         ("unanchored", "#8e24aa"), ("outage", "#c62828")))
    return f'<p class="legend">{legend}</p>' + "".join(out)
