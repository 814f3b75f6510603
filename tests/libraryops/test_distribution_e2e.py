"""Library items reaching a real agent from the station's own content service.

The agent is enrolled with its own CLI (``python -m agent enroll``), and fetches with
``agent.fetcher.Fetcher`` using the key the enrolment created and the endpoint and
server key the station handed it. Items are imported through the station's CLI, so the
whole way is real: import -> content store -> content service (the station's ZAP,
CURVE keys from the database) -> agent cache, sha256-verified. The egress cap comes from
the station's settings and is visible in the transfer's pace; the operator watches the
transfer in ``library transfers``; a revoked agent gets nothing more.
"""

from __future__ import annotations

import hashlib
import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cache import Cache
from agent.fetcher import Fetcher, ItemState
from agent.identity import load_or_create_identity
from tests.content.support import FAST, air_in, cached_intact, wait_until

from .station import COMMUNE, EventTap, Station, enrol, imported, station

pytestmark = pytest.mark.e2e
EGRESS_KBPS = 64  # 8 kB/s, so a 40 s bulletin takes several seconds past the burst
BURST_BYTES = 4 * 16 * 1024  # the service's token bucket starts full


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    with station(tmp_path_factory.mktemp("distribution-station"),
                 daemon_env={"LOAXA_DATAPLANE__EGRESS_KBPS": str(EGRESS_KBPS)}) as running:
        yield running


def state_of(fetcher: Fetcher, sha: bytes) -> ItemState | None:
    return next((i.state for i in fetcher.status().items if i.content == sha), None)


def test_an_enrolled_agent_fetches_imported_items_and_a_revoked_one_cannot(
        running: Station, bulletins: dict[str, Path], other_bulletin: Path,
        long_bulletin: Path, tmp_path: Path) -> None:
    agent = enrol(running, tmp_path / "agent")
    # The endpoint handed out at enrolment is the port the content service listens on.
    config = tomllib.loads((running.root / "loaxa.toml").read_text())
    assert agent.endpoint == f"tcp://127.0.0.1:{config['dataplane']['content_port']}"
    assert running.operator.json("library", "transfers")["endpoint"] == \
        f"tcp://127.0.0.1:{config['dataplane']['content_port']}"

    short = imported(running, bulletins["mp3"], "Bản tin ngắn")
    long = imported(running, long_bulletin, "Bản tin dài")
    later = imported(running, other_bulletin, "Tiêm phòng")
    damaged = imported(running, bulletins["m4a"], "Hỏng trên đĩa")
    assert long["size_bytes"] > BURST_BYTES + 4 * EGRESS_KBPS * 125  # >= 4 s at the cap
    identity = load_or_create_identity(agent.data_dir / "agent.key")
    cache = Cache(agent.data_dir / "cache", 50_000_000)
    first, big, third = (bytes.fromhex(i["sha256"]) for i in (short, long, later))
    missing = hashlib.sha256(b"never imported").digest()

    with EventTap(running.socket) as tap, \
            Fetcher(agent.endpoint, agent.server_key, identity, cache, config=FAST) as fetcher:
        fetcher.want({first: air_in(3600)})
        assert wait_until(lambda: cache.has(first), timeout_s=30), fetcher.status()
        assert cached_intact(cache, first)
        path = cache.path(first)
        assert path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == \
            short["sha256"]

        # A long one: the operator sees it on its way, at the station's egress cap. It
        # airs in 5 s, sooner than the cap allows it to arrive: the operator is alerted.
        started = time.monotonic()
        fetcher.want({first: air_in(3600), big: air_in(5)})
        seen: list[dict[str, Any]] = []

        def sending() -> bool:
            report = running.operator.json("library", "transfers")
            seen.extend(t for t in report["transfers"] if t["state"] == "sending")
            return bool(seen) or cache.has(big)

        assert wait_until(sending, timeout_s=30, every_s=0.3)
        assert seen, "the transfer was never seen in progress"
        assert (seen[0]["agent_id"], seen[0]["sha256"], seen[0]["title"],
                seen[0]["size_bytes"]) == (agent.agent_id, long["sha256"], "Bản tin dài",
                                           long["size_bytes"])
        assert 0 <= seen[0]["percent"] < 100
        assert wait_until(lambda: cache.has(big), timeout_s=60)
        elapsed = time.monotonic() - started
        at_cap = (long["size_bytes"] - BURST_BYTES) / (EGRESS_KBPS * 125)
        assert elapsed >= 0.7 * at_cap, (elapsed, at_cap)
        assert cached_intact(cache, big)
        stats = running.operator.json("library", "transfers")["stats"]
        assert stats["completed"] >= 2
        late = tap.wait_for(lambda e: e["kind"] == "content_late")
        assert [(e["agent_id"], e["sha256"]) for e in late] == [(agent.agent_id,
                                                                 long["sha256"])]

        # An item the library does not have: the agent is told, the operator alerted.
        fetcher.want({first: air_in(3600), big: air_in(3600), missing: air_in(600)})
        assert wait_until(lambda: state_of(fetcher, missing) is ItemState.NOT_FOUND)
        alert = tap.wait_for(lambda e: e["kind"] == "content_not_found")[0]
        assert (alert["agent_id"], alert["sha256"], alert["commune"]) == (
            agent.agent_id, missing.hex(), COMMUNE)

        # A stored file that no longer matches its name (a failing disk): not served.
        stored = running.content / damaged["sha256"][:2] / f"{damaged['sha256']}.opus"
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 0x01
        stored.write_bytes(bytes(data))
        rotten = bytes.fromhex(damaged["sha256"])
        fetcher.want({first: air_in(3600), big: air_in(3600), rotten: air_in(600)})
        assert wait_until(lambda: state_of(fetcher, rotten) is ItemState.NOT_FOUND)
        alert = tap.wait_for(lambda e: e["kind"] == "content_corrupt")[0]
        assert (alert["agent_id"], alert["sha256"]) == (agent.agent_id, damaged["sha256"])
        assert not cache.has(rotten)

        # Revoked: nothing more, on the connection it already has, once the service's
        # key cache (one second) and its per-agent verdicts (one second) have expired.
        running.operator.json("agents", "revoke", agent.agent_id, "--yes")
        time.sleep(2.5)
        fetcher.want({first: air_in(3600), big: air_in(3600), third: air_in(600)})
        assert wait_until(lambda: state_of(fetcher, third) is ItemState.DENIED,
                          timeout_s=30), fetcher.status().items
        time.sleep(1.0)
        assert not cache.has(third) and not cache.partial_size(third)

    # A fresh connection with the revoked key is refused at the handshake.
    cache2 = Cache(tmp_path / "cache2", 50_000_000)
    with Fetcher(agent.endpoint, agent.server_key, identity, cache2, config=FAST) as again:
        again.want({first: air_in(3600)})
        assert wait_until(lambda: state_of(again, first) is ItemState.DENIED, timeout_s=30)
        assert not cache2.has(first)
    assert os.listdir(running.uploads) == []
