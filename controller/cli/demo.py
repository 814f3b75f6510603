"""``loaxa demo``: a whole commune on the embedded defaults, end to end."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path
from typing import Any

import click

from controller.i18n import _
from controller.reports import labels

from .errors import EXIT_UNAVAILABLE, CliError

CONTENT_WIDTH = 60


@click.command("demo", help=_("Run a whole sample commune end to end (under a minute)."))
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help=_("Keep the demo's station here (default: a temporary directory)."))
@click.option("--json", "as_json", is_flag=True,
              help=_("Print the summary as JSON (the narration goes to standard error)."))
def demo(data_dir: Path | None, as_json: bool) -> None:
    from controller.demo.scenario import DemoError, run_demo

    logging.basicConfig(level=logging.ERROR)

    def say(text: str) -> None:
        click.echo(text, err=as_json)

    try:
        summary = run_demo(data_dir, say)
    except DemoError as error:
        raise CliError(str(error), code="demo_failed", exit_code=EXIT_UNAVAILABLE) from None
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(render_summary(summary))


def render_summary(summary: dict[str, Any]) -> str:
    lines = ["", _("Summary of {commune} ({seconds} s)").format(
        commune=summary["commune"], seconds=summary["elapsed_s"])]
    lines.append(_("Stations: {kinds}").format(kinds=", ".join(
        f"{kind} {count}" for kind, count in sorted(summary["stations_by_kind"].items()))))
    lines.append(_("Clusters: {kinds}").format(kinds=", ".join(
        f"{kind} {count}" for kind, count in sorted(summary["clusters_by_kind"].items()))))
    village, clusters, ip, online = _("Village"), _("Clusters"), _("IP"), _("Online")
    agent_h, cluster_h, connection = _("Agent"), _("Cluster"), _("Connection")
    records, up = _("Records"), _("Up (s)")
    lines.append("")
    lines.append(f"{village:<18} {clusters:>8} {ip:>4} {online:>8}")
    for village in summary["villages"]:
        lines.append(f"{village['name']:<18} {village['clusters']:>8} "
                     f"{village['ip_clusters']:>4} {village['online_agents']:>8}")
    lines.append("")
    lines.append(f"{agent_h:<14} {cluster_h:<14} {connection:<10} {records:>8} {up:>7}")
    for agent in summary["agents"]:
        lines.append(f"{agent['agent']:<14} {agent['cluster']:<14} {agent['connectivity']:<10} "
                     f"{agent['records']:>8} {agent['available_s']:>7}")
    outage = summary.get("outage")
    if outage:
        lines.append("")
        lines.append(_("{cluster} was cut off: availability kept by its own journal, "
                       "{count} records backfilled after the network came back.").format(
            cluster=outage["cluster"], count=outage["backfilled"]))
    lines.extend(render_airings(summary))
    lines.extend(render_indicators(summary))
    return "\n".join(lines)


def render_airings(summary: dict[str, Any]) -> list[str]:
    """Each targeted agent's airings: how far the first sample was from the schedule."""
    bulletin = summary.get("bulletin")
    if not bulletin or not bulletin.get("airings"):
        return []
    from controller.demo.plays import outcome_word

    lines = ["", _("«{title}», aired by each targeted agent (start error of the first "
                   "sample; ms):").format(title=bulletin["title"])]
    slots = [s["slot"] for s in bulletin["slots"]]
    cluster_h = _("Cluster")
    headings = [_("Airing {number}").format(number=n + 1) for n in range(len(slots))]
    lines.append((f"{cluster_h:<14} " + " ".join(f"{h:<24}" for h in headings)).rstrip())
    by_cluster: dict[str, dict[str, dict[str, Any]]] = {}
    for airing in bulletin["airings"]:
        by_cluster.setdefault(airing["cluster"], {})[airing["slot"]] = airing
    for cluster, airings in by_cluster.items():
        cells = []
        for slot in slots:
            airing = airings.get(slot)
            if airing is None:
                cells.append("—")
                continue
            error = airing["start_error_ms"]
            shown = outcome_word(airing["outcome"]) if error is None or \
                airing["outcome"] != "aired" else f"{error:+.1f} ms"
            cells.append(shown)
        cut = "  " + _("(cut off)") if any(a["cut_off"] for a in airings.values()) else ""
        lines.append((f"{cluster:<14} " + " ".join(f"{c:<24}" for c in cells)).rstrip() + cut)
    emergency = summary.get("emergency")
    if emergency:
        lines.append(_("Emergency «{title}» in {villages}: {preempted} airings pre-empted, "
                       "{aired} agents aired it.").format(
            title=emergency["title"], villages=", ".join(emergency["villages"]),
            preempted=sum(p["outcome"] == "preempted" for p in emergency["preempted"]),
            aired=len({a["agent"] for a in emergency["airings"] if a["outcome"] == "aired"})))
    return lines


def render_indicators(summary: dict[str, Any]) -> list[str]:
    """The ministry's table: STT | Nội dung chỉ tiêu | value, then the HTML report."""
    report = summary.get("indicators")
    if not report:
        return []
    stt, content, value = (_(labels.COLUMNS[k]) for k in ("stt", "content", "value"))
    lines = ["", f"{report['title']} — {report['day']} ({report['definition']})"]
    rule = "-" * (6 + CONTENT_WIDTH + 2 + 20)
    lines += [rule, f"{stt:<5} {content:<{CONTENT_WIDTH}}  {value}", rule]
    for line in report["lines"]:
        wrapped = textwrap.wrap(line["content"], CONTENT_WIDTH) or [""]
        lines.append(f"{line['stt']:<5} {wrapped[0]:<{CONTENT_WIDTH}}  {line['display']}")
        lines.extend(f"{'':<5} {more}" for more in wrapped[1:])
    lines.append(rule)
    reached = [v["name"] for v in report.get("villages", []) if v["reached"]]
    not_reached = [v["name"] for v in report.get("villages", []) if not v["reached"]]
    if not_reached:
        lines.append(_("Villages reached: {reached}; not yet: {missing}.").format(
            reached=", ".join(reached) or "—", missing=", ".join(not_reached)))
    lines.append(_("HTML report (tables, availability chart, timelines): {path}").format(
        path=report["html"]))
    return lines


COMMANDS = [demo]
