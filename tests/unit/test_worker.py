"""The worker's JVM command line comes from its Settings, not from the environment."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from consumer_app import worker
from consumer_app.settings import DEFAULT_CDS_ARCHIVE, Settings


def fake_install(root: Path) -> Settings:
    """A JAVA_HOME with a java, the jars, a launcher, an archive and properties under ``root``."""
    java = root / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    jars = root / "jars"
    jars.mkdir()
    for name in ("b.jar", "software.amazon.kinesis.amazon-kinesis-client-multilang-3.1.3.jar", "a.jar"):
        (jars / name).write_text("")
    (root / "launcher.jar").write_text("")
    (root / "classes.jsa").write_text("")
    return Settings(region="eu-west-1", java_home=str(root / "jdk"), jars_dir=jars,
                    launcher_jar=root / "launcher.jar", cds_archive=root / "classes.jsa",
                    properties_dir=root / "props")


@pytest.fixture
def hostile_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every variable the worker used to read itself, pointing elsewhere: a command built from
    the environment instead of the settings shows."""
    for var in ("KCL_JARS_DIR", "KCL_LAUNCHER_JAR", "KCL_PROPERTIES_DIR", "KCL_CDS_ARCHIVE", "KCL_RUN_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "not-this"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "not-this"))
    monkeypatch.setenv("JAVA_OPTS", "-Dfrom=environ")


def test_java_command_from_settings(tmp_path: Path, hostile_environ: None) -> None:
    s = fake_install(tmp_path)
    cmd = worker.java_command(Path("/run/consumer.properties"), s)
    assert cmd[0] == str(tmp_path / "jdk" / "bin" / "java")
    archive = tmp_path / "classes.jsa"
    assert cmd[1:6] == [*worker.DEFAULT_JAVA_OPTS.split(), f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"]
    assert f"-Dlogback.configurationFile={tmp_path / 'props' / 'logback.xml'}" in cmd
    classpath = cmd[cmd.index("-cp") + 1].split(":")
    assert classpath[0] == str(tmp_path / "launcher.jar")
    assert classpath[1:] == sorted(str(p) for p in (tmp_path / "jars").glob("*.jar"))
    assert cmd[-3:] == [worker.MAIN_CLASS, "--properties-file", "/run/consumer.properties"]


def test_no_archive_when_unset_or_missing(tmp_path: Path) -> None:
    s = fake_install(tmp_path)
    for archive in (None, tmp_path / "missing.jsa"):
        cmd = worker.java_command(Path("p"), replace(s, cds_archive=archive))
        assert not any(a.startswith("-XX:SharedArchiveFile") for a in cmd)
    assert worker.class_archive(Settings(cds_archive=None)) == DEFAULT_CDS_ARCHIVE  # where setup builds it


def test_java_options(hostile_environ: None) -> None:
    assert worker.java_options("aws", Settings()) == worker.DEFAULT_JAVA_OPTS.split()
    assert worker.java_options("local", Settings()) == [*worker.DEFAULT_JAVA_OPTS.split(),
                                                        worker.LOCAL_JAVA_OPTS]
    assert worker.java_options("local", Settings(java_opts="")) == []  # set empty: no flags
    assert worker.java_options("aws", Settings(java_opts="-Xmx1g -Dn='a b'")) == ["-Xmx1g", "-Dn=a b"]


def test_missing_jars_named(tmp_path: Path) -> None:
    with pytest.raises(worker.StartError, match=f"no KCL multilang jar in {tmp_path}"):
        worker.classpath(Settings(jars_dir=tmp_path))


def test_without_settings_the_jvm_variables_are_read_alone(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """devkit.local.class_archive builds the command without a region: only the JVM variables."""
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KCL_JARS_DIR", str(tmp_path))
    monkeypatch.setenv("JAVA_OPTS", "-Xmx1g")
    monkeypatch.setenv("KCL_CDS_ARCHIVE", str(tmp_path / "a.jsa"))
    assert worker.java_options("local") == ["-Xmx1g"]
    assert worker.class_archive() == tmp_path / "a.jsa"
    with pytest.raises(worker.StartError, match=f"no KCL multilang jar in {tmp_path}"):
        worker.classpath()
