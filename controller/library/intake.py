"""Accepting a file: every check from "does it exist" to "is it more than silence".

Shared by bulletins and by a station's own chime file, so both are refused for the
same reasons with the same messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from . import integrity, runner
from .analysis import Analysis, InputFactory, analyse, file_input, first_error_at
from .diagnosis import diagnose
from .errors import TooLong
from .probe import SourceInfo, check_readable, probe
from .settings import ProcessingSettings

log = logging.getLogger("loaxa.library")


@dataclass(frozen=True, slots=True)
class AcceptedSource:
    """A file that decodes cleanly and holds sound, with what pass one measured."""

    path: Path
    name: str
    info: SourceInfo
    analysis: Analysis
    source: InputFactory
    timeout_s: float


def accept(path: Path, name: str, settings: ProcessingSettings,
           limit_s: float) -> AcceptedSource:
    """Run the checks in order of cost; raise the first ``ImportRefused`` that applies."""
    size = check_readable(path, name)
    info = probe(path, name, size)
    if info.duration_s is not None and info.duration_s > limit_s:
        raise TooLong(name, duration_s=info.duration_s, limit_s=limit_s)
    structure = integrity.inspect(path)
    # Decode one second past the limit: enough to know the limit was passed.
    source = file_input(path, limit_s + 1.0)
    timeout_s = runner.timeout_for(min(limit_s, info.duration_s or limit_s))
    analysis = analyse(source, name, settings, timeout_s)
    diagnose(name, info, structure, analysis, settings,
             lambda: first_error_at(source, name, timeout_s), limit_s)
    log.info("accepted %s: %s/%s, %.2f s, %.1f LUFS", name, info.format_name, info.codec,
             analysis.decoded_s, analysis.loudness.integrated_lufs)
    return AcceptedSource(path, name, info, analysis, source, timeout_s)
