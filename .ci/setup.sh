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

echo "setup: amazon-kclpy $KCLPY_VERSION wheel (Python only; the jars are Maven's)" >&2
WHEEL=build/wheels/amazon_kclpy-$KCLPY_VERSION-py3-none-any.whl
if [ ! -f "$WHEEL" ]; then
  rm -rf build/kclpy-src && mkdir -p build/kclpy-src build/wheels
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: "amazon-kclpy==$KCLPY_VERSION" -d build/kclpy-src
  tar -xzf "build/kclpy-src/amazon_kclpy-$KCLPY_VERSION.tar.gz" -C build/kclpy-src
  # The sdist's build fetches the jars its pom.xml lists by URL (KCL 3.5.3, which the
  # registry here does not serve).  Give it an empty list: the daemon's classpath is
  # build/jars, resolved by Maven from our pom.xml, so no host is contacted here.
  cat > "build/kclpy-src/amazon_kclpy-$KCLPY_VERSION/pom.xml" <<'POM'
<?xml version="1.0" encoding="utf-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><properties/><dependencies/></project>
POM
  "$PYTHON" -m pip wheel -q --no-deps "build/kclpy-src/amazon_kclpy-$KCLPY_VERSION" -w build/wheels
fi

echo "setup: .venv" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip==26.3"
.venv/bin/python -m pip install -q --find-links build/wheels -e ".[local,dev]"

echo "setup: kinesis-local (npm, package-lock.json)" >&2
if [ ! -f node_modules/kinesis-local/main.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
echo "setup: done" >&2
