"""Importing bulletins into a real running station: the CLI and the API upload, with
progress, the stored item's metadata, and the same audio imported twice kept once.

The item's figures are checked against the stored file itself, measured independently
(ffmpeg's ``ebur128``, ffprobe, sha256), not against what the pipeline reported.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.library import media

from .station import COMMUNE, EventTap, Station, station

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with station(tmp_path_factory.mktemp("import-station")) as running:
        yield running


def stored_path(running: Station, sha256: str) -> Path:
    return running.content / sha256[:2] / f"{sha256}.opus"


def test_cli_import_shows_progress_and_stores_a_measured_item(
        running: Station, bulletins: dict[str, Path]) -> None:
    done = running.operator.run("library", "import", str(bulletins["mp3"]),
                                "--title", "Bão số 3 — sáng")
    # Progress: one line per stage the CLI saw while polling (stderr is a pipe here, not
    # a terminal). Polling may skip a short stage; the API test sees every one in events.
    lines = done.stderr.splitlines()
    assert lines[0] == "ban-tin.mp3: 0% đang tải tệp lên", done.stderr
    assert lines[-1] == "ban-tin.mp3: 100% đã nhập", done.stderr
    stages = {"đang chờ đến lượt": 0, "đang kiểm tra tệp": 5,
              "đang chuẩn hoá âm lượng và mã hoá": 40, "đang đo âm lượng": 80,
              "đang lưu vào thư viện": 95}
    seen = [line.removeprefix("ban-tin.mp3: ").split("% ", 1) for line in lines[1:-1]]
    assert all(stages[label] == int(percent) for percent, label in seen), done.stderr
    assert done.stdout.startswith("Đã thêm «Bão số 3 — sáng», số 1: 0:00:0"), done.stdout

    item = running.operator.json("library", "show", "1")
    assert item["title"] == "Bão số 3 — sáng"
    assert item["source_name"] == "ban-tin.mp3" and item["source_format"] == "mp3"
    assert item["imported_by"] == "admin" and item["commune"] == COMMUNE
    assert item["bitrate_bps"] == 24_000 and item["chime"] is False
    assert item["used_by"] == []

    path = stored_path(running, item["sha256"])
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == item["sha256"]
    assert item["size_bytes"] == len(data)
    info = media.stream_info(path)
    assert info == {"format": "ogg", "codec": "opus", "channels": 1, "sample_rate": 48000}
    measured = media.ebur128(path)
    assert abs(measured.integrated_lufs - -16.0) <= 1.0
    assert abs(item["integrated_lufs"] - measured.integrated_lufs) <= 0.5
    assert item["true_peak_dbtp"] <= -1.0 and measured.true_peak_dbtp <= -1.0
    probed = json.loads(media.run("ffprobe", "-v", "error", "-show_entries", "format=duration",
                                  "-of", "json", path).stdout)
    assert abs(item["duration_ms"] / 1000 - float(probed["format"]["duration"])) < 0.1
    # The speech is ~6 s; the 1 s lead and 1.5 s tail of silence were trimmed to 0.2 s.
    assert 4_000 < item["duration_ms"] < 9_000

    listed = running.operator.json("library", "list")
    assert [(i["id"], i["sha256"]) for i in listed] == [(1, item["sha256"])]
    assert running.operator.json("library", "show", item["sha256"][:10])["id"] == 1


def test_api_upload_is_a_job_whose_progress_is_published(
        running: Station, bulletins: dict[str, Path]) -> None:
    with EventTap(running.socket) as tap:
        response = running.upload(bulletins["m4a"], name="bản tin \"bão\" số 3.m4a",
                                  title="Bão số 3 (có nhạc hiệu)", chime="true")
        assert response.status_code == 202, response.text
        queued = response.json()  # as it stands when answered: a worker may have begun
        assert queued["state"] in ("queued", "processing") and queued["percent"] <= 5
        assert queued["name"] == "bản tin \"bão\" số 3.m4a"
        job = running.job(queued["id"])
        tap.wait_for(lambda e: e["kind"] == "library_item" and e["change"] == "added")
    assert job["state"] == "done" and job["outcome"] == "added" and job["percent"] == 100
    item = job["item"]
    assert item["chime"] is True and item["title"] == "Bão số 3 (có nhạc hiệu)"
    assert item["source_name"] == "bản tin \"bão\" số 3.m4a"

    progress = [e for e in tap.of_kind("library_import") if e["job_id"] == queued["id"]]
    assert progress[0]["state"] == "queued"
    assert [e["stage"] for e in progress if e["state"] == "processing"] == [
        "checking", "rendering", "measuring", "storing"]
    assert [e["percent"] for e in progress] == sorted(e["percent"] for e in progress)
    last = progress[-1]
    assert (last["state"], last["percent"], last["outcome"], last["sha256"], last["commune"],
            last["code"]) == ("done", 100, "added", item["sha256"], COMMUNE, None)
    # The chimes are aired around the speech: the item is longer than the plain one.
    plain = running.operator.json("library", "show", "1")
    assert item["duration_ms"] > plain["duration_ms"] + 2_000
    assert item["sha256"] != plain["sha256"]
    assert list(running.uploads.iterdir()) == []


def test_the_same_audio_twice_is_one_row_and_one_file(
        running: Station, bulletins: dict[str, Path], tmp_path: Path) -> None:
    rows, files = running.rows(), running.stored_files()
    first = running.operator.json("library", "show", "1")
    copy = tmp_path / "ban-tin-bao (1).mp3"
    shutil.copyfile(bulletins["mp3"], copy)

    done = running.operator.run("library", "import", str(copy))
    assert done.stdout.strip() == ("ban-tin-bao (1).mp3 đã có trong thư viện: "
                                   "«Bão số 3 — sáng» (số 1).")
    again = running.upload(bulletins["mp3"], title="Một tiêu đề khác")
    job = running.job(again.json()["id"])
    assert job["state"] == "done" and job["outcome"] == "duplicate"
    assert job["item"]["id"] == 1 and job["item"]["title"] == "Bão số 3 — sáng"
    assert job["item"]["sha256"] == first["sha256"]
    assert running.rows() == rows
    assert running.stored_files() == files


def test_json_output_of_an_import_is_the_list_of_jobs(running: Station,
                                                      other_bulletin: Path) -> None:
    jobs = running.operator.json("library", "import", str(other_bulletin))
    assert [(j["state"], j["outcome"], j["name"]) for j in jobs] == [
        ("done", "added", "tiem-phong.mp3")]
    assert jobs[0]["item"]["title"] == "tiem-phong"  # the file name, without extension
    recent = running.operator.json("library", "imports")
    assert recent[0]["id"] == jobs[0]["id"] and recent[0]["state"] == "done"
