"""The refusal rules on synthetic evidence: each rule, and the order between them."""

from __future__ import annotations

import pytest

from controller.library import (
    CorruptFile,
    ImportRefused,
    ProcessingSettings,
    SilentAudio,
    TooLong,
    TruncatedFile,
)
from controller.library.analysis import Analysis
from controller.library.diagnosis import diagnose
from controller.library.integrity import INTACT, Finding, Structure
from controller.library.loudness import Loudness
from controller.library.probe import SourceInfo
from controller.library.runner import LogLine, ToolRun

RATE = 48_000
SETTINGS = ProcessingSettings()
SPEECH = Loudness(-24.0, -6.0, 5.0, -34.0)


def info(codec: str = "mp3", duration_s: float | None = 10.0,
         estimated: bool = False) -> SourceInfo:
    return SourceInfo(size_bytes=1000, format_name="mp3", codec=codec, sample_rate=44100,
                      channels=2, duration_s=duration_s, duration_estimated=estimated,
                      has_video=False)


def analysis(seconds: float = 10.0, *, errors: tuple[str, ...] = (),
             warnings: tuple[str, ...] = (), loudness: Loudness = SPEECH,
             silences: tuple[tuple[float, float], ...] = (), gap_s: float = 0.0) -> Analysis:
    lines = tuple(LogLine("error", "dec", e) for e in errors) + tuple(
        LogLine("warning", "demux", w) for w in warnings)
    samples = round(seconds * RATE)
    return Analysis(samples=samples, decoded_samples=samples - round(gap_s * RATE),
                    loudness=loudness, silences=silences,
                    errors=tuple(line for line in lines if line.level == "error"),
                    log=ToolRun(0, b"", lines))


def verdict(source: SourceInfo, evidence: Analysis, structure: Structure = INTACT,
            first_error_s: float = 0.0) -> type[ImportRefused] | None:
    try:
        diagnose("x", source, structure, evidence, SETTINGS, lambda: first_error_s,
                 SETTINGS.max_duration_s)
    except ImportRefused as refusal:
        return type(refusal)
    return None


def test_a_clean_file_passes() -> None:
    assert verdict(info(), analysis()) is None


def test_errors_in_the_middle_are_corruption_and_at_the_end_truncation() -> None:
    damaged = analysis(errors=("Header missing",))
    assert verdict(info(), damaged, first_error_s=4.0) is CorruptFile
    assert verdict(info(), damaged, first_error_s=9.8) is TruncatedFile


def test_tolerated_errors_are_a_setting() -> None:
    damaged = analysis(errors=("Header missing",))
    lenient = ProcessingSettings(tolerated_decode_errors=1)
    diagnose("x", info(), INTACT, damaged, lenient, lambda: 4.0, lenient.max_duration_s)


def test_amr_discontinuous_transmission_is_not_damage() -> None:
    dtx = analysis(errors=("Corrupt bitstream", "dtx mode is not implemented"), gap_s=2.0)
    assert verdict(info("amr_nb"), dtx, first_error_s=1.0) is None
    assert verdict(info("mp3"), dtx, first_error_s=1.0) is CorruptFile


def test_a_gap_in_the_timestamps_is_corruption() -> None:
    assert verdict(info(), analysis(gap_s=3.0)) is CorruptFile
    assert verdict(info(), analysis(gap_s=0.1)) is None


def test_crc_mismatch_is_corruption_even_without_decoder_errors() -> None:
    assert verdict(info(), analysis(warnings=("CRC mismatch!",))) is CorruptFile


def test_shorter_than_the_header_promises_is_truncation() -> None:
    assert verdict(info(duration_s=10.0), analysis(6.0)) is TruncatedFile
    assert verdict(info(duration_s=10.0), analysis(9.9)) is None  # within tolerance
    # An estimated duration is not a promise (ADTS, AMR, headerless WAV).
    assert verdict(info(duration_s=10.0, estimated=True), analysis(6.0)) is None


def test_nothing_decodable_is_corruption() -> None:
    assert verdict(info(duration_s=10.0), analysis(0.0)) is CorruptFile
    assert verdict(info(duration_s=None), analysis(0.0)) is CorruptFile


def test_structure_findings() -> None:
    assert verdict(info(), analysis(), Structure(Finding.TRUNCATED, "no EOS")) is TruncatedFile
    assert verdict(info(), analysis(), Structure(Finding.CORRUPT, "bad frame")) is CorruptFile


@pytest.mark.parametrize("loudness", [Loudness(float("-inf"), float("-inf"), 0.0, -70.0),
                                      Loudness(-65.0, -50.0, 1.0, -75.0)])
def test_silence_and_hiss_are_silent(loudness: Loudness) -> None:
    assert verdict(info(), analysis(loudness=loudness)) is SilentAudio


def test_a_single_click_is_silent() -> None:
    click = analysis(silences=((0.0, 4.0), (4.1, 10.0)))
    assert verdict(info(), click) is SilentAudio


def test_over_the_limit_wins() -> None:
    assert verdict(info(), analysis(SETTINGS.max_duration_s + 1.0)) is TooLong
