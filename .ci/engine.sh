#!/usr/bin/env bash
# The Docker engine the container tests need.
#   .ci/engine.sh up          an engine that answers is used as it is; otherwise, as root,
#                             install Debian's docker.io and mmdebstrap if missing, start
#                             dockerd in the background (log .local/dockerd.log) and wait
#                             for `docker info`
#   .ci/engine.sh down        stop the dockerd that `up` started, and nothing else
#   .ci/engine.sh run CMD...  up, CMD, down; the exit status is CMD's
# Without root and without an engine it says what to install; the container tests then skip.
# The client is Debian's /usr/bin/docker (it builds with BuildKit through DOCKER_BUILDKIT=1;
# a newer client without the buildx plugin refuses to), or $DOCKER.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.local
pidfile=$state/dockerd.pid
docker_bin() { echo "${DOCKER:-$(command -v /usr/bin/docker || command -v docker || echo docker)}"; }
answers() { "$(docker_bin)" info >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "engine: installing Debian's ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

up() {
  if answers; then
    echo "engine: a Docker engine answers already; using it" >&2
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "engine: no Docker engine answers, and this is not root on Debian: install and start" \
         "one (Debian: apt-get install docker.io mmdebstrap; dockerd) or the container tests skip" >&2
    return 0
  fi
  install_packages
  mkdir -p "$state"
  echo "engine: starting dockerd (log $state/dockerd.log)" >&2
  nohup dockerd >"$state/dockerd.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    answers && { echo "engine: dockerd $(cat "$pidfile") answers" >&2; return 0; }
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "engine: dockerd exited; see $state/dockerd.log" >&2; tail -5 "$state/dockerd.log" >&2; rm -f "$pidfile"; return 1; }
    sleep 0.5
  done
  echo "engine: dockerd did not answer in 60 s; see $state/dockerd.log" >&2
  return 1
}

down() {
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    echo "engine: stopping the dockerd it started ($pid)" >&2
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  run)
    shift
    up
    status=0
    "$@" || status=$?
    down
    exit "$status" ;;
  *) echo "usage: $0 up|down|run CMD..." >&2; exit 2 ;;
esac
