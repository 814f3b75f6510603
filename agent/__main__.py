"""``python -m agent`` (what ``loaxa agent ...`` runs)."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
