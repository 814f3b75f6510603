"""Path and query parameters shared by the routers (constrained like the bodies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from protocols.topics import ID_PATTERN

KeyPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=64)]
CommunePath = Annotated[str, Path(pattern=ID_PATTERN, max_length=64,
                                  description="The commune's unit key.")]
CommuneQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64)]
