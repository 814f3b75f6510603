"""Receiving uploads: multipart streamed to disk with a cap, file names kept as the
operator wrote them, and nothing left behind whatever goes wrong.

Bodies are built by httpx itself (what the CLI sends) and fed in small, awkward chunks,
so part boundaries fall inside chunks as they do on a real connection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from controller.library.problems import BadUpload, UploadTooLarge
from controller.library.uploads import (
    MultipartReceiver,
    UploadSpool,
    clean_file_name,
)
from controller.registry.errors import Unavailable

MB = 1024 * 1024


def encoded(files: dict[str, tuple[str | None, bytes]],
            data: dict[str, str] | None = None) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.headers["content-type"], request.read()


def feed(receiver: MultipartReceiver, body: bytes, size: int = 7) -> None:
    for start in range(0, len(body), size):
        receiver.feed(body[start:start + size])


@pytest.fixture
def spool(tmp_path: Path) -> UploadSpool:
    return UploadSpool(tmp_path / "uploads", max_bytes=1 * MB)


def test_the_file_lands_on_disk_with_the_operators_name(spool: UploadSpool) -> None:
    payload = os.urandom(200_000)
    kind, body = encoded({"file": ('Bản tin "bão" số 3.m4a', payload)},
                         {"title": "Bão số 3", "chime": "true"})
    receiver = spool.receiver(kind)
    feed(receiver, body, size=4093)
    upload = receiver.finish()
    assert upload.name == 'Bản tin "bão" số 3.m4a'
    assert upload.fields == {"title": "Bão số 3", "chime": "true"}
    assert upload.size == len(payload) and upload.path.read_bytes() == payload
    assert upload.path.parent == spool.root and upload.path.suffix == ".m4a"
    assert upload.path.stat().st_mode & 0o777 == 0o600
    upload.discard()
    assert list(spool.root.iterdir()) == []


@pytest.mark.parametrize(("raw", "clean"), [
    ("C:\\Users\\xa\\Desktop\\ban tin.mp3", "ban tin.mp3"),
    ("../../etc/passwd", "passwd"),
    ("tin\x00\x1b[31m.mp3", "tin[31m.mp3"),
    ("   ", "upload"),
    ("a%22b%22.mp3", 'a"b".mp3'),
    ("x" * 300 + ".mp3", "x" * 196 + ".mp3"),
])
def test_file_names_are_reduced_to_a_safe_last_element(raw: str, clean: str) -> None:
    assert clean_file_name(raw) == clean


def test_an_upload_over_the_cap_stops_and_leaves_nothing(spool: UploadSpool) -> None:
    kind, body = encoded({"file": ("to.mp4", os.urandom(int(1.2 * MB)))})
    receiver = spool.receiver(kind)
    with pytest.raises(UploadTooLarge) as caught:
        feed(receiver, body, size=65536)
    assert caught.value.code == "too_large" and caught.value.status == 413
    assert caught.value.translated("en") == "The file is larger than the upload limit of 1 MB."
    assert list(spool.root.iterdir()) == []


def test_a_file_just_under_the_cap_is_accepted(spool: UploadSpool) -> None:
    kind, body = encoded({"file": ("vua.mp3", os.urandom(MB))})
    receiver = spool.receiver(kind)
    feed(receiver, body, size=65536)
    assert receiver.finish().size == MB


@pytest.mark.parametrize("content_type", [None, "application/json",
                                          "multipart/form-data", "text/plain; boundary=x"])
def test_only_multipart_with_a_boundary_is_an_upload(spool: UploadSpool,
                                                     content_type: str | None) -> None:
    with pytest.raises(BadUpload):
        spool.receiver(content_type)


def test_a_body_cut_short_is_refused_and_removed(spool: UploadSpool) -> None:
    kind, body = encoded({"file": ("cut.mp3", os.urandom(50_000))})
    receiver = spool.receiver(kind)
    feed(receiver, body[:30_000], size=1000)
    assert len(list(spool.root.iterdir())) == 1  # being written
    with pytest.raises(BadUpload) as caught:
        receiver.finish()
    assert caught.value.translated("en") == ("The upload was cut off before its end; send "
                                             "it again.")
    assert list(spool.root.iterdir()) == []


def test_no_file_part_is_refused(spool: UploadSpool) -> None:
    kind, body = encoded({"title": (None, b"x")})
    receiver = spool.receiver(kind)
    feed(receiver, body)
    with pytest.raises(BadUpload) as caught:
        receiver.finish()
    assert caught.value.translated("vi") == ("Không có tệp nào trong dữ liệu tải lên: hãy gửi "
                                             "tệp trong phần có tên file.")


def test_garbage_is_refused_without_leftovers(spool: UploadSpool) -> None:
    receiver = spool.receiver("multipart/form-data; boundary=abc")
    with pytest.raises(BadUpload):
        feed(receiver, b"--abc\r\nContent-Disposition: form-data; name=\"file\"; "
                       b"filename=\"a.mp3\"\r\n\r\nxxxx\r\n--abc\x00\x00garbage" * 3)
        receiver.finish()
    assert list(spool.root.iterdir()) == []


def test_a_huge_text_field_is_refused(spool: UploadSpool) -> None:
    kind, body = encoded({"file": ("a.mp3", b"123")}, {"title": "t" * 10_000})
    receiver = spool.receiver(kind)
    with pytest.raises(BadUpload):
        feed(receiver, body, size=512)
    assert list(spool.root.iterdir()) == []


def test_the_sweep_removes_what_an_earlier_run_left(spool: UploadSpool) -> None:
    spool.root.mkdir(parents=True)
    (spool.root / "abc.mp3").write_bytes(b"left by a power cut")
    assert spool.sweep() == 1
    assert list(spool.root.iterdir()) == []


def test_without_python_multipart_only_uploads_fail(spool: UploadSpool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The station must still start and serve everything else (the import is lazy)."""
    monkeypatch.setitem(sys.modules, "python_multipart", None)
    monkeypatch.setitem(sys.modules, "python_multipart.multipart", None)
    with pytest.raises(Unavailable) as caught:
        spool.receiver("multipart/form-data; boundary=b")
    assert caught.value.translated("vi") == ("Muốn tải tệp lên, bộ điều khiển cần cài gói "
                                             "python-multipart.")
