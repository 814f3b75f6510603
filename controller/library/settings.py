"""What the import pipeline aims for: loudness, filtering, chime, encoding, limits.

A frozen pydantic model in the style of ``controller.settings`` sections, so the
controller's TOML settings can nest it as ``[library]`` and report a bad value with its
dotted key. Defaults are chosen for speech on outdoor horn loudspeakers; each field says
why it has the value it has.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ProcessingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # EBU R128 sets -23 LUFS for broadcast programmes that listeners turn up or down;
    # a horn cluster has no volume knob per listener and plays against street noise,
    # so speech is aimed at the level streaming platforms use for spoken content.
    target_lufs: float = Field(default=-16.0, ge=-40.0, le=-5.0)
    # Ceiling for true (inter-sample) peaks of the speech and the chime.
    true_peak_dbtp: float = Field(default=-1.5, ge=-9.0, le=0.0)
    # Opus at 24 kbit/s overshoots the peaks it is given by up to ~0.6 dB; the limiter
    # aims this much lower so the decoded output still respects ``true_peak_dbtp``.
    codec_headroom_db: float = Field(default=1.0, ge=0.0, le=3.0)
    # A render whose speech loudness misses the target by more than this (the limiter
    # shaved off loudness with the peaks) is redone with the gain corrected.
    loudness_tolerance_lu: float = Field(default=0.5, gt=0.0, le=2.0)
    # See controller.library.horn: horns reproduce little below ~200 Hz. 0 disables.
    highpass_hz: float = Field(default=180.0, ge=0.0, le=1000.0)

    trim_silence: bool = True
    # Leading/trailing audio quieter than this (sample peak, after the high-pass) for at
    # least ``silence_min_s`` is cut, keeping ``silence_keep_s`` so words are not clipped.
    silence_threshold_db: float = Field(default=-50.0, ge=-90.0, le=-20.0)
    silence_min_s: float = Field(default=0.3, ge=0.05, le=10.0)
    silence_keep_s: float = Field(default=0.2, ge=0.0, le=5.0)
    # Integrated loudness below this (or no sound above the threshold for at least
    # ``min_sound_s``) means the file holds only silence or hiss: refused, not boosted.
    silence_floor_lufs: float = Field(default=-60.0, ge=-70.0, le=-30.0)
    min_sound_s: float = Field(default=0.2, ge=0.0, le=10.0)

    chime: bool = False
    # None: the built-in three-tone chime (ascending before, descending after).
    chime_file: Path | None = None
    chime_target_lufs: float = Field(default=-16.0, ge=-40.0, le=-5.0)
    chime_gap_s: float = Field(default=0.5, ge=0.0, le=5.0)
    max_chime_s: float = Field(default=30.0, gt=0.0, le=300.0)

    bitrate_kbps: int = Field(default=24, ge=6, le=256)
    # Three hours: longer than any session (sessions are capped at 15-45 minutes) with
    # room for a recorded meeting; it bounds the CPU and disk one import can take.
    max_duration_s: float = Field(default=3 * 3600.0, gt=0.0, le=24 * 3600.0)
    # Decoding errors that are tolerated anywhere in a file before it is called
    # corrupt. 0: a glitch aired on every horn of a commune sounds like broken equipment,
    # so the operator is asked for a clean copy instead.
    tolerated_decode_errors: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _limiter_ceiling_in_range(self) -> ProcessingSettings:
        if self.true_peak_dbtp - self.codec_headroom_db < -9.0:
            raise ValueError("true_peak_dbtp - codec_headroom_db must stay above -9 dBTP")
        return self

    @property
    def bitrate_bps(self) -> int:
        return self.bitrate_kbps * 1000

    @property
    def limiter_ceiling_dbtp(self) -> float:
        """Where the limiter holds peaks (before the codec adds its overshoot)."""
        return self.true_peak_dbtp - self.codec_headroom_db
