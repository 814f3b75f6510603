"""The cache state a real agent reports is its cache (issue 5 item 5: "the cache state in
telemetry"), as the station receives it.

A real station (``loaxa controller run``) and a real agent process enrolled with its own
CLI; bulletins imported through the library and pinned for the commune, so the agent
derives what it needs from its plan. The station's view of the agent's telemetry
(``GET /agents/{id}/telemetry``) is compared, at each step, with the agent's cache
directory on disk:

1. both pinned items fetched: 2 items, their bytes, the configured quota, none missing;
2. a third item pinned whose file the station has lost: still 2 items, 1 missing;
3. the agent stopped, a byte flipped in one cached item and the station's copy of it
   gone too: at start the agent drops the corrupt file, so 1 item, 2 missing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.broadcaster import MB
from tests.library import media
from tests.libraryops.station import COMMUNE, Station, enrol, imported, station
from tests.support.agent_process import FAST, AgentProcess, ProvisionedAgent

pytestmark = pytest.mark.e2e
QUOTA_MB = 32


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with station(tmp_path_factory.mktemp("telemetry-station")) as running:
        yield running


def recording(folder: Path, name: str, text: str) -> Path:
    speech = media.speak(text, folder / f"{name}.wav")
    return media.padded_master(speech, folder / f"{name}-master.wav")


def on_disk(data_dir: Path) -> dict[str, int]:
    """The agent's cached items as files: sha256 -> size (every file hashes to its name)."""
    found = {}
    for path in (data_dir / "cache" / "items").iterdir():
        found[path.name] = path.stat().st_size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    return found


def settled(read: Callable[[], dict[str, Any]], want: dict[str, int],
            timeout_s: float = 60.0) -> dict[str, Any]:
    """The cache fields of the telemetry once they read ``want`` (or the last seen)."""
    deadline = time.monotonic() + timeout_s
    while True:
        cache = read()
        if {k: cache.get(k) for k in want} == want or time.monotonic() > deadline:
            return cache
        time.sleep(0.2)


def test_the_station_receives_the_agents_cache_state(running: Station,
                                                     tmp_path: Path) -> None:
    items = [imported(running, recording(tmp_path, name, text), title)
             for name, text, title in (
                 ("bao", "Bão số ba đang vào gần bờ.", "Tin bão"),
                 ("lu", "Nước sông đang lên, bà con chú ý.", "Tin lũ"),
                 ("tiem", "Lịch tiêm phòng cho trẻ em tháng này.", "Tiêm phòng"))]
    first, second, third = items
    enrolled = enrol(running, tmp_path / "agent")
    agent = AgentProcess(ProvisionedAgent(enrolled.agent_id, COMMUNE, enrolled.data_dir,
                                          enrolled.config),
                         settings={**FAST, "cache__quota_mb": str(QUOTA_MB)})

    def cache() -> dict[str, Any]:
        with running.client() as client:
            answer = client.get(f"/v1/agents/{enrolled.agent_id}/telemetry")
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["telemetry"].get("cache") or {})

    def pin(item: dict[str, Any]) -> None:
        running.operator.json("schedule", "pin", item["sha256"])

    pin(first)
    pin(second)
    agent.start()
    try:
        # 1. Everything it needs is cached.
        both = first["size_bytes"] + second["size_bytes"]
        seen = settled(cache, {"items": 2, "bytes": both, "missing": 0})
        assert seen == {"items": 2, "bytes": both, "quota_bytes": QUOTA_MB * MB,
                        "missing": 0}, agent.log_text()[-3000:]
        assert on_disk(enrolled.data_dir) == {first["sha256"]: first["size_bytes"],
                                              second["sha256"]: second["size_bytes"]}

        # 2. A needed item the station cannot serve: counted as missing, nothing else moves.
        stored = running.content / third["sha256"][:2] / f"{third['sha256']}.opus"
        stored.rename(tmp_path / "lost.opus")
        pin(third)
        seen = settled(cache, {"items": 2, "missing": 1})
        assert (seen["items"], seen["bytes"], seen["missing"]) == (2, both, 1), \
            agent.log_text()[-3000:]
        assert len(on_disk(enrolled.data_dir)) == 2

        # 3. A corrupted cached item, found at start (and the station's copy gone too, so
        #    it cannot come straight back): the agent reports what it really holds.
        assert agent.terminate() == 0
        damaged = enrolled.data_dir / "cache" / "items" / first["sha256"]
        data = bytearray(damaged.read_bytes())
        data[len(data) // 2] ^= 0x01
        damaged.write_bytes(bytes(data))
        stored = running.content / first["sha256"][:2] / f"{first['sha256']}.opus"
        stored.rename(tmp_path / "also-lost.opus")
        agent.start()
        seen = settled(cache, {"items": 1, "missing": 2})
        assert (seen["items"], seen["bytes"], seen["missing"]) == (
            1, second["size_bytes"], 2), agent.log_text()[-3000:]
        assert on_disk(enrolled.data_dir) == {second["sha256"]: second["size_bytes"]}
        assert "corrupt" in agent.log_text()
    finally:
        if agent.alive:
            agent.terminate()
