"""``loaxa demo``: a whole commune on the embedded defaults, end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from controller.i18n import _

from .errors import EXIT_UNAVAILABLE, CliError


@click.command("demo", help=_("Run a whole sample commune end to end (under a minute)."))
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help=_("Keep the demo's station here (default: a temporary directory)."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the summary as JSON."))
def demo(data_dir: Path | None, as_json: bool) -> None:
    from controller.demo.scenario import DemoError, run_demo

    logging.basicConfig(level=logging.ERROR)
    say = (lambda _text: None) if as_json else click.echo
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
    return "\n".join(lines)


COMMANDS = [demo]
