"""Run the final stage's exact ENTRYPOINT + CMD (read from the Dockerfile) on this machine.

No Docker engine here, so the container is imitated: the image's ENV with its paths mapped
to this checkout, a non-root user (setpriv to nobody when the tests run as root), the local
emulators behind the documented variables.  Checked: the worker processes records; the
HEALTHCHECK command says healthy while it works and unhealthy when progress stops; SIGTERM
to PID 1 (tini) gives shutdown_requested and a final checkpoint, and exit status 0 within
the shutdown grace.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer_app.local import inspect, stack
from producer.__main__ import parse_args, run
from producer.summary import Summary
from tests.container.dockerfile import ROOT, exec_form, healthcheck_command, stages

pytestmark = [pytest.mark.container, pytest.mark.integration, pytest.mark.e2e]

GRACE_MS = 10_000
MAX_AGE_S = 6


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[stack.Stack]:
    st = stack.private_stack(tmp_path / "emulators", shards=2)
    try:
        st.start()
        yield st
    finally:
        st.stop()


def container_env(st: stack.Stack, tmp: Path) -> dict[str, str]:
    final = stages()[-1]
    java = shutil.which("java")
    assert java
    java_home = str(Path(os.path.realpath(java)).parents[1])
    writable = {"/tmp/kcl-run": tmp / "run", "/tmp/kcl-health": tmp / "health"}
    for d in writable.values():
        d.mkdir(mode=0o777)
        d.chmod(0o777)
    mapping = {"/opt/java/openjdk": java_home, "/app/jars": str(ROOT / "build" / "jars"),
               "/app/launcher": str(ROOT / "build" / "launcher"),
               "/app/properties": str(ROOT / "properties"), **{k: str(v) for k, v in writable.items()}}
    env = {}
    for key, value in final.env().items():
        for container_path, local_path in mapping.items():
            value = value.replace(container_path, local_path)
        env[key] = value
    # the image's python is first on its PATH; here that is the project's venv
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["HOME"] = str(tmp)
    env["TINI_SUBREAPER"] = "1"  # tini is not PID 1 here; in the container it is
    env.update({  # what a user passes with `docker run -e` for the local emulators
        "AWS_REGION": stack.REGION, "AWS_ACCESS_KEY_ID": stack.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": stack.SECRET_KEY, "AWS_ENDPOINT_URL_KINESIS": st.kinesis_url,
        "AWS_ENDPOINT_URL_DYNAMODB": st.dynamodb_url, "KCL_PROFILE": "local",
        "APPLICATION_NAME": f"container-{int(time.time())}", "SHUTDOWN_GRACE_MILLIS": str(GRACE_MS),
        "HEALTH_MAX_AGE_SECONDS": str(MAX_AGE_S), "STATS_INTERVAL_SECONDS": "2",
    })
    return env


def as_container_user(env: dict[str, str]) -> list[str]:
    """setpriv to nobody, like the image's non-root USER, when this machine allows it.

    It does not when the venv's python lives under a home that only root can enter (a
    pyenv install in /root, as on the CI machine): then the test runs as the current user.
    """
    if os.getuid() != 0 or not shutil.which("setpriv"):
        return []
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    probe = subprocess.run([*prefix, "python", "-c", "import consumer_app"], env=env, cwd="/",
                           capture_output=True)
    return prefix if probe.returncode == 0 else []


def test_entrypoint_processes_reports_health_and_stops_gracefully(local_stack: stack.Stack,
                                                                   tmp_path: Path) -> None:
    if not shutil.which("tini"):
        pytest.skip("tini is not installed (make setup installs it with apt-get as root)")
    final = stages()[-1]
    command = exec_form(final.last("ENTRYPOINT")) + exec_form(final.last("CMD"))  # type: ignore[operator]
    health_cmd = healthcheck_command(final.last("HEALTHCHECK") or "")
    assert command and health_cmd
    env = container_env(local_stack, tmp_path)
    tmp_path.chmod(0o755)
    user = as_container_user(env)
    out, err = open(tmp_path / "stdout.log", "wb"), open(tmp_path / "stderr.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(user + command, env=env, cwd=tmp_path, stdout=out, stderr=err,
                            start_new_session=True)

    def health() -> tuple[int, str]:
        r = subprocess.run(user + health_cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout.strip()

    try:
        summary = Summary()
        run(parse_args(["--stream", local_stack.stream, "--count", "400", "--seed", "5", "--quiet",
                        "--unclean-ratio", "0.1"]), summary, local_stack.client("kinesis"))
        left = inspect.wait_drained(local_stack.client("dynamodb"), env["APPLICATION_NAME"],
                                    summary.to_json(), timeout_s=180)
        assert left == {}, f"not processed: {left}; logs in {tmp_path}"
        assert proc.poll() is None

        code, why = health()
        assert code == 0 and why.startswith("healthy: 2 shard(s) processing"), why

        jvm = [p for p in _children(proc.pid)]  # tini's child: python exec'd into the JVM
        assert len(jvm) == 1 and "WorkerLauncher" in Path(f"/proc/{jvm[0]}/cmdline").read_text()
        processors = _children(jvm[0])
        assert len(processors) == 2
        for p in processors:  # progress stops: the record processors freeze
            os.kill(p, signal.SIGSTOP)
        time.sleep(MAX_AGE_S + 3)
        code, why = health()
        assert code == 1 and "without progress" in why, why
        for p in processors:
            os.kill(p, signal.SIGCONT)
        time.sleep(3)
        assert health()[0] == 0

        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends to PID 1
        status = proc.wait(timeout=GRACE_MS / 1000 + 20)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
        err.close()

    assert status == 0, f"exit status {status}; logs in {tmp_path}"
    assert elapsed < GRACE_MS / 1000 + 5, elapsed
    events = [json.loads(line) for line in (tmp_path / "stderr.log").read_text().splitlines()
              if line.startswith("{")]
    shut = [e for e in events if e.get("event") == "shutdown_requested"]
    assert {e["shard"] for e in shut} == set(summary.to_json()["shards"])
    assert all(e["checkpoint"] != "None" for e in shut)
    code, why = health()
    assert code == 1 and "not running" in why
