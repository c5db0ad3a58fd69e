"""The image on a real Docker engine: `docker run` as the docs show it, against a local stack.

Every test produces seeded records and checks the tables exactly against the producer's
summary (trips and passengers per vendor, rejects by reason).  The containers use the
host network, so the emulators on loopback are at 127.0.0.1 as for any local program.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import socket

import pytest

from devkit.local import inspect
from devkit.local.fault_proxy import Action, FaultProxy
from tests import emf_spec
from tests.container import engine
from tests.container.conftest import Backend, alive

pytestmark = [pytest.mark.container, pytest.mark.integration, pytest.mark.e2e]

_n = itertools.count(1)
GRACE_MS = 20_000
STOP_TIMEOUT_S = 30

#: Signals the record processors (the JVM's children) from inside the container.
SIGNAL_PROCESSORS = """
import os, signal, sys
procs = {}
for p in filter(str.isdigit, os.listdir('/proc')):
    try:
        ppid = int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])
        procs[int(p)] = (ppid, open(f'/proc/{p}/cmdline', 'rb').read())
    except OSError:
        continue
jvms = {p for p, (_, cmd) in procs.items() if b'WorkerLauncher' in cmd}
kids = [p for p, (ppid, _) in procs.items() if ppid in jvms]
for k in kids:
    os.kill(k, getattr(signal, sys.argv[1]))
