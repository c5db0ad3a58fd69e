#!/usr/bin/env bash
# Idempotent setup: .venv with pinned Python packages, the KCL jars from Maven,
# the amazon-kclpy wheel built without its own jar download, and kinesis-local.
# Nothing is downloaded at run time after this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' not found: $2" >&2; exit 1; }; }
need "$PYTHON" "install Python >= 3.11"
need java "install a Java runtime >= 17 (the KCL MultiLangDaemon is Java)"
need mvn "install Maven 3 (it resolves the KCL jars from pom.xml)"
need node "install Node.js >= 20 (kinesis-local, the Kinesis emulator, is a Node program)"
need npm "install npm (comes with Node.js)"
"$PYTHON" - <<'PY' || { echo "setup: Python >= 3.11 is required" >&2; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || { echo "setup: Java >= 17 is required (found '${java_major}')" >&2; exit 1; }

KCLPY_VERSION=3.2.0
JARS=build/jars

echo "setup: KCL jars (Maven, pom.xml) -> $JARS" >&2
if [ ! -f "$JARS/.stamp" ] || [ pom.xml -nt "$JARS/.stamp" ]; then
  rm -rf "$JARS" && mkdir -p "$JARS"
  mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$JARS" -Dmdep.prependGroupId=true
  mvn -q -B dependency:list -DincludeScope=runtime -DoutputFile="$JARS/artifacts.txt" \
      -DoutputAbsoluteArtifactFilename=false -DexcludeTransitive=false
  touch "$JARS/.stamp"
fi

# The launcher (launcher/src, Java): KCL's Scheduler with an exit status that tells a
# supervisor when a worker ended by itself.  `mvn package` compiles it and runs its tests.
LAUNCHER=build/launcher/kinesis-aggs-launcher.jar
echo "setup: worker launcher (Maven, launcher/src) -> $LAUNCHER" >&2
if [ ! -f "$LAUNCHER" ] || [ pom.xml -nt "$LAUNCHER" ] \
   || [ -n "$(find launcher -newer "$LAUNCHER" -type f -print -quit)" ]; then
  mvn -q -B package
  mkdir -p "$(dirname "$LAUNCHER")" && cp target/kinesis-aggs-launcher.jar "$LAUNCHER"
fi

echo "setup: amazon-kclpy $KCLPY_VERSION wheel (Python only; the jars are Maven's)" >&2
WHEEL=build/wheels/amazon_kclpy-$KCLPY_VERSION-py3-none-any.whl
[ -f "$WHEEL" ] || bash .ci/build-kclpy-wheel.sh "$KCLPY_VERSION" build/wheels "$PYTHON"

echo "setup: .venv" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip==26.3"
.venv/bin/python -m pip install -q --find-links build/wheels -e ".[local,dev]"
# the CDK app (infra/): aws-cdk-lib is large (about 480 MB installed), pinned in its own file
.venv/bin/python -m pip install -q -r infra/requirements.txt

echo "setup: kinesis-local (npm, package-lock.json)" >&2
if [ ! -f node_modules/kinesis-local/main.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
# The JVM class-data archive of the worker's classpath: a training start on a private
# local stack, then `java -Xshare:dump` (devkit/local/class_archive.py).  About 1 s
# off every worker start here; a worker without it starts all the same.
ARCHIVE=build/launcher/kcl-classes.jsa
if [ ! -f "$ARCHIVE" ] || [ "$JARS/.stamp" -nt "$ARCHIVE" ] || [ "$LAUNCHER" -nt "$ARCHIVE" ]; then
  echo "setup: JVM class-data archive -> $ARCHIVE (a training start, about 30 s)" >&2
  .venv/bin/python -m devkit.local.class_archive --out "$ARCHIVE" \
    || echo "setup: warning: no class-data archive; workers start about 1 s slower" >&2
fi
echo "setup: done" >&2
