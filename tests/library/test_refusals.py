"""Files that cannot become bulletins are refused, each for its own stated reason.

Every case asserts the exact Vietnamese sentence an operator reads, the English one
after ``set_language("en")``, the error class, and that the store (which already holds
an item, so "unchanged" means something) is byte-for-byte as it was, staging included.
"""

from __future__ import annotations

import json
import os
import pwd
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from controller import i18n
from controller.library import (
    BadChime,
    ContentStore,
    CorruptFile,
    EmptyFile,
    ImportRefused,
    MissingFile,
    NoAudioTrack,
    NotAFile,
    NotAudio,
    PermissionDenied,
    ProcessingSettings,
    SilentAudio,
    TooLong,
    TruncatedFile,
    import_file,
)
from tests.library import media

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, Path]) -> ContentStore:
    store = ContentStore(tmp_path_factory.mktemp("store"))
    import_file(inputs["wav"], store)
    return store


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad")


def refuse(path: Path, store: ContentStore,
           settings: ProcessingSettings | None = None) -> ImportRefused:
    """Import ``path``, expecting a refusal; the store must not change."""
    before = media.snapshot(store.root)
    assert len(list(store)) >= 1
    with pytest.raises(ImportRefused) as caught:
        import_file(path, store, settings or ProcessingSettings())
    assert media.snapshot(store.root) == before
    assert list(store.staging_dir.iterdir()) == []
    return caught.value


def check_messages(error: ImportRefused, vietnamese: str, english: str) -> None:
    assert str(error) == vietnamese
    i18n.set_language("en")
    assert str(error) == english
    assert error.message == english


# -- cheap checks -------------------------------------------------------------------------

def test_missing_file(store: ContentStore, bad: Path) -> None:
    error = refuse(bad / "khong-co.mp3", store)
    assert type(error) is MissingFile
    check_messages(error, "Không tìm thấy tệp khong-co.mp3.",
                   "The file khong-co.mp3 does not exist.")


def test_a_folder_is_not_a_file(store: ContentStore, bad: Path) -> None:
    folder = bad / "thu-muc.mp3"
    folder.mkdir()
    error = refuse(folder, store)
    assert type(error) is NotAFile
    check_messages(error, "thu-muc.mp3 không phải là một tệp thông thường.",
                   "thu-muc.mp3 is not a regular file.")


def test_unreadable_file(store: ContentStore, bad: Path, inputs: dict[str, Path]) -> None:
    """As root (CI, dev machines) the import runs as ``nobody``, for whom mode 000 bites."""
    if not media.is_root():
        locked = bad / "khoa.mp3"
        locked.write_bytes(inputs["mp3"].read_bytes())
        os.chmod(locked, 0)
        error = refuse(locked, store)
        assert type(error) is PermissionDenied
        check_messages(error, "Không có quyền đọc tệp khoa.mp3.",
                       "No permission to read the file khoa.mp3.")
        return
    with tempfile.TemporaryDirectory() as shared:  # pytest's own folders are root-only
        root = Path(shared)
        root.chmod(0o755)
        locked = root / "khoa.mp3"
        locked.write_bytes(inputs["mp3"].read_bytes())
        locked.chmod(0)
        other = ContentStore(root / "store")
        other.put_bytes(b"an item already there")
        before = media.snapshot(other.root)
        assert as_nobody(lambda: refused_messages(locked, other)) == [
            "PermissionDenied | Không có quyền đọc tệp khoa.mp3.",
            "No permission to read the file khoa.mp3."]
        assert media.snapshot(other.root) == before


def refused_messages(path: Path, store: ContentStore) -> list[str]:
    error = refuse(path, store)
    try:
        i18n.set_language("vi")
        vietnamese = f"{type(error).__name__} | {error}"
        i18n.set_language("en")
        return [vietnamese, str(error)]
    finally:
        i18n.set_language(None)


