"""Indicator definitions as versioned configuration.

Plans after 2025 may redefine the indicators, so nothing about them is hard-coded: a
definition file names its version, and every report names the definition it used.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .window import ServiceWindow

BUNDLED = Path(__file__).with_name("definitions")
DEFAULT_VERSION = "loaxa-2024.1"


class DefinitionError(ValueError):
    """A definition file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class IndicatorDefinition:
    version: str
    title: str
    window: ServiceWindow
    min_evidence: int
    village_threshold: float
    airing_threshold: float
    hybrid_ip_share: float
    attestation_valid_days: int
    targets: dict[str, dict[int, float]]


def _time(text: object, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        raise DefinitionError(f"{key}: not a time of day: {text!r}") from None


def _share(value: object, key: str) -> float:
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise DefinitionError(f"{key}: must be a share between 0 and 1, got {value!r}")
    return float(value)


def parse_definition(data: dict[str, object]) -> IndicatorDefinition:
    try:
        window = data["service_window"]
        availability = data["availability"]
        conversion = data["conversion"]
        attestation = data["attestation"]
        assert isinstance(window, dict) and isinstance(availability, dict)
        assert isinstance(conversion, dict) and isinstance(attestation, dict)
        evidence = availability["min_evidence"]
        if not isinstance(evidence, int) or not 0 <= evidence <= 3:
            raise DefinitionError(f"availability.min_evidence: 0..3, got {evidence!r}")
        targets_raw = data.get("targets", {})
        assert isinstance(targets_raw, dict)
        return IndicatorDefinition(
            version=str(data["version"]), title=str(data.get("title", data["version"])),
            window=ServiceWindow(_time(window["start"], "service_window.start"),
                                 _time(window["end"], "service_window.end"),
                                 str(window.get("tz", "Asia/Ho_Chi_Minh"))),
            min_evidence=evidence,
            village_threshold=_share(availability["village_threshold"],
                                     "availability.village_threshold"),
            airing_threshold=_share(availability["airing_threshold"],
                                    "availability.airing_threshold"),
            hybrid_ip_share=_share(conversion["hybrid_ip_share"], "conversion.hybrid_ip_share"),
            attestation_valid_days=int(attestation["valid_days"]),
            targets={name: {int(year): float(v) for year, v in values.items()}
                     for name, values in targets_raw.items()})
    except KeyError as missing:
        raise DefinitionError(f"missing key {missing.args[0]!r}") from None
    except (AssertionError, TypeError, ValueError) as bad:
        if isinstance(bad, DefinitionError):
            raise
        raise DefinitionError(f"malformed definition: {bad}") from None


def load_definition(source: str | Path = DEFAULT_VERSION) -> IndicatorDefinition:
    """A bundled definition by version, or a definition file by path."""
    path = Path(source)
    if path.suffix != ".toml":
        path = BUNDLED / f"{source}.toml"
    try:
        with path.open("rb") as handle:
            return parse_definition(tomllib.load(handle))
    except FileNotFoundError:
        raise DefinitionError(f"no indicator definition {source}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: {exc}") from None
