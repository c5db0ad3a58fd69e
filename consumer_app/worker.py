"""``python -m consumer_app run``: start one worker (the KCL MultiLangDaemon).

Validates the settings and the tables, prepares KCL's lease table (``LEASE_BOOTSTRAP``),
renders the daemon's properties, then *replaces this process* with the JVM
(``os.execv``), so that a SIGTERM from docker, ECS or a shell reaches the daemon directly
and it can run its graceful shutdown (shutdown_requested and a final checkpoint in every
child, within ``shutdownGraceMillis``).  The JVM runs KCL's Scheduler through our launcher
(launcher/src), which exits 1 if the Scheduler ends without a stop request
(docs/startup.md).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from consumer_app import health, kcl_properties
from consumer_app.dynamo import lease_table
from consumer_app.dynamo.clients import control_client
from consumer_app.dynamo.schema import TableProblem, check_table
from consumer_app.settings import DEFAULT_CDS_ARCHIVE, Settings, SettingsError, from_env, jvm_from_env
from consumer_app.tables import AGGREGATES, REJECTS, WATERMARKS

#: KCL's Scheduler run as the MultiLangDaemon runs it, but with an exit status that is
#: non-zero whenever the worker ends without a stop request (launcher/src, docs/startup.md)
MAIN_CLASS = "kinesisaggs.launcher.WorkerLauncher"
MULTILANG_JAR_GLOB = "*amazon-kinesis-client-multilang-*.jar"
DEFAULT_JAVA_OPTS = "-XX:+UseSerialGC -XX:MaxRAMPercentage=60 -XX:+ExitOnOutOfMemoryError"
#: Added for KCL_PROFILE=local when JAVA_OPTS is not set: the client JIT only.  At start
#: the optimizing compiler competes for the cores with the other JVM, the record
#: processors and the emulators, and locally the emulators, not the JVM, bound the rates
#: (docs/startup.md).
LOCAL_JAVA_OPTS = "-XX:TieredStopAtLevel=1"


class StartError(RuntimeError):
    pass


def _jvm(settings: Settings | None) -> Settings:
    """The worker's settings, or, for a tool that builds the JVM command outside a run
    (devkit.local.class_archive: no region there), the JVM launch settings alone."""
    return settings if settings is not None else jvm_from_env()


def classpath(settings: Settings | None = None) -> str:
    s = _jvm(settings)
    jars = s.jars_dir
    if not any(jars.glob(MULTILANG_JAR_GLOB)):
        raise StartError(f"no KCL multilang jar in {jars}: run `make setup` (or set KCL_JARS_DIR)")
    launcher = s.launcher_jar
    if not launcher.is_file():
        raise StartError(f"no worker launcher jar at {launcher}: run `make setup` (or set KCL_LAUNCHER_JAR)")
    # every jar by name, sorted: the same string each start, which the JVM's class-data
    # archive (built by `make setup` for exactly this classpath) requires to be used
    return ":".join([str(launcher), *sorted(str(p) for p in jars.glob("*.jar"))])


def processor_command() -> str:
    if any(c.isspace() for c in sys.executable):
        raise StartError(f"the Python path {sys.executable!r} contains whitespace, which the "
                         "daemon's executableName cannot express; use a venv without spaces")
    return f"{sys.executable} -m consumer_app.processor"


def render_properties(settings: Settings) -> str:
    pdir = settings.properties_dir
    layers = [("base.properties", pdir / "base.properties")]
    if settings.profile != "aws":
        layers.append((f"{settings.profile}.properties", pdir / f"{settings.profile}.properties"))
    texts = []
    for name, path in layers:
        if not path.is_file():
            raise StartError(f"missing {path} (KCL_PROPERTIES_DIR={pdir})")
        texts.append((name, path.read_text()))
    props = kcl_properties.merge(texts, settings, processor_command())
    return kcl_properties.render(props)


def java_binary(settings: Settings | None = None) -> str:
    java = shutil.which("java", path=_jvm(settings).java_home + "/bin") or shutil.which("java")
    if java is None:
        raise StartError("java not found: install a Java runtime >= 17 or set JAVA_HOME")
    return java


def class_archive(settings: Settings | None = None) -> Path:
    """The JVM class-data archive for this classpath (devkit.local.class_archive builds it
    there): KCL_CDS_ARCHIVE, or its default when unset or set empty (= not used)."""
    archive = _jvm(settings).cds_archive
    return archive if archive is not None else DEFAULT_CDS_ARCHIVE


def java_options(profile: str, settings: Settings | None = None) -> list[str]:
    """JAVA_OPTS when set (even empty), else the defaults for ``profile``."""
    opts = _jvm(settings).java_opts
    if opts is not None:
        return shlex.split(opts)
    return shlex.split(DEFAULT_JAVA_OPTS + (" " + LOCAL_JAVA_OPTS if profile == "local" else ""))


def java_command(props_file: Path, settings: Settings) -> list[str]:
    opts = java_options(settings.profile, settings)
    archive = settings.cds_archive
    if archive is not None and archive.is_file():
        # -Xshare:auto: a JVM that cannot map it (another JDK, other jars) runs without it
        opts += [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"]
    logback = settings.properties_dir / "logback.xml"
    return [java_binary(settings), *opts, f"-Dlogback.configurationFile={logback}", "-cp",
            classpath(settings), MAIN_CLASS, "--properties-file", str(props_file)]


def check_tables(settings: Settings, client: Any) -> None:
    check_table(client, settings.aggregates_table, AGGREGATES)
    check_table(client, settings.rejects_table, REJECTS)
    check_table(client, settings.watermarks_table, WATERMARKS)


def bootstrap_leases(settings: Settings, dynamodb: Any) -> None:
    """LEASE_BOOTSTRAP: KCL's lease table ready before the JVM starts (docs/startup.md)."""
    try:
        done = lease_table.bootstrap(dynamodb, control_client(settings, "kinesis"),
                                     settings.application_name, settings.stream_name,
                                     settings.initial_position, settings.worker_id)
    except Exception as exc:
        raise StartError(f"lease bootstrap of table {settings.application_name!r} for stream "
                         f"{settings.stream_name!r} failed ({type(exc).__name__}: {exc}); "
                         "LEASE_BOOTSTRAP=off leaves the lease table to KCL") from exc
    sys.stderr.write(f"worker: lease bootstrap of {settings.application_name}: {done.describe()}\n")


