"""The container health rule and its heartbeat files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from consumer_app import health
from consumer_app.health import Beat, decide


def test_decide() -> None:
    assert decide(False, [], 60) == (False, "unhealthy: the MultiLangDaemon is not running")
    assert decide(True, [], 60)[0] is True  # no lease yet: waiting, not stuck
    assert decide(True, [Beat("s1", True, 5.0), Beat("s2", True, 10.0)], 60)[0] is True
    ok, why = decide(True, [Beat("s1", True, 5.0), Beat("s2", True, 61.0)], 60)
    assert not ok and "s2 for 61s" in why
    assert decide(True, [Beat("s1", False, 999.0)], 60)[0] is True  # a dead processor's leftover


def test_check_with_real_files(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / health.DAEMON_PID).write_text(str(sleeper.pid))
        assert health.check(tmp_path, 30)[0] is True
        health.beat(tmp_path, "shardId-000000000001")  # this test process is the "processor"
        assert health.check(tmp_path, 30)[0] is True
        beat = tmp_path / "shardId-000000000001.beat"
        old = time.time() - 100
        os.utime(beat, (old, old))
        ok, why = health.check(tmp_path, 30)
        assert not ok and "shardId-000000000001" in why
        health.stop_beating(tmp_path, "shardId-000000000001")
        assert not beat.exists() and health.check(tmp_path, 30)[0] is True
    finally:
        sleeper.kill()
        sleeper.wait()
    assert health.check(tmp_path, 30) == (False, "unhealthy: the MultiLangDaemon is not running")


def test_missing_pid_file(tmp_path: Path) -> None:
    ok, why = health.check(tmp_path, 30)
    assert not ok and "daemon.pid" in why
