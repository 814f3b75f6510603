"""``loaxa backup restore`` against a real ``loaxa controller run``: refused while the
controller answers, then, once it is stopped, the same old backup restored twice and an
extra bump: the signing epoch is above the one the controller last used every time."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from controller.cli.errors import EXIT_REFUSED
from tests.support.station_process import running_station

pytestmark = pytest.mark.e2e


def test_restore_is_refused_while_the_controller_runs(tmp_path: Path) -> None:
    with running_station(tmp_path) as (operator, daemon, log):
        backup = operator.json("backup", "now")
        path = str(tmp_path / "data" / "backups" / backup["name"])
        epoch = operator.json("keys", "list", "xa-demo")["epoch"]

        refused = operator.run("backup", "restore", path, "--yes", check=False)
        assert refused.returncode == EXIT_REFUSED, refused.stderr
        assert "Bộ điều khiển đang chạy" in refused.stderr
        assert operator.run("backup", "restore", path, "--yes", "--json",
                            check=False).returncode == EXIT_REFUSED
        assert operator.json("keys", "list", "xa-demo")["epoch"] == epoch  # untouched
        assert not list((tmp_path / "data").glob("loaxa.db.before-restore-*"))
        assert operator.json("whoami")["username"] == "admin"  # still serving

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, log.read_text()

        # The positive control: stopped, the same command restores.
        seen = epoch
        for _ in range(2):  # the same backup twice: above the last epoch each time
            restored = operator.json("backup", "restore", path, "--yes")
            assert restored["history_known"]
            assert restored["epochs"]["xa-demo"] > seen, (restored, seen)
            seen = restored["epochs"]["xa-demo"]
        assert seen == epoch + 2
        assert operator.json("backup", "bump-epoch") == {"epochs": {"xa-demo": epoch + 3}}
        again = operator.json("backup", "restore", path, "--yes")
        assert again["epochs"] == {"xa-demo": epoch + 4}
        assert len(list((tmp_path / "data").glob("loaxa.db.before-restore-*"))) == 3
