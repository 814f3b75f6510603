"""Two processing options with non-default values, judged on the stored Opus itself:
``trim_silence=False`` keeps the recording's leading and trailing silence, and
``bitrate_kbps`` sets the bitrate the item is really stored at. Each is compared with the
default import of the same input (the control, which must come out different)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.library import ContentStore, ImportResult, ProcessingSettings, import_file
from tests.library import media

pytestmark = pytest.mark.e2e
KEEP_S = ProcessingSettings().silence_keep_s  # what trimming leaves at each edge


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ContentStore:
    return ContentStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def default(inputs: dict[str, Path], store: ContentStore) -> ImportResult:
    return import_file(inputs["wav"], store, ProcessingSettings())


def stored(store: ContentStore, result: ImportResult) -> Path:
    return store.path_of(result.audio.sha256)


def edge_silences(path: Path) -> tuple[float, float]:
    """Seconds of silence (below -50 dBFS) at the start and at the end, by ffmpeg."""
    done = media.run("ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", path, "-af",
                     "silencedetect=noise=-50dB:d=0.05", "-f", "null", "-")
    starts = [float(s) for s in re.findall(r"silence_start: (-?[0-9.]+)", done.stderr)]
    ends = [float(s) for s in re.findall(r"silence_end: ([0-9.]+)", done.stderr)]
    total = float(media.run("ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", path).stdout)
    lead = ends[0] if starts and starts[0] <= 0.01 and ends else 0.0
    # The last silence runs to the end of the file (ffmpeg then ends it at the end).
    at_end = starts and (len(starts) > len(ends) or ends[-1] >= total - 0.05)
    tail = total - starts[-1] if at_end else 0.0
    return lead, tail


def measured_kbps(path: Path, duration_ms: int) -> float:
    return path.stat().st_size * 8 / duration_ms  # bits per millisecond = kbit/s


def test_without_trimming_the_silence_at_both_ends_is_kept(
        inputs: dict[str, Path], store: ContentStore, default: ImportResult) -> None:
    kept = import_file(inputs["wav"], store, ProcessingSettings(trim_silence=False)).audio
    assert (kept.trimmed_start_ms, kept.trimmed_end_ms) == (0, 0)
    assert kept.duration_ms == pytest.approx(kept.source_duration_ms, abs=40)
    lead, tail = edge_silences(store.path_of(kept.sha256))
    # At least the digital silence the input was made with (espeak adds a little)
    assert lead >= media.LEAD_S - 0.05 and tail >= media.TAIL_S - 0.05, (lead, tail)
    # The control: the default import of the same file cut both down to what it keeps,
    # and what it cut is the difference measured at each end.
    trimmed = default.audio
    cut_lead, cut_tail = edge_silences(stored(store, default))
    assert cut_lead < KEEP_S + 0.1 and cut_tail < KEEP_S + 0.1, (cut_lead, cut_tail)
    assert lead - cut_lead == pytest.approx(trimmed.trimmed_start_ms / 1000, abs=0.1)
    assert tail - cut_tail == pytest.approx(trimmed.trimmed_end_ms / 1000, abs=0.1)
    assert kept.duration_ms - trimmed.duration_ms == pytest.approx(
        trimmed.trimmed_start_ms + trimmed.trimmed_end_ms, abs=40)


def test_the_stored_bitrate_follows_the_setting(
        inputs: dict[str, Path], store: ContentStore, default: ImportResult) -> None:
    rich = import_file(inputs["wav"], store, ProcessingSettings(bitrate_kbps=64)).audio
    assert (rich.bitrate_bps, default.audio.bitrate_bps) == (64_000, 24_000)
    high = measured_kbps(store.path_of(rich.sha256), rich.duration_ms)
    low = measured_kbps(stored(store, default), default.audio.duration_ms)
    # Opus is VBR: speech with pauses averages somewhat under its target, never far over
    assert 0.6 * 64 <= high <= 1.15 * 64, high
    assert 0.6 * 24 <= low <= 1.15 * 24, low
    assert high / low == pytest.approx(64 / 24, rel=0.3), (high, low)
