"""The operator console: a Textual client of the operator API, in its own process.

Nothing in the controller core imports this package (tests/test_architecture.py).
"""

from .app import LoaxaConsole

__all__ = ["LoaxaConsole"]
