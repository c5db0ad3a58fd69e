"""The real Docker engine, driven through its CLI: build the image, run and inspect containers.

The client is Debian's ``/usr/bin/docker`` (or ``$DOCKER``): it builds with BuildKit when
``DOCKER_BUILDKIT=1``; a newer client without the buildx plugin refuses to.  Every
container the tests start carries ``LABEL`` so that the session can check none is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("DOCKER") or ("/usr/bin/docker" if Path("/usr/bin/docker").exists()
                                      else shutil.which("docker") or "docker")
BASE_IMAGE = "debian:trixie-slim"
IMAGE = "kinesis-aggs-consumer:test"
LABEL = "kinesis-aggs.test=1"
BUILD_ENV = {**os.environ, "DOCKER_BUILDKIT": "1"}


class DockerError(RuntimeError):
    pass


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, env=BUILD_ENV)
    if check and r.returncode != 0:
        raise DockerError(f"docker {' '.join(args[:3])}... exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r


def why_not_available() -> str | None:
    """None when an engine answers; else what to install (the reason a test skips)."""
    if not shutil.which(DOCKER):
        return "no docker client: as root, `make test` installs Debian's docker.io (.ci/engine.sh)"
    r = subprocess.run([DOCKER, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        return ("no Docker engine answers: run the tests as root through `make test` "
                "(.ci/engine.sh starts Debian's dockerd), or start one yourself")
    return None


def ensure_base_image(name: str = BASE_IMAGE) -> None:
    """The Dockerfile's base, made from Debian's packages when it is not there (.ci/base-image.sh)."""
    if docker("image", "inspect", name, check=False).returncode == 0:
        return
    r = subprocess.run(["bash", str(ROOT / ".ci" / "base-image.sh"), name], capture_output=True, text=True,
                       timeout=600, env=BUILD_ENV)
    if r.returncode != 0:
        raise DockerError(f"base image {name}: {r.stderr.strip()[-2000:]}")


def build(tag: str = IMAGE, target: str = "runtime", no_cache: bool = False) -> float:
    """``docker build`` of the repo's Dockerfile on the host network; returns its seconds."""
    args = ["build", "--network", "host", "--target", target, "-t", tag]
    if no_cache:
        args.append("--no-cache")
    start = time.monotonic()
    docker(*args, str(ROOT), timeout=1800)
    return time.monotonic() - start


def image_size(tag: str = IMAGE) -> int:
    return int(docker("image", "inspect", "-f", "{{.Size}}", tag).stdout)


def layers(tag: str = IMAGE) -> list[tuple[int, str]]:
    """(bytes, instruction) of each layer, newest first, as ``docker history`` reports them."""
    out = docker("history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}",
                 tag).stdout
    rows = []
    for line in out.splitlines():
        size, _, created = line.partition("\t")
        rows.append((int(size), created))
    return rows


@dataclass
class Container:
    name: str
    id: str = ""
    started: float = field(default_factory=time.monotonic)

    def state(self) -> dict[str, Any]:
        return json.loads(docker("inspect", "-f", "{{json .State}}", self.name).stdout)

    def inspect(self, template: str) -> str:
        return docker("inspect", "-f", template, self.name).stdout.strip()

    def health(self) -> str:
        """starting | healthy | unhealthy (Docker's own verdict)."""
        return self.state().get("Health", {}).get("Status", "none")

    def logs(self) -> str:
        r = docker("logs", self.name, check=False)
        return r.stdout + r.stderr

    def stderr_lines(self) -> list[str]:
        """The container's stderr (the processors' JSON lines), line by line."""
        return docker("logs", self.name, check=False).stderr.splitlines()

    def events(self) -> list[dict[str, Any]]:
        """The processors' JSON log lines (stderr)."""
        r = docker("logs", self.name, check=False)
        out = []
        for line in r.stderr.splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def exec(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return docker("exec", self.name, *cmd, timeout=timeout, check=False)

    def stop(self, timeout_s: int) -> float:
        start = time.monotonic()
        docker("stop", "-t", str(timeout_s), self.name, timeout=timeout_s + 60)
        return time.monotonic() - start

    def wait_health(self, want: str, timeout_s: float) -> float:
        """Seconds since the start until Docker reports ``want``; raises on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.state()
            if state.get("Health", {}).get("Status") == want:
                return time.monotonic() - self.started
            if not state.get("Running") and not state.get("Restarting"):
                raise DockerError(f"{self.name} exited {state.get('ExitCode')}:\n{self.logs()[-3000:]}")
            time.sleep(0.25)
        raise DockerError(f"{self.name}: not {want} after {timeout_s} s "
                          f"({json.dumps(self.state().get('Health'))[-1500:]})")


def run(name: str, *flags: str, env: dict[str, str] | None = None, image: str = IMAGE,
        command: list[str] | None = None) -> Container:
    """``docker run -d`` with the test label; env values are passed with -e."""
    args = ["run", "-d", "--name", name, "--label", LABEL]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    started = time.monotonic()
    cid = docker(*args, *flags, image, *(command or [])).stdout.strip()
    return Container(name, cid, started)


def labelled(all_states: bool = True) -> list[str]:
    """Names of the containers the tests started (running, or any state)."""
    args = ["ps", "--filter", f"label={LABEL}", "--format", "{{.Names}}"]
    if all_states:
        args.insert(1, "-a")
    r = docker(*args, check=False)
    return [n for n in r.stdout.split() if n]


def remove(*names: str) -> None:
    if names:
        docker("rm", "-f", "-v", *names, check=False, timeout=120)
