"""The library service on a real database with real imports, without a daemon: who may
do what (every role), what "in use" means, and a delete racing an import of the same
audio (the file must survive for the import's new row)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from controller.events import LibraryImportProgress, LibraryItemChanged
from controller.library.items import LibraryItemView
from controller.library.jobs import ImportJob, JobState, Outcome
from controller.library.model import ProcessedAudio
from controller.library.problems import ItemInUse
from controller.library.service import LibraryService
from controller.library.uploads import Upload
from controller.library.usage import ContentUsage, NoUsage, PlannedSlotUsage, UsageChain
from controller.registry.errors import Forbidden, NotFound
from controller.security.authz import Principal
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import AdminUnit
from tests.station.kit import Kit, make_kit
from tests.station.speed import cheap_password_hashing  # noqa: F401

NOW_NS = int(dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC).timestamp()) * 10**9
HOUR_NS = 3600 * 10**9


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    station = make_kit(f"sqlite:///{tmp_path / 'library.db'}", tmp_path)
    yield station
    station.services.library.stop()
    station.close()


def upload_of(path: Path, tmp_path: Path) -> Upload:
    """What the API hands the service: a copy the job owns (and removes)."""
    copy = tmp_path / f"upload-{path.name}"
    copy.write_bytes(path.read_bytes())
    return Upload(copy, path.name, copy.stat().st_size)


def run_import(library: LibraryService, who: Principal, commune: str, path: Path,
               tmp_path: Path, **options: object) -> ImportJob:
    target = library.authorise_import(who, commune)
    job = library.submit(who, target, upload_of(path, tmp_path), **options)  # type: ignore[arg-type]
    return wait_finished(library, job.id)


def wait_finished(library: LibraryService, job_id: str, timeout_s: float = 60) -> ImportJob:
    done = threading.Event()

    def finished() -> bool:
        job = library.jobs.get(job_id)
        return job is not None and job.state.finished

    subscription = library.bus.subscribe(
        lambda e: done.set() if isinstance(e, LibraryImportProgress) and finished() else None)
    with subscription:
        assert finished() or done.wait(timeout_s)
    job = library.jobs.get(job_id)
    assert job is not None
    return job


def slot(kit: Kit, commune: str, content: str, programme: str, *, window_end_ns: int,
         withdrawn: bool = False, slot_id: str = "s") -> None:
    with kit.db.transaction() as session:
        unit = session.exec(select(AdminUnit).where(AdminUnit.key == commune)).one()
        assert unit.id is not None
        session.add(PlannedSlot(
            agent_id="a-1", slot_id=f"{slot_id}-{programme}", commune_id=unit.id,
            programme_id=programme, start_ns=window_end_ns - HOUR_NS,
            duration_ms=8000, window_end_ns=window_end_ns, content=content, priority=30,
            policy=0, plan_epoch=1, plan_version=1,
            withdrawn_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if withdrawn else None))


# ---------------------------------------------------------------------------- who may


@pytest.mark.e2e
def test_who_may_import_into_which_commune(kit: Kit, bulletins: dict[str, Path],
                                           tmp_path: Path) -> None:
    library = kit.services.library
    allowed = {("admin", "xa-a"), ("admin-a", "xa-a"), ("admin", "xa-b"), ("op-b", "xa-b")}
    hidden = {("op-b", "xa-a")}  # may not even read xa-a: told "not found"
    for username in ("admin", "admin-a", "op-b", "viewer-a", "tech-a", "prov"):
        for commune in ("xa-a", "xa-b"):
            who = kit.who(username)
            if (username, commune) in allowed:
                library.authorise_import(who, commune)
                continue
            expected = NotFound if (username, commune) in hidden or (
                username in ("viewer-a", "tech-a", "admin-a") and commune == "xa-b") \
                else Forbidden
            with pytest.raises(expected):
                library.authorise_import(who, commune)
    job = run_import(library, kit.who("op-b"), "xa-b", bulletins["mp3"], tmp_path)
    assert job.state is JobState.DONE and job.item is not None
    assert job.item.imported_by == "op-b"
    # Readers of the commune see it; others do not even learn it exists.
    assert [i.sha256 for i in library.list_items(kit.who("prov"), "xa-b")] == [job.item.sha256]
    with pytest.raises(NotFound):
        library.list_items(kit.who("viewer-a"), "xa-b")
    with pytest.raises(Forbidden):
        library.delete(kit.who("prov"), "xa-b", str(job.item.id))
    with pytest.raises(NotFound):
        library.job(kit.who("viewer-a"), "xa-a", job.id)  # another commune's job


# ---------------------------------------------------------------------------- usage


def test_planned_slots_count_until_their_window_ends(kit: Kit) -> None:
    sha, other = "a" * 64, "b" * 64
    slot(kit, "xa-a", sha, "sang", window_end_ns=NOW_NS + HOUR_NS)
    slot(kit, "xa-a", sha, "chieu", window_end_ns=NOW_NS + 5 * HOUR_NS)
    slot(kit, "xa-a", sha, "hom-qua", window_end_ns=NOW_NS - HOUR_NS)
    slot(kit, "xa-a", sha, "da-rut", window_end_ns=NOW_NS + HOUR_NS, withdrawn=True)
    slot(kit, "xa-b", sha, "xa-khac", window_end_ns=NOW_NS + HOUR_NS)
    slot(kit, "xa-a", other, "noi-dung-khac", window_end_ns=NOW_NS + HOUR_NS)
    slot(kit, "xa-a", sha, "sang", window_end_ns=NOW_NS + 2 * HOUR_NS, slot_id="t")
    usage = PlannedSlotUsage(kit.db, kit.clock)
    assert usage.users_of("xa-a", sha) == ["chieu", "sang"]
    assert usage.users_of("xa-b", sha) == ["xa-khac"]
    kit.clock.advance(2 * HOUR_NS)  # "sang" has aired (both its slots' windows ended)
    assert usage.users_of("xa-a", sha) == ["chieu"]
    kit.clock.advance(4 * HOUR_NS)
    assert usage.users_of("xa-a", sha) == []
    assert isinstance(usage, ContentUsage) and isinstance(NoUsage(), ContentUsage)


def test_a_usage_chain_asks_every_check(kit: Kit) -> None:
    class Emergencies:
        def users_of(self, commune: str, sha256: str) -> list[str]:
            return ["khan-cap-1"] if sha256 == "c" * 64 else []

    chain = UsageChain(NoUsage())
    assert chain.users_of("xa-a", "c" * 64) == []
    chain.add(Emergencies())
    chain.add(Emergencies())
    assert chain.users_of("xa-a", "c" * 64) == ["khan-cap-1"]


@pytest.mark.e2e
def test_delete_names_every_user_and_changes_nothing(kit: Kit, bulletins: dict[str, Path],
                                                     tmp_path: Path) -> None:
    library = kit.services.library
    admin = kit.who("admin-a")
    job = run_import(library, admin, "xa-a", bulletins["mp3"], tmp_path, title="Bão")
    assert job.item is not None
    sha = job.item.sha256
    slot(kit, "xa-a", sha, "sang", window_end_ns=NOW_NS + HOUR_NS)

    class Emergencies:
        def users_of(self, commune: str, sha256: str) -> list[str]:
            return ["khan-cap-bao"]

    library.usage.add(Emergencies())
    with pytest.raises(ItemInUse) as caught:
        library.delete(admin, "xa-a", sha[:8])
    assert caught.value.translated("vi") == ("«Bão» vẫn đang được dùng trong: sang, "
                                             "khan-cap-bao. Hãy gỡ bản tin khỏi các chương "
                                             "trình đó trước.")
    assert sha in library.store
    assert [i.sha256 for i in library.list_items(admin, "xa-a")] == [sha]


# ---------------------------------------------------------------------------- races


@pytest.mark.e2e
def test_a_delete_during_an_import_of_the_same_audio_keeps_the_file(
        kit: Kit, bulletins: dict[str, Path], tmp_path: Path) -> None:
    """Commune A deletes its item while commune B's import of the same audio is between
    "already stored" (the pipeline kept the existing file) and writing its row: the file
    must still be there for B's row."""
    library = kit.services.library
    first = run_import(library, kit.who("admin"), "xa-a", bulletins["mp3"], tmp_path)
    assert first.item is not None
    sha = first.item.sha256

    stored, go_on = threading.Event(), threading.Event()
    record = library._record

    def slow_record(job: ImportJob, who: Principal, audio: ProcessedAudio
                    ) -> tuple[Outcome, LibraryItemView]:
        stored.set()  # the pipeline found the file already stored and kept it
        assert go_on.wait(30)
        return record(job, who, audio)

    library._record = slow_record  # type: ignore[method-assign]
    target = library.authorise_import(kit.who("op-b"), "xa-b")
    job = library.submit(kit.who("op-b"), target, upload_of(bulletins["mp3"], tmp_path))
    assert stored.wait(60)
    library.delete(kit.who("admin"), "xa-a", sha)
    assert sha in library.store  # kept: an import is in flight
    go_on.set()
    second = wait_finished(library, job.id)
    assert second.state is JobState.DONE and second.item is not None
    assert second.item.sha256 == sha and second.item.commune == "xa-b"
    assert sha in library.store and library.store.verify(sha)

    # Nothing in flight, no other row: deleting B's item removes the file at once.
    library.delete(kit.who("op-b"), "xa-b", sha)
    assert sha not in library.store
    changes = [(e.change, e.commune) for e in kit.events if isinstance(e, LibraryItemChanged)]
    assert changes == [("added", "xa-a"), ("deleted", "xa-a"), ("added", "xa-b"),
                       ("deleted", "xa-b")]
