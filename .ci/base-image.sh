#!/usr/bin/env bash
# Make the base image every Dockerfile stage starts from, out of Debian's packages only
# (Docker Hub cannot be reached here):  .ci/base-image.sh [NAME]   (default debian:trixie-slim)
#
# It is what the official slim image is made of: `mmdebstrap --variant=minbase` of the
# current Debian stable, with the slim image's dpkg excludes (no docs but copyright, no man
# pages, no locales), then `docker import`.  This machine's CA certificates
# (/usr/local/share/ca-certificates/*.crt) are added and `update-ca-certificates` run, as
# a company base image carries its CA, so that builds can reach the package registries.
# Does nothing when an image of that name exists already.
set -euo pipefail
name=${1:-debian:trixie-slim}
suite=${BASE_SUITE:-trixie}
docker=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
if "$docker" image inspect "$name" >/dev/null 2>&1; then
  echo "base-image: $name exists" >&2
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap not found (apt-get install mmdebstrap)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hooks=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  hooks+=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"'
          --customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"'
          --customize-hook='chroot "$1" update-ca-certificates --fresh >/dev/null')
fi
start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --aptopt='Acquire::Languages "none"' \
  "${hooks[@]}" "$suite" "$work/rootfs.tar"
"$docker" import --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/rootfs.tar" "$name" >/dev/null
echo "base-image: $name from Debian $suite in $(( $(date +%s) - start )) s," \
     "$("$docker" image inspect -f '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1/1e6}')" >&2
