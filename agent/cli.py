"""The agent's command line: ``loaxa agent run|enroll``. Stdlib argparse keeps it lean."""

from __future__ import annotations

import argparse

from protocols.messages import PROTOCOL_VERSION

VERSION = "0.1.0"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="loaxa agent",
                                   description="loaxa village agent")
    root.add_argument("--version", action="version",
                      version=f"loaxa agent {VERSION} (wire protocol v{PROTOCOL_VERSION})")
    root.add_subparsers(dest="command")
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return 2
    return 0
