"""``python -m consumer_app run``: start one worker (the KCL MultiLangDaemon).

Validates the settings and the tables, renders the daemon's properties, then *replaces
this process* with the JVM (``os.execvp``), so that a SIGTERM from docker, ECS or a shell
reaches the daemon directly and it can run its graceful shutdown (shutdown_requested and
a final checkpoint in every child, within ``shutdownGraceMillis``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from consumer_app import health, kcl_properties
from consumer_app.dynamo.schema import TableProblem, check_table
from consumer_app.settings import Settings, SettingsError, from_env
from consumer_app.tables import AGGREGATES, REJECTS

REPO_ROOT = Path(__file__).resolve().parents[1]
MAIN_CLASS = "software.amazon.kinesis.multilang.MultiLangDaemon"
MULTILANG_JAR_GLOB = "*amazon-kinesis-client-multilang-*.jar"
DEFAULT_JAVA_OPTS = "-XX:+UseSerialGC -XX:MaxRAMPercentage=60 -XX:+ExitOnOutOfMemoryError"


class StartError(RuntimeError):
    pass


def properties_dir() -> Path:
    return Path(os.environ.get("KCL_PROPERTIES_DIR") or REPO_ROOT / "properties")


def jars_dir() -> Path:
    return Path(os.environ.get("KCL_JARS_DIR") or REPO_ROOT / "build" / "jars")


def classpath() -> str:
    jars = jars_dir()
    if not any(jars.glob(MULTILANG_JAR_GLOB)):
        raise StartError(f"no KCL multilang jar in {jars}: run `make setup` (or set KCL_JARS_DIR)")
    return f"{jars}/*"


def processor_command() -> str:
    if any(c.isspace() for c in sys.executable):
        raise StartError(f"the Python path {sys.executable!r} contains whitespace, which the "
                         "daemon's executableName cannot express; use a venv without spaces")
    return f"{sys.executable} -m consumer_app.processor"


def render_properties(settings: Settings) -> str:
    pdir = properties_dir()
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


def java_command(props_file: Path) -> list[str]:
    java = shutil.which("java", path=(os.environ.get("JAVA_HOME", "") + "/bin")) or shutil.which("java")
    if java is None:
        raise StartError("java not found: install a Java runtime >= 17 or set JAVA_HOME")
    opts = shlex.split(os.environ.get("JAVA_OPTS", DEFAULT_JAVA_OPTS))
    logback = properties_dir() / "logback.xml"
    return [java, *opts, f"-Dlogback.configurationFile={logback}", "-cp", classpath(),
            MAIN_CLASS, "--properties-file", str(props_file)]


def check_tables(settings: Settings) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("dynamodb", endpoint_url=settings.dynamodb_endpoint,
                          config=Config(region_name=settings.region, connect_timeout=5,
                                        read_timeout=10, retries={"mode": "standard"}))
    check_table(client, settings.aggregates_table, AGGREGATES)
    check_table(client, settings.rejects_table, REJECTS)


def prepare(check: bool = True) -> list[str]:
    """Everything before the exec; returns the JVM command line."""
    settings = from_env()
    # children inherit the environment: they must log the same worker id as the daemon
    os.environ["WORKER_ID"] = settings.worker_id
    if check:
        check_tables(settings)
    if settings.heartbeat_dir:
        health.write_daemon_pid(Path(settings.heartbeat_dir))  # this pid becomes the JVM's
    run_dir = Path(os.environ.get("KCL_RUN_DIR") or tempfile.mkdtemp(prefix="kcl-worker-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    props_file = run_dir / "consumer.properties"
    props_file.write_text(render_properties(settings))
    return java_command(props_file)


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
