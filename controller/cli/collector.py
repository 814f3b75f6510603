"""``loaxa collector``: the regional collector, and the broker files regional collection
needs (the regional broker, and each commune's bridge to it)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

import click

from controller.i18n import _

from .errors import EXIT_UNAVAILABLE, EXIT_USAGE, CliError
from .local import CONFIG_OPTION, database_errors, local_settings
from .output import emit, json_option, say, show_table


@click.group("collector", help=_("Regional collection: forwarded communes, stored in "
                                 "PostgreSQL, reported across communes."))
def collector() -> None:
    pass


@collector.command("run", help=_("Run the regional collector until stopped (SIGTERM)."))
@CONFIG_OPTION
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help=_("How much to log."))
def run(config: Path | None, log_level: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from controller.collector.component import CollectorError, CollectorProcess
    from controller.uptime.definition import DefinitionError

    settings = local_settings(config)
    logging.basicConfig(level=getattr(logging, log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        CollectorProcess(settings).run()
    except (CollectorError, DefinitionError, OSError, SQLAlchemyError) as error:
        logging.getLogger("loaxa.collector").exception("start failed")
        raise CliError(_("The collector could not start: {error}").format(error=error),
                       code="unavailable", exit_code=EXIT_UNAVAILABLE) from None


def _status(rows: list[dict[str, Any]]) -> None:
    show_table([{"commune": r["commune"], "id": r["last_batch"], "at": r["last_batch_at"],
                 "size": r["records"]} for r in rows], ["commune", "id", "at", "size"])


@collector.command("status", help=_("What each forwarding commune has sent so far."))
@CONFIG_OPTION
@json_option
def status(config: Path | None) -> None:
    from sqlalchemy import select

    from controller.storage.database import Database
    from controller.storage.tables.collect import CollectedCommune

    settings = local_settings(config)
    db = Database(settings.database_url)
    table = CollectedCommune.__table__  # type: ignore[attr-defined]
    try:
        with database_errors(), db.engine.connect() as conn:
            rows = [{"commune": r.commune, "last_batch": r.last_batch,
                     "last_batch_at": r.last_batch_at.isoformat() if r.last_batch_at
                     else None, "batches": r.batches, "records": r.records}
                    for r in conn.execute(select(table).order_by(table.c.commune))]
    finally:
        db.dispose()
    emit(rows, _status)


@collector.command("region-broker", help=_("Write a regional broker's files: TLS, one "
                                           "account per commune bridge, the collector's "
                                           "account, and the ACL."))
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              required=True, help=_("Directory for the broker's files."))
@click.option("--commune", "communes", multiple=True, required=True,
              help=_("A commune that forwards here (repeat)."))
@click.option("--bind", default="0.0.0.0", show_default=True, help=_("Listen address."))
@click.option("--port", type=click.IntRange(1, 65535), default=8883, show_default=True,
              help=_("Listen port."))
@click.option("--hostname", "hostnames", multiple=True,
              help=_("A name the communes dial (for the certificate; repeat)."))
@click.option("--address", "addresses", multiple=True,
              help=_("An address the communes dial (for the certificate; repeat)."))
def region_broker(directory: Path, communes: tuple[str, ...], bind: str, port: int,
                  hostnames: tuple[str, ...], addresses: tuple[str, ...]) -> None:
    from controller.broker.bridge import bridge_username, write_region_broker
    from controller.broker.files import BrokerLayout, ListenerSettings, atomic_write
    from protocols.topics import InvalidIdentifier

    layout = BrokerLayout(directory)
    secrets_dir = directory / "secrets"
    try:
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        passwords = {c: _password(secrets_dir / f"{bridge_username(c)}.password")
                     for c in communes}
        collector_password = _password(secrets_dir / "collector.password")
        write_region_broker(layout, ListenerSettings(
            bind=bind, port=port, hostnames=["localhost", *hostnames],
            addresses=["127.0.0.1", *addresses]), passwords, collector_password)
        atomic_write(secrets_dir / "README", _("Give each commune its bridge password "
                                               "(bridge-<commune>.password) and this "
                                               "broker's ca.crt; collector.password is "
                                               "for loaxa collector run.") + "\n", 0o600)
    except InvalidIdentifier as error:
        raise CliError(str(error), code="invalid", exit_code=EXIT_USAGE) from None
    except OSError as error:
        raise CliError(_("Cannot write {path}: {error}").format(path=directory, error=error),
                       code="unavailable") from None
    say(_("Regional broker files written to {path}").format(path=directory))


def _password(path: Path) -> str:
    """Kept across runs, so re-generating the broker does not break the bridges."""
    from controller.broker.files import atomic_write

    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    atomic_write(path, value + "\n", 0o600)
    return value


@collector.command("bridge", help=_("Print (or write) this commune broker's bridge to the "
                                    "region, from the [forward] settings."))
@CONFIG_OPTION
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help=_("Write it to this file (mode 0600: it holds a password)."))
def bridge(config: Path | None, output: Path | None) -> None:
    from controller.broker.bridge import Bridge, render_bridge
    from controller.broker.files import atomic_write

    settings = local_settings(config)
    forward = settings.forward
    if not forward.region_host or forward.region_ca_file is None \
            or forward.bridge_password_file is None:
        raise CliError(_("Set [forward] region_host, region_ca_file and "
                         "bridge_password_file first."), code="invalid",
                       exit_code=EXIT_USAGE)
    try:
        password = forward.bridge_password_file.read_text().strip()
    except OSError as error:
        raise CliError(_("Cannot read {path}: {error}").format(
            path=forward.bridge_password_file, error=error), code="unavailable") from None
    text = render_bridge(Bridge(settings.station.commune, forward.region_host,
                                forward.region_port, password, forward.region_ca_file,
                                username=forward.bridge_username))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        atomic_write(output, text, 0o600)
    except OSError as error:
        raise CliError(_("Cannot write {path}: {error}").format(path=output, error=error),
                       code="unavailable") from None
    say(_("Bridge written to {path}").format(path=output))


COMMANDS = [collector]
