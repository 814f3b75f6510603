"""The agent's software version, as reported in births, boots and telemetry."""

VERSION = "0.1.0"
SOFTWARE = f"loaxa {VERSION}"