print(len(kids))
"""


#: Lists every Python module importable in the image, from the files on sys.path (nothing is
#: imported, so a module that fails to import is listed all the same).
LIST_MODULES = """
import pathlib, sys
mods = set()
for entry in sys.path:
    root = pathlib.Path(entry or '.')
    if not root.is_dir():
        continue
    for f in root.rglob('*.py'):
        parts = f.relative_to(root).with_suffix('').parts
        mods.add('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
print('\\n'.join(sorted(mods)))
"""
#: What is development tooling (the devkit package, and its parts under any name).
DEVELOPMENT = ("devkit", "fault_proxy", "chaos", "demo", "dynamodb_server", "class_archive", "reconcile")


def name() -> str:
    return f"kcl-{os.getpid()}-{next(_n)}"


def worker_ids(c: engine.Container) -> set[str]:
    """The lease owner names a container's workers announced (one per start)."""
    return {line.split()[1] for line in c.logs().splitlines() if line.startswith("worker: ")
            and " for stream " in line}


#: The events that end a record processor.
ENDS = {"shutdown_requested", "lease_lost", "shard_ended", "fatal"}


def running(events: list[dict]) -> set[str]:
    """Shards whose last processor in these events was initialized and has not ended."""
    last: dict[str, str] = {}
    for e in events:
        if "shard" in e and (e.get("event") == "initialize" or e.get("event") in ENDS):
            last[e["shard"]] = e["event"]
    return {s for s, ev in last.items() if ev == "initialize"}


def start(containers: list[engine.Container], backend: Backend, *flags: str, **env: str) -> engine.Container:
    c = engine.run(name(), "--network", "host", *flags,
                   env=backend.env(SHUTDOWN_GRACE_MILLIS=str(GRACE_MS), **env))
    containers.append(c)
    return c


def documented_run(doc: str, start: str = "docker run -d --name kcl-1 --network host") -> list[str]:
    """The `docker run` line a page shows for the local emulators, as arguments."""
    lines = doc.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    text = ""
    for line in lines[first:]:
        text += line.strip().rstrip("\\") + " "
        if not line.rstrip().endswith("\\"):
            break
    return shlex.split(text)


def from_the_docs(backend: Backend, container_name: str) -> list[str]:
    """The docs' line, pointed at this test's private stack and image; nothing else changed."""
    args = documented_run((engine.ROOT / "docs" / "docker.md").read_text())
    assert args == documented_run((engine.ROOT / "README.md").read_text()), "README and docs differ"
    assert args[:2] == ["docker", "run"] and args[-1] == "kinesis-aggs-consumer", args
    assert not any(a.startswith("WORKER_ID=") for a in args), "the docs give no WORKER_ID"
    out = []
    for a in args[2:-1]:
        a = a.replace("http://127.0.0.1:4567", backend.stack.kinesis_url)
        a = a.replace("http://127.0.0.1:4568", backend.stack.dynamodb_url)
        out.append(container_name if a == "kcl-1" else a)
    return ["run", *out[:1], "--label", engine.LABEL, *out[1:], engine.IMAGE]


def test_two_containers_as_the_docs_show_share_the_shards_and_docker_stop_hands_over(
        image: str, backend: Backend, containers: list[engine.Container]) -> None:
    backend.application = "kinesis-aggs-consumer"  # the default: the docs' line sets none
    a, b = engine.Container(name()), engine.Container(name())
    for c in (a, b):
        containers.append(c)
        engine.docker(*from_the_docs(backend, c.name))
    backend.produce(600)
    backend.wait_drained(180, check=alive(a, b))
    # no WORKER_ID given: the default id is unique per process even with the host's hostname
    backend.wait_until("2 owners with 2 leases each",
                       lambda: sorted(backend.owners().values()) == [2, 2], 60)
    ids_a, ids_b = worker_ids(a), worker_ids(b)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b, (ids_a, ids_b)
    assert set(backend.owners()) == ids_a | ids_b
    host = socket.gethostname()
    assert all(i.startswith(host + "-") for i in ids_a | ids_b), (host, ids_a, ids_b)
    backend.assert_exact()

    (id_a,) = ids_a
    held = {s for s, v in backend.leases().items() if v["owner"] == id_a}
    assert len(held) == 2
    # a lease just moved to a is not yet processing: stop only once a runs both processors
    backend.wait_until("a's record processors run on the shards it holds",
                       lambda: held <= running(a.events()), 60)
    before = a.events()
    took = a.stop(STOP_TIMEOUT_S)
    state = a.state()
    assert state["ExitCode"] == 0, a.logs()[-3000:]
    assert took < GRACE_MS / 1000, took
    # every processor a ran when it was stopped (the leases table may already name b for a
    # lease that a is still handing over) ended with shutdown_requested and a checkpoint
    after = a.events()[len(before):]
    shut = {e["shard"] for e in after if e.get("event") == "shutdown_requested"}
    assert running(before) and running(before) <= shut, (held, running(before), shut, a.logs()[-4000:])
    assert running(a.events()) == set(), a.logs()[-4000:]
    # the EMF metric lines leave the container as whole, unprefixed JSON objects (one log
    # event each for the awslogs driver), at least the final report of each processor: a's
    # leases may have moved to it after the drain, so its processors may have counted nothing,
    # and their final report is written all the same (docs/metrics.md)
    emf = [line for line in a.stderr_lines() if '"_aws"' in line]
    assert len(emf) >= len(shut), emf
    docs = [json.loads(line) for line in emf]  # a prefix or a wrapper would not parse
    assert [p for d in docs for p in emf_spec.problems(d)] == []
    last_count = {(e["shard"], e["pid"]): e["records_in"] for e in a.events() if "records_in" in e}
    assert sum(d.get("RecordsIn", 0) for d in docs) == sum(last_count.values())
    # the final checkpoints hold: every shard is still checkpointed at its last record (a
    # processor that got its lease after the drain had nothing new to checkpoint)
    assert inspect.behind(backend.ddb, backend.application, backend.summary.to_json()) == {}
    (id_b,) = ids_b
    backend.wait_until("b holds all 4 leases", lambda: backend.owners() == {id_b: 4}, 60)
    backend.produce(400)
    backend.wait_drained(120, check=alive(b))
    backend.assert_exact()


def test_the_runtime_image_holds_the_product_and_no_development_tools(image: str) -> None:
    r = engine.docker("run", "--rm", "--entrypoint", "python", image, "-c", LIST_MODULES)
    mods = r.stdout.split()
    ours = [m for m in mods if m.split(".")[0] in ("consumer_app", "producer", "devkit")]
    assert "consumer_app.processor" in ours and "consumer_app.finality" in ours, ours
    dev = [m for m in mods if set(m.split(".")) & set(DEVELOPMENT)]
    assert dev == [], dev
    print(f"runtime image: {len(mods)} Python modules, {len(ours)} of the project's, none for development")
    helped = engine.docker("run", "--rm", image, "--help").stdout
    commands = helped.split("{", 1)[1].split("}", 1)[0].split(",")
    assert commands == ["run", "health", "finalize", "windows"], helped


def test_crashes_kill_sigkill_and_restart_on_failure_resume_from_the_checkpoint(
        image: str, backend: Backend, containers: list[engine.Container]) -> None:
    a = start(containers, backend, "--restart", "on-failure")
    b = start(containers, backend, "--restart", "on-failure")
    backend.produce(400)
    backend.wait_drained(180, check=alive(a, b))
    (id_b,) = worker_ids(b)

    # `docker kill`: Docker treats it as a manual stop and does not restart the container
    engine.docker("kill", a.name)
    backend.wait_until("b takes a's shards", lambda: backend.owners() == {id_b: 4}, 90)
    state = a.state()
    assert not state["Running"] and a.inspect("{{.RestartCount}}") == "0", state

    # SIGKILL to the container's main process (tini, PID 1) from the host: a failure, so
    # `--restart on-failure` brings it back, and it resumes from the checkpoints
    checkpoints = {s: v["checkpoint"] for s, v in backend.leases().items()}
    os.kill(int(b.inspect("{{.State.Pid}}")), signal.SIGKILL)
    backend.wait_until("Docker restarts b", lambda: b.inspect("{{.RestartCount}}") == "1", 60)
    backend.produce(400)
    backend.wait_drained(180, check=alive(b))
    resumed = [e for e in b.events() if e.get("event") == "initialize"
               and e["worker"] != id_b]
    assert {e["shard"] for e in resumed} == set(checkpoints)
    assert {e["shard"]: e["from_sequence"] for e in resumed} == checkpoints
    backend.assert_exact()


def test_dynamodb_unreachable_past_the_retry_budget_blocks_each_shard_and_the_container_waits(
        image: str, backend: Backend, containers: list[engine.Container]) -> None:
    proxy = FaultProxy(backend.stack.dynamodb_port).start()
    try:
        c = start(containers, backend, "--restart", "on-failure", "--health-interval", "2s",
                  AWS_ENDPOINT_URL_DYNAMODB=proxy.url, RETRY_MAX_SECONDS="4", RETRY_MAX_ATTEMPTS="100")
        backend.produce(300)
        backend.wait_drained(180, check=alive(c))
        proxy.set_rule(lambda op, body, n: Action("outage"))
        backend.produce(300)
        backend.wait_until("a shard blocks",
                           lambda: any(e.get("event") == "blocked" for e in c.events()), 120)
        backend.wait_until("the health report names the blocked shard",
                           lambda: "blocked" in c.exec("python", "-m", "consumer_app", "health").stdout, 60)
        assert c.state()["Running"] and c.inspect("{{.RestartCount}}") == "0"
        proxy.set_rule(None)
        backend.wait_drained(240, check=alive(c))
        backend.assert_exact()
        events = c.events()
        assert any(e.get("event") == "unblocked" for e in events)
        assert not [e for e in events if e.get("event") == "fatal"]
        assert c.inspect("{{.RestartCount}}") == "0"  # nothing ended: the shards waited
    finally:
        proxy.stop()


def test_health_as_docker_reports_it(image: str, backend: Backend,
                                     containers: list[engine.Container]) -> None:
    c = start(containers, backend, "--health-interval", "2s", "--health-retries", "2",
              HEALTH_MAX_AGE_SECONDS="6")
    assert c.health() == "starting"
    backend.produce(300)
    c.wait_health("healthy", 120)
    backend.wait_drained(120, check=alive(c))
    frozen = c.exec("python", "-c", SIGNAL_PROCESSORS, "SIGSTOP")
    assert frozen.returncode == 0 and int(frozen.stdout) == 4, frozen.stderr
    c.wait_health("unhealthy", 60)
    log = c.state()["Health"]["Log"][-1]
    assert log["ExitCode"] == 1 and "without progress" in log["Output"], log
    thawed = c.exec("python", "-c", SIGNAL_PROCESSORS, "SIGCONT")
    assert thawed.returncode == 0, thawed.stderr
    c.wait_health("healthy", 60)
    backend.produce(200)
    backend.wait_drained(120, check=alive(c))
    backend.assert_exact()


def test_hardened_run_read_only_no_capabilities_memory_limit(
        image: str, backend: Backend, containers: list[engine.Container]) -> None:
    c = start(containers, backend, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
              "--security-opt", "no-new-privileges", "--memory", "1g")
    backend.produce(400)
    backend.wait_drained(180, check=alive(c))
    backend.assert_exact()
    assert c.exec("id", "-u").stdout.strip() == "10001"
    assert c.exec("id", "-G").stdout.strip() == "10001", "the user's only group is its own"
    setuid = c.exec("find", "/", "-xdev", "-type", "f", "-perm", "/6000").stdout.strip()
    assert setuid == "", f"setuid or setgid files: {setuid}"
    assert c.exec("touch", "/app/x").returncode != 0, "the root file system is writable"
    # the JVM sizes its heap from the container's limit (JAVA_OPTS: MaxRAMPercentage=60)
    flags = c.exec("sh", "-c", 'java $JAVA_OPTS -XX:+PrintFlagsFinal -version')
    heap = next(int(line.split()[3]) for line in flags.stdout.splitlines() if " MaxHeapSize " in line)
    assert 0.55 * 2**30 <= heap <= 0.61 * 2**30, heap
    _, _, limit = engine.docker("stats", "--no-stream", "--format", "{{.MemUsage}}",
                                   c.name).stdout.strip().partition(" / ")
    assert limit == "1GiB", limit
    took = c.stop(STOP_TIMEOUT_S)
    assert c.state()["ExitCode"] == 0 and took < GRACE_MS / 1000, (took, c.logs()[-2000:])


def test_the_finalizer_and_windows_lines_of_the_docs_run(image: str, backend: Backend,
                                                         containers: list[engine.Container]) -> None:
    """docs/docker.md's finalizer container and one-off ``windows`` container, as written
    (endpoints pointed at this test's stack): the finalizer passes, ``windows`` answers."""
    doc = (engine.ROOT / "docs" / "docker.md").read_text()

    def local(args: list[str]) -> list[str]:
        return [a.replace("http://127.0.0.1:4567", backend.stack.kinesis_url)
                .replace("http://127.0.0.1:4568", backend.stack.dynamodb_url) for a in args]

    fin = local(documented_run(doc, "docker run -d --name kcl-finalizer "))
    assert fin[-2:] == ["kinesis-aggs-consumer", "finalize"] and "--no-healthcheck" in fin, fin
    c = engine.Container(name())
    containers.append(c)
    engine.docker("run", "-d", "--name", c.name, "--label", engine.LABEL,
                  *fin[fin.index("kcl-finalizer") + 1:-2], engine.IMAGE, "finalize")
    backend.wait_until("the finalizer reports a pass", lambda: any(
        '"WindowsFinalized"' in line for line in c.stderr_lines()), 60)
    assert c.state()["Running"] and c.health() == "none", c.logs()[-2000:]
    assert c.stop(STOP_TIMEOUT_S) < 5 and c.state()["ExitCode"] == 0, c.logs()[-2000:]

    report = local(documented_run(doc, "docker run --rm --network host "))
    assert report[-2:] == ["kinesis-aggs-consumer", "windows"], report
    r = engine.docker(*report[1:-2], "--label", engine.LABEL, engine.IMAGE, "windows", "--json")
    doc_out = json.loads(r.stdout)
    assert set(doc_out) == {"globalWatermark", "finalThrough", "waitingFor", "windows"}, doc_out