def prepare(check: bool = True) -> list[str]:
    """Everything before the exec; returns the JVM command line."""
    settings = from_env()
    # every configuration problem (a missing JVM or jar, a bad properties key) is told
    # before any AWS call
    java_binary(settings), classpath(settings)
    properties = render_properties(settings)
    # children inherit the environment: they must log the same worker id as the daemon
    os.environ["WORKER_ID"] = settings.worker_id
    # the lease owner name, first in `docker logs`: which worker holds which shard
    sys.stderr.write(f"worker: {settings.worker_id} for stream {settings.stream_name}, "
                     f"application {settings.application_name} ({settings.profile} profile)\n")
    if check or settings.bootstraps_leases:
        dynamodb = control_client(settings, "dynamodb")  # one client for both steps
        if check:
            check_tables(settings, dynamodb)
        if settings.bootstraps_leases:
            bootstrap_leases(settings, dynamodb)
    if settings.heartbeat_dir:
        health.write_daemon_pid(Path(settings.heartbeat_dir))  # this pid becomes the JVM's
    run_dir = settings.run_dir or Path(tempfile.mkdtemp(prefix="kcl-worker-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    props_file = run_dir / "consumer.properties"
    props_file.write_text(properties)
    return java_command(props_file, settings)


def run(check_tables_first: bool = True) -> None:
    try:
        cmd = prepare(check_tables_first)
    except (SettingsError, kcl_properties.PropertiesError, TableProblem, StartError) as exc:
        sys.stderr.write(f"worker: cannot start: {exc}\n")
        sys.exit(2)
    except Exception as exc:  # e.g. DynamoDB unreachable during the table check
        sys.stderr.write(f"worker: cannot start: {type(exc).__name__}: {exc}\n")
        sys.exit(2)
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
