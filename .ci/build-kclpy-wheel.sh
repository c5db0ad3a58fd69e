#!/usr/bin/env bash
# Build the amazon-kclpy wheel without its jars: `build-kclpy-wheel.sh VERSION OUT_DIR [PYTHON]`.
#
# The amazon-kclpy sdist's build fetches the jars its pom.xml lists, by URL (KCL 3.5.3,
# which the package registry here does not serve).  It gets an empty jar list instead:
# the daemon's classpath is the jar set Maven resolves from our pom.xml, so building this
# wheel contacts no host beyond the Python package registry.  Used by .ci/setup.sh and
# the Dockerfile, so both install the same thing.
set -euo pipefail
version=$1 out=$2 python=${3:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download -q --no-deps --no-binary :all: "amazon-kclpy==$version" -d "$work"
tar -xzf "$work/amazon_kclpy-$version.tar.gz" -C "$work"
cat > "$work/amazon_kclpy-$version/pom.xml" <<'POM'
<?xml version="1.0" encoding="utf-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><properties/><dependencies/></project>
POM
mkdir -p "$out"
"$python" -m pip wheel -q --no-deps --use-pep517 "$work/amazon_kclpy-$version" -w "$out"
