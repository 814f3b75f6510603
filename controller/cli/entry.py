"""The `loaxa` executable.

``loaxa agent ...`` is handed to the agent package in a fresh interpreter (``exec``), so
the controller never imports agent code and an agent-only install needs none of the
controller's dependencies. Everything else is the controller's command line.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["agent"]:
        os.execv(sys.executable, [sys.executable, "-m", "agent", *args[1:]])
    from .app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
