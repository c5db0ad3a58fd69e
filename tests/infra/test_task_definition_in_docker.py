"""The ECS task definition, run locally: the synthesized container definition becomes
`docker run` flags for the locally built image, plus only the emulator endpoints and
credentials.  It must turn healthy, process records exactly and stop cleanly within its
stopTimeout: the CDK app and the image agree."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from devkit.local import stack
from tests.container import engine
from tests.container.conftest import Backend, alive, backend, containers, docker_engine, image  # noqa: F401
from tests.support.cfn import Synth

pytestmark = [pytest.mark.infra, pytest.mark.container, pytest.mark.integration, pytest.mark.e2e]


def resolve(value: Any) -> str:
    """A literal, or the one token a task environment holds here: the stack's region."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Region"}:
        return stack.REGION
    raise AssertionError(f"an environment value this test cannot resolve: {value}")


def docker_flags(task: dict[str, Any],
                 container: dict[str, Any]) -> tuple[list[str], list[str], dict[str, str]]:
    """(flags, command, environment) that make `docker run` what ECS would run."""
    flags: list[str] = []
    if "EntryPoint" in container:
        flags += ["--entrypoint", shlex.join(container["EntryPoint"])]
    env = {e["Name"]: resolve(e["Value"]) for e in container.get("Environment", [])}
    health = container["HealthCheck"]
    kind, *cmd = health["Command"]
    assert kind in ("CMD", "CMD-SHELL"), health
    flags += ["--health-cmd", shlex.join(cmd) if kind == "CMD" else cmd[0],
              "--health-interval", f"{health['Interval']}s", "--health-timeout", f"{health['Timeout']}s",
              "--health-retries", str(health["Retries"]), "--health-start-period",
              f"{health['StartPeriod']}s"]
    flags += ["--stop-timeout", str(container["StopTimeout"])]
    if "User" in container:
        flags += ["--user", container["User"]]
    capabilities = container.get("LinuxParameters", {}).get("Capabilities", {})
    flags += [f"--cap-drop={c}" for c in capabilities.get("Drop", [])]
    flags += [f"--cap-add={c}" for c in capabilities.get("Add", [])]
    if container.get("ReadonlyRootFilesystem"):
        flags.append("--read-only")
    volumes = {v["Name"]: v for v in task.get("Volumes", [])}
    for mount in container.get("MountPoints", []):
        # a volume without a host path is Fargate task storage: here an anonymous volume
        assert "Host" not in volumes[mount["SourceVolume"]], volumes
        flags += ["--mount", f"type=volume,destination={mount['ContainerPath']}"
                  + (",readonly" if mount.get("ReadOnly") else "")]
    memory = container.get("Memory") or task["Memory"]
    flags += ["--memory", f"{int(memory)}m", "--cpus", str(int(task["Cpu"]) / 1024)]
    return flags, list(container.get("Command", [])), env


def test_the_worker_task_definition_runs_on_docker(synths: dict[str, Synth], image: str,  # noqa: F811
                                                    backend: Backend,  # noqa: F811
                                                    containers: list[engine.Container]) -> None:  # noqa: F811
    s = synths["default"]
    task = s.owned("AWS::ECS::TaskDefinition", "Workers")[1]["Properties"]
    (container,) = task["ContainerDefinitions"]
    flags, command, env = docker_flags(task, container)
    assert "--read-only" in flags and "--user" in flags and "--cap-drop=ALL" in flags, flags
    # the stack's names are the private stack's: same stream and tables, its own servers
    assert (env["STREAM_NAME"], env["AGGREGATES_TABLE"], env["REJECTS_TABLE"]) == (
        backend.stack.stream, backend.stack.aggregates_table, backend.stack.rejects_table)
    backend.application = env["APPLICATION_NAME"]
    env.update({  # only the emulator endpoints and credentials are added
        "AWS_ENDPOINT_URL_KINESIS": backend.stack.kinesis_url,
        "AWS_ENDPOINT_URL_DYNAMODB": backend.stack.dynamodb_url,
        "AWS_ACCESS_KEY_ID": stack.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": stack.SECRET_KEY,
    })
    c = engine.run(f"kcl-task-{backend.application}", "--network", "host", *flags, env=env,
                   command=command)
    containers.append(c)
    backend.produce(400)
    c.wait_health("healthy", 240)
    backend.wait_drained(240, check=alive(c))
    backend.assert_exact()
    stop_timeout = int(container["StopTimeout"])
    took = c.stop(stop_timeout)
    state = c.state()
    assert state["ExitCode"] == 0 and took < stop_timeout, (took, c.logs()[-3000:])
    shut = {e["shard"] for e in c.events() if e.get("event") == "shutdown_requested"}
    assert shut == set(backend.leases()), shut