def as_nobody(work: Callable[[], list[str]]) -> list[str]:
    """Run ``work`` in a forked child that has dropped root for ``nobody``.

    Forking keeps the already imported code, so this works whatever the permissions of
    the checkout (a CI clone may be private to root, and nobody could not import it)."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            os.write(write_end, json.dumps(work()).encode())
            status = 0
        except BaseException as exc:
            os.write(write_end, json.dumps([f"child failed: {exc!r}"]).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = json.loads(pipe.read() or b"[]")
    os.waitpid(pid, 0)
    return list(answer)


def test_zero_length_file(store: ContentStore, bad: Path) -> None:
    empty = bad / "rong.mp3"
    empty.write_bytes(b"")
    error = refuse(empty, store)
    assert type(error) is EmptyFile
    check_messages(error, "Tệp rong.mp3 rỗng (0 byte).", "The file rong.mp3 is empty (0 bytes).")


# -- not audio ----------------------------------------------------------------------------

def _text(path: Path) -> None:
    path.write_text("Kính gửi: Ủy ban nhân dân xã.\nV/v: lịch phát thanh tuần này.\n",
                    encoding="utf-8")


def _png(path: Path) -> None:
    media.ffmpeg("-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", path)


def _jpeg_named_mp3(path: Path) -> None:
    jpeg = path.with_suffix(".jpg")
    media.ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64", "-frames:v", "1", jpeg)
    jpeg.rename(path)


@pytest.mark.parametrize(("maker", "filename"), [(_text, "thong-bao.txt"),
                                                 (_png, "anh.png"),
                                                 (_jpeg_named_mp3, "anh-doi-ten.mp3")])
def test_non_audio_files(store: ContentStore, bad: Path, maker: Callable[[Path], None],
                         filename: str) -> None:
    path = bad / filename
    maker(path)
    error = refuse(path, store)
    assert type(error) is NotAudio, error.detail
    check_messages(error, f"Tệp {filename} không phải là tệp âm thanh hay video.",
                   f"The file {filename} is not an audio or video file.")


def test_video_without_sound(store: ContentStore, bad: Path) -> None:
    video = bad / "video-cam.mp4"
    media.ffmpeg(*media.VIDEO_SOURCE, "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                 video)
    error = refuse(video, store)
    assert type(error) is NoAudioTrack
    check_messages(error, "Video video-cam.mp4 không có tiếng (không có kênh âm thanh).",
                   "The video video-cam.mp4 has no audio track.")


# -- damaged ------------------------------------------------------------------------------

TRUNCATABLE = ("mp3", "wav", "m4a", "aac", "ogg", "opus", "flac", "wma", "amr", "mp4", "mkv")


@pytest.mark.parametrize("fmt", TRUNCATABLE)
def test_truncated_files(fmt: str, store: ContentStore, bad: Path,
                         inputs: dict[str, Path]) -> None:
    """A copy that stopped at 60% (an interrupted download or Zalo transfer)."""
    source = inputs[fmt]
    path = media.cut(source, bad / f"cut-{source.name}", 0.6)
    error = refuse(path, store)
    assert type(error) is TruncatedFile, (type(error), error.detail)
    check_messages(error, f"Tệp {path.name} không đầy đủ (bị cắt cụt phần cuối); "
                          "hãy sao chép hoặc tải lại tệp.",
                   f"The file {path.name} is incomplete (cut off before its end); copy or "
                   "download it again.")


# (format, where the damage starts, how much of the file, as fractions)
DAMAGE = [("mp3", 0.35, 0.2), ("flac", 0.05, 0.9), ("m4a", 0.35, 0.2), ("ogg", 0.35, 0.2),
          ("opus", 0.35, 0.2), ("wma", 0.35, 0.2), ("mkv", 0.35, 0.2), ("amr", 0.35, 0.2),
          ("mp3", 0.0, 1.0)]


@pytest.mark.parametrize(("fmt", "start", "length"), DAMAGE)
def test_corrupt_files(fmt: str, start: float, length: float, store: ContentStore, bad: Path,
                       inputs: dict[str, Path]) -> None:
    """Bytes overwritten with noise (a bad SD card, a broken transfer)."""
    source = inputs[fmt]
    path = media.scramble(source, bad / f"hong-{start}-{source.name}", start, length)
    error = refuse(path, store)
    assert type(error) is CorruptFile, (type(error), error.detail)
    check_messages(error, f"Tệp {path.name} bị hỏng, không giải mã được; hãy đề nghị nơi "
                          "gửi gửi lại bản khác.",
                   f"The file {path.name} is damaged and cannot be decoded; ask the sender "
                   "for a new copy.")


def test_a_header_with_noise_after_it_is_corrupt(store: ContentStore, bad: Path,
                                                 inputs: dict[str, Path]) -> None:
    """A known signature (Ogg) whose body is noise: damaged, not "not audio"."""
    data = inputs["ogg"].read_bytes()
    path = bad / "dau-ogg.ogg"
    path.write_bytes(data[:4] + os.urandom(4096))
    error = refuse(path, store)
    assert type(error) is CorruptFile, error.detail


# -- silence ------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "filename"), [
    ("anullsrc=r=44100:cl=stereo", "im-lang.wav"),
    ("anoisesrc=r=44100:amplitude=0.0003:color=pink", "tieng-xi.wav"),
])
def test_silence_only(source: str, filename: str, store: ContentStore, bad: Path) -> None:
    path = bad / filename
    media.ffmpeg("-f", "lavfi", "-i", source, "-t", "4", "-c:a", "pcm_s16le", path)
    error = refuse(path, store)
    assert type(error) is SilentAudio, error.detail
    check_messages(error, f"Tệp {filename} chỉ có khoảng lặng, không có âm thanh.",
                   f"The file {filename} contains only silence.")


def test_a_video_with_a_silent_track_is_silent(store: ContentStore, bad: Path) -> None:
    video = bad / "video-lang.mp4"
    media.ffmpeg(*media.VIDEO_SOURCE, "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
                 "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", video)
    assert type(refuse(video, store)) is SilentAudio


# -- too long -----------------------------------------------------------------------------

def test_over_three_hours_is_refused_from_the_header(store: ContentStore, bad: Path) -> None:
    """The default cap, on a real 3 h 1 min file (silent FLAC: quick to make and tiny);
    refused before decoding, so by the length, not the silence."""
    path = bad / "hop-3-gio.flac"
    media.ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(3 * 3600 + 60),
                 "-c:a", "flac", path)
    error = refuse(path, store)
    assert type(error) is TooLong
    check_messages(error, "Tệp hop-3-gio.flac dài 3:01:00, vượt quá thời lượng cho phép "
                          "3:00:00.",
                   "The file hop-3-gio.flac lasts 3:01:00, longer than the limit of 3:00:00.")


def test_a_file_without_a_stated_length_is_refused_while_decoding(
        store: ContentStore, bad: Path, master: Path) -> None:
    """A Matroska stream written to a pipe states no duration: the decode cap catches it."""
    path = bad / "truc-tiep.mkv"
    media.run("sh", "-c", f"ffmpeg -hide_banner -loglevel error -i '{master}' -c:a libopus "
                          f"-f matroska pipe:1 > '{path}'")
    settings = ProcessingSettings(max_duration_s=4.0)
    error = refuse(path, store, settings)
    assert type(error) is TooLong
    assert error.limit_s == 4.0 and error.duration_s > 4.0
    assert "vượt quá thời lượng cho phép 0:00:04" in str(error)


# -- chime file ---------------------------------------------------------------------------

def test_a_bad_chime_file_is_named_with_its_reason(store: ContentStore, bad: Path,
                                                   inputs: dict[str, Path]) -> None:
    chime = bad / "nhac-hieu.mp3"
    chime.write_bytes(b"")
    settings = ProcessingSettings(chime=True, chime_file=chime)
    error = refuse(inputs["mp3"], store, settings)
    assert type(error) is BadChime
    assert type(error.cause) is EmptyFile
    check_messages(error, "Không dùng được tệp nhạc hiệu nhac-hieu.mp3: Tệp nhac-hieu.mp3 "
                          "rỗng (0 byte).",
                   "The chime file nhac-hieu.mp3 cannot be used: The file nhac-hieu.mp3 is "
                   "empty (0 bytes).")


def test_every_refusal_has_a_distinct_code() -> None:
    classes = [MissingFile, NotAFile, PermissionDenied, EmptyFile, NotAudio, NoAudioTrack,
               CorruptFile, TruncatedFile, SilentAudio, TooLong, BadChime]
    assert len({c.code for c in classes}) == len(classes)
    assert len({c.template for c in classes}) == len(classes)
