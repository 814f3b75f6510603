"""The PortAudio sink (``SoundDeviceSink``) on a real PortAudio stream.

No sound card here nor in CI, and PortAudio has no dummy host API in Debian's build: the
stream runs on ALSA's ``null`` PCM, declared in a throwaway ``~/.asoundrc`` for a child
process, through PortAudio's ALSA host API like any device. That PCM takes samples as
fast as they come rather than at 48 kHz, so this checks the plumbing — open, the
callback copying our FIFO in order, anchors, underruns, close, a clear error for a
device that does not exist — not timing (the clocked fake sink's tests do that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ASOUNDRC = """
pcm.loaxa_null {
    type null
    hint { show on description "loaxa tests: discards samples" }
}
"""

SCRIPT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from agent.playout.sinks import SoundDeviceSink
from agent.playout.sinks.base import SinkError
from protocols.clock import SystemClock

class Tapped(SoundDeviceSink):
    # what the callback handed PortAudio, in order
    heard = bytearray()

    def _callback(self, outdata, frames, time_info, status):
        super()._callback(outdata, frames, time_info, status)
        Tapped.heard += bytes(outdata)

clock = SystemClock(trust="always")
out = {}
try:
    SoundDeviceSink(clock, device="loaxa-no-such-card").open()
    out["bad"] = None
except SinkError as exc:
    out["bad"] = str(exc)
sink = Tapped(clock, device="loaxa_null")
out["name"] = sink.name
sink.open()
pcm = b"".join(i.to_bytes(2, "little", signed=True) for i in range(1, 4801))  # 100 ms ramp
before = clock.monotonic_ns()
out["accepted"] = sink.write(pcm)
deadline = time.monotonic() + 10
while sink.presented_at(4799) is None and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.05)  # the device keeps pulling: from now on it finds the FIFO empty
out["first_at"] = sink.presented_at(0)
out["last_at"] = sink.presented_at(4799)
out["before"] = before
anchor = sink.timing()
out["anchor"] = None if anchor is None else list(anchor)
out["underruns"] = sink.underruns()
out["written"] = sink.frames_written()
sink.close()
heard = bytes(Tapped.heard)
start = heard.find(pcm[:20])
out["in_order"] = start >= 0 and heard[start:start + len(pcm)] == pcm
out["silence_after"] = heard[start + len(pcm):start + len(pcm) + 960] == bytes(960)
print(json.dumps(out))
"""


def test_the_sink_plays_our_frames_through_a_real_portaudio_stream(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text(ASOUNDRC)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["bad"] is not None and out["bad"].startswith(
        "cannot open alsa:loaxa-no-such-card"), out["bad"]
    assert out["name"] == "alsa:loaxa_null"
    assert out["accepted"] == 4800 and out["written"] == 4800
    assert out["in_order"] and out["silence_after"]  # our frames, then zeros, never junk
    # presentation stamps on the engine clock, in frame order, after the write
    assert out["first_at"] is not None and out["last_at"] is not None
    assert out["before"] - 10**9 < out["first_at"] <= out["last_at"]
    frame, _mono, epoch = out["anchor"]
    assert 0 <= frame < 4800 and epoch >= 0
    assert out["underruns"] >= 1  # the device kept pulling an empty FIFO, and said so
