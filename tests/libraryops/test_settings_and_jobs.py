"""The ``[library]`` settings section, the import job board, and pipeline messages in
the reader's language (not the process's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from controller import i18n
from controller.events import Event, EventBus, LibraryImportProgress
from controller.library import BadChime, EmptyFile, ProcessingSettings, TooLong
from controller.library.importer import Stage
from controller.library.jobs import ImportJob, JobBoard, JobState
from controller.library.problems import library_message
from controller.registry.timebase import StationTime
from controller.settings import SettingsError, load_settings
from protocols.clock import ManualClock


def test_the_library_section_holds_the_processing_settings(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    config = tmp_path / "loaxa.toml"
    config.write_text("[library]\ntarget_lufs = -18.0\nchime = true\nmax_upload_mb = 50\n")
    monkeypatch.setenv("LOAXA_LIBRARY__WORKERS", "2")
    settings = load_settings(config)
    library = settings.library
    assert isinstance(library, ProcessingSettings)  # handed to the pipeline as it is
    assert (library.target_lufs, library.chime, library.workers) == (-18.0, True, 2)
    assert library.max_upload_bytes == 50 * 1024 * 1024
    assert settings.content_dir == settings.station.data_dir / "content"
    monkeypatch.delenv("LOAXA_LIBRARY__WORKERS")
    defaults = load_settings(None).library
    assert (defaults.target_lufs, defaults.true_peak_dbtp, defaults.bitrate_kbps,
            defaults.workers, defaults.max_upload_mb) == (-16.0, -1.5, 24, 1, 500)


def test_a_bad_library_setting_is_named_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "loaxa.toml"
    config.write_text("[library]\nbitrate_kbps = 2\nmax_uplaod_mb = 5\n")
    i18n.set_language("en")
    try:
        with pytest.raises(SettingsError) as caught:
            load_settings(config)
    finally:
        i18n.set_language(None)
    problems = caught.value.problems
    assert any(p.startswith("library.bitrate_kbps:") for p in problems), problems
    assert "library.max_uplaod_mb: unknown setting" in problems


def job(number: int, commune_id: int = 1) -> ImportJob:
    return ImportJob(id=f"{number:032x}", commune="xa-a", commune_id=commune_id,
                     name=f"tin-{number}.mp3", title=None, chime=False, submitted_by="op",
                     submitted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_the_board_publishes_every_step_and_counts_who_waits() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    clock = ManualClock()
    board = JobBoard(bus, StationTime(clock), keep=2, keep_for=dt.timedelta(hours=1))
    first, second, third = (board.add(job(n)) for n in (1, 2, 3))
    assert [first.ahead, second.ahead, third.ahead] == [0, 1, 2]
    board.stage(first.id, Stage.CHECKING)
    assert board.get(third.id).ahead == 1  # type: ignore[union-attr]
    board.stage(first.id, Stage.RENDERING)
    board.refused(first.id, EmptyFile("tin-1.mp3"))
    board.stage(first.id, Stage.STORING)  # a finished job does not move again
    progress = [(e.job_id[-1], e.state, e.stage, e.percent, e.code) for e in seen
                if isinstance(e, LibraryImportProgress)]
    assert progress == [("1", "queued", None, 0, None), ("2", "queued", None, 0, None),
                        ("3", "queued", None, 0, None),
                        ("1", "processing", "checking", 5, None),
                        ("1", "processing", "rendering", 40, None),
                        ("1", "refused", None, 40, "empty")]
    finished = board.get(first.id)
    assert finished is not None and finished.state is JobState.REFUSED
    assert finished.error_message("vi") == "Tệp tin-1.mp3 rỗng (0 byte)."
    assert finished.error_message("en") == "The file tin-1.mp3 is empty (0 bytes)."
    assert board.waiting() == 2
    assert [j.id for j in board.of_commune(1)] == [third.id, second.id, first.id]
    assert board.of_commune(2) == []
    # Finished jobs are forgotten after a while; waiting ones never.
    clock.advance(2 * 3600 * 10**9)
    board.add(job(4))
    assert board.get(first.id) is None and board.get(second.id) is not None


def test_pipeline_messages_follow_the_reader_not_the_process() -> None:
    i18n.set_language("vi")
    try:
        long = TooLong("hop.flac", duration_s=3 * 3600 + 60, limit_s=3 * 3600)
        assert library_message(long, "en") == ("The file hop.flac lasts 3:01:00, longer than "
                                               "the limit of 3:00:00.")
        chime = BadChime("nhac-hieu.mp3", EmptyFile("nhac-hieu.mp3"))
        assert library_message(chime, "en") == (
            "The chime file nhac-hieu.mp3 cannot be used: The file nhac-hieu.mp3 is empty "
            "(0 bytes).")
        assert library_message(chime, "vi") == (
            "Không dùng được tệp nhạc hiệu nhac-hieu.mp3: Tệp nhac-hieu.mp3 rỗng (0 byte).")
    finally:
        i18n.set_language(None)
