"""The agent's command line: ``loaxa agent run|enroll``. Stdlib argparse keeps it lean.

Messages here are read by a technician at the box, so they are translated (Vietnamese
by default, ``agent/i18n.py``) and never a traceback. ``enroll`` is imported only when
used, so ``run`` never loads pyzmq.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from protocols.messages import PROTOCOL_VERSION

from .i18n import N_, _
from .version import VERSION

EXIT_USAGE = 2
EXIT_CONFIG = 78
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the controller could not be reached
EXIT_REFUSED = 77  # EX_NOPERM: the controller refused the code
EXIT_CANTCREAT = 73


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="loaxa agent", description="loaxa village agent")
    root.add_argument("--version", action="version",
                      version=f"loaxa agent {VERSION} (wire protocol v{PROTOCOL_VERSION})")
    root.add_argument("--log-level", default=os.environ.get("LOAXA_LOG_LEVEL", "info"),
                      choices=("debug", "info", "warning", "error"))
    commands = root.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run the agent (what the systemd unit starts)")
    run.add_argument("-c", "--config", required=True, type=Path, help="agent.toml")
    enroll = commands.add_parser("enroll", help="claim this box with a one-time code")
    enroll.add_argument("--endpoint", required=True, help="tcp://host:port of the controller")
    enroll.add_argument("--server-key", required=True, help="the controller's CURVE key (Z85)")
    enroll.add_argument("--code", required=True, help="the one-time code, XXXX-XXXX-XXXX")
    enroll.add_argument("--data-dir", type=Path, default=Path("/var/lib/loaxa-agent"))
    enroll.add_argument("--config", type=Path, default=None,
                        help="where to write agent.toml (default: in the data directory)")
    enroll.add_argument("--timeout", type=float, default=15.0, help="seconds to wait")
    enroll.add_argument("--force", action="store_true",
                        help="replace an enrolment as another agent or commune")
    enroll.add_argument("--json", action="store_true", help="machine-readable output")
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        return _run(args.config)
    if args.command == "enroll":
        return _enroll(args)
    parser().print_help()
    return EXIT_USAGE


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def _run(config_path: Path) -> int:
    # A stop asked for while the service is still starting is remembered, so the
    # interval it opens is closed properly rather than left to crash recovery.
    early_stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: early_stop.set())
    from .config import ConfigError, load
    from .journal import JournalError
    from .service import AgentService, NotEnrolled

    try:
        settings = load(config_path)
        service = AgentService(settings)
    except NotEnrolled as exc:
        return _fail(_("This box is not enrolled yet ({detail}). Run `loaxa agent enroll` "
                       "first.").format(detail=exc.problem), EXIT_CONFIG)
    except ConfigError as exc:
        return _fail(_("Configuration error in {key}: {problem}").format(
            key=exc.key, problem=exc.problem), EXIT_CONFIG)
    except JournalError as exc:
        return _fail(_("Cannot open the journal: {error}").format(error=exc), EXIT_CANTCREAT)
    except Exception as exc:  # a broken SD card, a corrupt state file, ...
        logging.getLogger("loaxa.agent").debug("start-up failed", exc_info=True)
        return _fail(_("Cannot start the agent: {error}").format(error=exc), EXIT_CANTCREAT)
    return service.run(stop_requested=early_stop)


def _enroll(args: argparse.Namespace) -> int:
    from .enroll import EnrolmentError, enroll

    try:
        result = enroll(endpoint=args.endpoint, server_key_z85=args.server_key, code=args.code,
                        data_dir=args.data_dir, config_path=args.config,
                        timeout_s=args.timeout, force=args.force)
    except EnrolmentError as exc:
        message, code = _enrolment_message(exc, args)
        if args.json:
            print(json.dumps({"ok": False, "error": exc.kind, "detail": exc.detail}))
        return _fail(message, code)
    if args.json:
        print(json.dumps({"ok": True, "agent_id": result.agent_id, "commune": result.commune,
                          "village": result.village, "config": str(result.config_path),
                          "public_key": result.public_key_z85}))
    else:
        print(_("Enrolled as {agent} in commune {commune}. Configuration: {path}").format(
            agent=result.agent_id, commune=result.commune, path=result.config_path))
        print(_("Start the agent with: systemctl enable --now loaxa-agent"))
    return 0


REFUSALS = {
    "unknown_code": N_("the code is not known"),
    "expired": N_("the code has expired"),
    "already_used": N_("the code has already been used"),
    "key_mismatch": N_("the request does not match this box's key"),
    "rate_limited": N_("too many attempts; wait a few minutes and try again"),
    "malformed": N_("the controller could not read the request"),
}


def _enrolment_message(exc: object, args: argparse.Namespace) -> tuple[str, int]:
    kind = getattr(exc, "kind", "")
    detail = getattr(exc, "detail", "")
    if kind == "invalid_code":
        return _("Invalid code: it has 12 letters and digits, like 7K2M-9QXD-4RWA."), \
            EXIT_USAGE
    if kind == "invalid_server_key":
        return _("Invalid server key: expected the controller's 40-character Z85 key."), \
            EXIT_USAGE
    if kind == "bad_endpoint":
        return _("Invalid endpoint {endpoint}: expected tcp://host:port.").format(
            endpoint=args.endpoint), EXIT_USAGE
    if kind == "unreachable":
        return _("No answer from the controller at {endpoint} within {seconds} s. Check the "
                 "network, the address and the server key.").format(
            endpoint=args.endpoint, seconds=f"{args.timeout:g}"), EXIT_UNAVAILABLE
    if kind == "refused":
        reason = _(REFUSALS.get(detail, N_("the code was refused")))
        return _("The controller refused the code: {reason}.").format(reason=reason), \
            EXIT_REFUSED
    if kind == "already_enrolled":
        return _("This box is already enrolled as another agent ({path}). Use --force to "
                 "replace that enrolment.").format(path=detail), EXIT_CONFIG
    if kind == "cannot_write":
        return _("Cannot write to the data directory: {error}").format(error=detail), \
            EXIT_CANTCREAT
    return _("The controller's reply could not be read: {error}").format(error=detail), \
        EXIT_UNAVAILABLE
