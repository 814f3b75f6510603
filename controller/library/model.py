"""What an import produced: everything the library's database row will need.

The library table (title, who imported, when ...) belongs to the storage layer; this
record carries the audio facts it stores beside them, so the table can be filled from
it field by field. Loudness figures are measured on the stored Opus file itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class ProcessedAudio:
    sha256: str  # of the stored Opus bytes: the content id agents fetch and verify
    size_bytes: int
    duration_ms: int  # the whole item, chimes included
    integrated_lufs: float  # the whole item
    true_peak_dbtp: float  # the whole item
    speech_duration_ms: int  # the bulletin without chimes, after silence trimming
    speech_lufs: float  # what the normalisation aims at ``target_lufs``
    speech_true_peak_dbtp: float
    speech_lra_lu: float
    target_lufs: float
    gain_db: float  # linear gain applied to the speech (before the limiter)
    bitrate_bps: int  # nominal Opus bitrate
    sample_rate: int
    channels: int
    codec: str  # "opus"
    container: str  # "ogg"
    chime: bool
    trimmed_start_ms: int  # silence cut from the start of the source
    trimmed_end_ms: int  # and from its end
    source_name: str  # the operator's file name, as given
    source_format: str  # ffmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    source_codec: str  # e.g. "aac", "amr_nb"
    source_size_bytes: int
    source_duration_ms: int  # decoded length of the source's audio

    @property
    def average_bitrate_bps(self) -> int:
        """What an item costs on the link per second of audio (Opus is VBR)."""
        return round(self.size_bytes * 8 * 1000 / self.duration_ms) if self.duration_ms else 0

    def to_dict(self) -> dict[str, object]:
        """Plain values for ``--json`` output and the operator API."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ImportResult:
    audio: ProcessedAudio
    newly_stored: bool  # False: identical audio was already in the store
