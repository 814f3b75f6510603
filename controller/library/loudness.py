"""EBU R128 figures as ffmpeg's ``loudnorm`` reports them, and reading them from its log.

``loudnorm`` with ``print_format=json`` measures integrated loudness, loudness range,
true peak (4x oversampled) and the gating threshold of whatever reaches it. The import
pipeline measures with it (the analysis pass, the check inside each render, the final
measurement of the stored file); the tests check the result with a different filter
(``ebur128``), so the same code does not both make and judge the numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .runner import LogLine

SAMPLE_RATE = 48_000  # every stage of the pipeline runs at the output rate


@dataclass(frozen=True, slots=True)
class Loudness:
    integrated_lufs: float  # -inf for digital silence
    true_peak_dbtp: float
    range_lu: float
    threshold_lufs: float

    @property
    def is_silent(self) -> bool:
        return not math.isfinite(self.integrated_lufs)


class MissingMeasurement(ValueError):
    """ffmpeg's log lacks a figure the pipeline asked for (a bug or a crashed run)."""


def _number(value: object) -> float:
    text = str(value).strip().lower()
    if text in ("-inf", "inf", "+inf", "nan"):
        return float(text) if text != "nan" else float("-inf")
    return float(text)


def parse_loudnorm(lines: tuple[LogLine, ...]) -> Loudness:
    """The JSON block that the (last) ``loudnorm`` instance printed at the end of a run."""
    block = [line.text for line in lines if line.source.startswith("Parsed_loudnorm")]
    text = "\n".join(block)
    start, end = text.rfind("{"), text.rfind("}")
    if start < 0 or end < start:
        raise MissingMeasurement("no loudnorm report in the ffmpeg log")
    data = json.loads(text[start:end + 1])
    return Loudness(integrated_lufs=_number(data["input_i"]),
                    true_peak_dbtp=_number(data["input_tp"]),
                    range_lu=_number(data["input_lra"]),
                    threshold_lufs=_number(data["input_thresh"]))


def parse_sample_counts(lines: tuple[LogLine, ...]) -> list[int]:
    """Samples that reached each ``astats`` instance, in the order of the filter graph."""
    counts: dict[int, int] = {}
    for line in lines:
        if line.source.startswith("Parsed_astats") and "Number of samples:" in line.text:
            index = int(line.source.rsplit("_", 1)[1])
            counts[index] = int(float(line.text.rsplit(":", 1)[1]))
    if not counts:
        raise MissingMeasurement("no astats sample count in the ffmpeg log")
    return [counts[index] for index in sorted(counts)]


def parse_sample_count(lines: tuple[LogLine, ...]) -> int:
    """Samples that reached the last ``astats`` of the graph."""
    return parse_sample_counts(lines)[-1]
