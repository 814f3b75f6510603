"""Files that cannot become bulletins, uploaded to a real station: each is refused with
its own stable code and a clear sentence (Vietnamese by default, English on request),
and the library (rows) and the store (files, staging included) are exactly as before.
The store already holds an item, so "unchanged" is not "empty".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.library import media

from .station import COMMUNE, Station, station

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory,
            bulletins: dict[str, Path]) -> Iterator[Station]:
    root = tmp_path_factory.mktemp("refusal-station")
    with station(root, "\n[library]\nmax_upload_mb = 1\n") as running:
        job = running.upload(bulletins["mp3"]).json()
        assert running.job(job["id"])["state"] == "done"
        yield running


def _corrupt(folder: Path, bulletins: dict[str, Path]) -> Path:
    return media.scramble(bulletins["mp3"], folder / "hong.mp3", 0.0, 1.0)


def _truncated(folder: Path, bulletins: dict[str, Path]) -> Path:
    return media.cut(bulletins["m4a"], folder / "cut.m4a", 0.6)


def _not_audio(folder: Path, _bulletins: dict[str, Path]) -> Path:
    path = folder / "thong-bao.txt"
    path.write_text("Kính gửi: Ủy ban nhân dân xã.\nV/v: lịch phát thanh tuần này.\n",
                    encoding="utf-8")
    return path


def _zero_length(folder: Path, _bulletins: dict[str, Path]) -> Path:
    path = folder / "rong.mp3"
    path.write_bytes(b"")
    return path


def _silence(folder: Path, _bulletins: dict[str, Path]) -> Path:
    path = folder / "im-lang.wav"
    media.ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "4",
                 "-c:a", "pcm_s16le", path)
    return path


CASES: list[tuple[Callable[[Path, dict[str, Path]], Path], str, str, str]] = [
    (_corrupt, "corrupt",
     "Tệp hong.mp3 bị hỏng, không giải mã được; hãy đề nghị nơi gửi gửi lại bản khác.",
     "The file hong.mp3 is damaged and cannot be decoded; ask the sender for a new copy."),
    (_truncated, "truncated",
     "Tệp cut.m4a không đầy đủ (bị cắt cụt phần cuối); hãy sao chép hoặc tải lại tệp.",
     "The file cut.m4a is incomplete (cut off before its end); copy or download it again."),
    (_not_audio, "not_audio",
     "Tệp thong-bao.txt không phải là tệp âm thanh hay video.",
     "The file thong-bao.txt is not an audio or video file."),
    (_zero_length, "empty", "Tệp rong.mp3 rỗng (0 byte).",
     "The file rong.mp3 is empty (0 bytes)."),
    (_silence, "silent", "Tệp im-lang.wav chỉ có khoảng lặng, không có âm thanh.",
     "The file im-lang.wav contains only silence."),
]


@pytest.mark.parametrize(("maker", "code", "vietnamese", "english"), CASES,
                         ids=[case[1] for case in CASES])
def test_a_refused_upload_adds_nothing(running: Station, bulletins: dict[str, Path],
                                       tmp_path: Path,
                                       maker: Callable[[Path, dict[str, Path]], Path],
                                       code: str, vietnamese: str, english: str) -> None:
    path = maker(tmp_path, bulletins)
    rows, store = running.rows(), running.store()
    assert len(rows) == 1 and len(running.stored_files()) == 1

    response = running.upload(path)
    assert response.status_code == 202, response.text
    job = running.job(response.json()["id"])
    assert job["state"] == "refused" and job["item"] is None, job
    assert job["error"] == {"code": code, "message": vietnamese}
    english_view = running.job(job["id"], language="en")
    assert english_view["error"] == {"code": code, "message": english}

    assert running.rows() == rows
    assert running.store() == store
    assert list(running.uploads.iterdir()) == []


def test_the_cli_names_the_refusal_and_exits_refused(running: Station,
                                                     tmp_path: Path) -> None:
    empty = tmp_path / "rong.mp3"
    empty.write_bytes(b"")
    rows, store = running.rows(), running.store()
    done = running.operator.run("library", "import", str(empty), check=False)
    assert done.returncode == 5
    assert done.stderr.splitlines()[-1] == "Lỗi: Tệp rong.mp3 rỗng (0 byte)."
    running.operator.env["LOAXA_LANG"] = "en"
    try:
        done = running.operator.run("library", "import", str(empty), check=False)
    finally:
        running.operator.env["LOAXA_LANG"] = "vi"
    assert done.returncode == 5
    assert done.stderr.splitlines()[-1] == "Error: The file rong.mp3 is empty (0 bytes)."
    assert running.rows() == rows and running.store() == store


def test_an_upload_over_the_cap_is_refused_while_it_streams(running: Station,
                                                            tmp_path: Path) -> None:
    """1.5 MB against a 1 MB cap: refused before any job exists, nothing kept."""
    big = tmp_path / "video-dai.mp4"
    big.write_bytes(os.urandom(1_500_000))
    jobs = running.operator.json("library", "imports")
    for language, message in (("vi", "Tệp lớn hơn giới hạn tải lên 1 MB."),
                              ("en", "The file is larger than the upload limit of 1 MB.")):
        response = running.upload(big, language=language)
        assert response.status_code == 413
        assert response.json() == {"code": "too_large", "message": message, "details": []}
    # Without a Content-Length the cap bites while the body streams in.
    with running.client() as client, big.open("rb") as handle:
        def chunks() -> Iterator[bytes]:
            yield (b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
                   b"filename=\"video-dai.mp4\"\r\n\r\n")
            while block := handle.read(65536):
                yield block
            yield b"\r\n--b--\r\n"

        response = client.post(f"/v1/communes/{COMMUNE}/library/imports", content=chunks(),
                               headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert list(running.uploads.iterdir()) == []
    assert running.operator.json("library", "imports") == jobs
    done = running.operator.run("library", "import", str(big), check=False)
    assert done.returncode == 5
    assert done.stderr.splitlines()[-1] == "Lỗi: Tệp lớn hơn giới hạn tải lên 1 MB."


def test_a_request_that_is_not_an_upload_is_refused(running: Station) -> None:
    with running.client("en") as client:
        response = client.post(f"/v1/communes/{COMMUNE}/library/imports", content=b"x",
                               headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 400
        assert response.json()["code"] == "bad_upload"
        assert response.json()["message"] == ("Send the file as multipart/form-data, in a "
                                              "part named file.")
        response = client.post(f"/v1/communes/{COMMUNE}/library/imports",
                               data={"title": "no file"})
        assert response.status_code == 400
        assert response.json()["message"] == ("Send the file as multipart/form-data, in a "
                                              "part named file.")
        response = client.post(f"/v1/communes/{COMMUNE}/library/imports",
                               files={"title": (None, "x")})
        assert response.status_code == 400
        assert response.json()["message"] == ("No file in the upload: send it in a part "
                                              "named file.")
    assert list(running.uploads.iterdir()) == []
