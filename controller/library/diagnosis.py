"""From the evidence of one decode, the single clearest reason to refuse a file (or none).

Pure logic over what ``probe``, ``integrity`` and ``analysis`` gathered, so every rule is
unit-tested without ffmpeg. The order of the rules is the point: a file is called
*corrupt* when there is damage inside it, *truncated* when what is there is sound but
ends before the file said it would, *silent* only once it is known to decode cleanly.
"""

from __future__ import annotations

from collections.abc import Callable

from .analysis import Analysis
from .errors import CorruptFile, SilentAudio, TooLong, TruncatedFile
from .integrity import Finding, Structure
from .probe import SourceInfo
from .runner import LogLine
from .settings import ProcessingSettings

# Errors ffmpeg's own AMR decoders print for frames that are legal: phones' AMR
# recorders use discontinuous transmission (SID and NO_DATA frames in pauses), which
# these decoders do not implement. The frames are dropped (pauses get shorter); the
# raw AMR frame walker in ``integrity`` still catches real damage.
_AMR_CODECS = ("amr_nb", "amr_wb")
_AMR_BENIGN = ("Corrupt bitstream", "dtx mode", "Not yet implemented",
               "Invalid data found when processing input", "Note: libopencore")
# Messages that only damage produces (a truncated Ogg file has no CRC errors: the
# demuxer quietly ignores a cut last page).
CORRUPTION_MARKERS = ("CRC mismatch", "checksum mismatch")
TRUNCATION_MARKERS = ("File ended prematurely", "partial file", "unexpected end of file")
# How close to the end of the decodable audio an error must be to count as the cut.
TAIL_S = 0.5
# Timestamps that jump by more than this inside a stream mean lost packets: damage
# that some demuxers (FLAC, Matroska) skip over without reporting an error.
MAX_GAP_S = 0.25


def decoding_errors(errors: tuple[LogLine, ...], info: SourceInfo) -> list[LogLine]:
    if info.codec not in _AMR_CODECS:
        return list(errors)
    return [e for e in errors if not any(marker in e.text for marker in _AMR_BENIGN)]


def diagnose(name: str, info: SourceInfo, structure: Structure, analysis: Analysis,
             settings: ProcessingSettings, locate_first_error: Callable[[], float],
             limit_s: float) -> None:
    """Raise the refusal this file deserves; return when it is fit to process."""
    decoded = analysis.decoded_s
    if decoded > limit_s:
        raise TooLong(name, duration_s=max(decoded, info.duration_s or 0.0), limit_s=limit_s)
    warnings = [line.text for line in analysis.log.lines
                if line.level in ("error", "warning", "fatal", "panic")]
    if structure.finding is Finding.CORRUPT:
        raise CorruptFile(name, detail=structure.detail)
    if any(marker in text for text in warnings for marker in CORRUPTION_MARKERS):
        raise CorruptFile(name, detail=analysis.log.tail())
    if analysis.gap_s > MAX_GAP_S and info.codec not in _AMR_CODECS:
        raise CorruptFile(name, detail=f"{analysis.gap_s:.2f} s of audio missing inside")
    errors = decoding_errors(analysis.errors, info)
    if len(errors) > settings.tolerated_decode_errors:
        if analysis.samples == 0:
            raise CorruptFile(name, detail=analysis.log.tail())
        clean_s = locate_first_error()
        if clean_s < decoded - TAIL_S:
            raise CorruptFile(name, detail=f"first decoding error at {clean_s:.2f} s of "
                                           f"{decoded:.2f} s: {analysis.log.tail()}")
        raise TruncatedFile(name, detail=f"decoding fails at the end ({clean_s:.2f} s): "
                                         f"{analysis.log.tail()}")
    if structure.finding is Finding.TRUNCATED:
        raise TruncatedFile(name, detail=structure.detail)
    if any(marker in text for text in warnings for marker in TRUNCATION_MARKERS):
        raise TruncatedFile(name, detail=analysis.log.tail())
    declared = info.declared_s
    if declared is not None and decoded < declared - max(0.5, 0.02 * declared):
        if analysis.samples == 0:
            raise CorruptFile(name, detail=f"header says {declared:.2f} s, nothing decodes")
        raise TruncatedFile(name, detail=f"header says {declared:.2f} s, "
                                         f"{decoded:.2f} s decode")
    if analysis.samples == 0:
        raise CorruptFile(name, detail="no audio decodes: " + analysis.log.tail())
    loudness = analysis.loudness
    if (loudness.is_silent or loudness.integrated_lufs < settings.silence_floor_lufs
            or analysis.sound_s < settings.min_sound_s):
        raise SilentAudio(name, detail=f"{loudness.integrated_lufs} LUFS, "
                                       f"{analysis.sound_s:.2f} s of sound")
