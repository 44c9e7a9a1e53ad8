#!/usr/bin/env bash
# Makes a Docker engine available: installs Debian's docker.io when the engine is missing, starts
# dockerd in the background (as root) when it is not answering, and waits until it answers.
# Idempotent: with a running engine it only checks it and exits.
#
#   scripts/docker.sh      (as root)
set -euo pipefail

log=${DOCKERD_LOG:-/tmp/dockerd.log}
wait_seconds=${DOCKERD_WAIT:-60}

answering() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answering; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "::error::scripts/docker.sh: the Docker engine is not running and this script is not root (no sudo) to start it" >&2
    exit 1
  fi
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "docker.sh: the Docker engine is missing: installing Debian's docker.io (apt-get, as root)" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq docker.io >/dev/null
fi

# A dockerd that is running, not one that was killed and awaits reaping (a zombie still
# matches pgrep, and its pid still "exists" for dockerd's own pid-file check).
live_dockerd() {
  local pid
  for pid in $(pgrep -x dockerd 2>/dev/null); do
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] && return 0
  done
  return 1
}

if ! answering; then
  if ! live_dockerd; then
    # An engine that was killed leaves its pid files behind, and a new one refuses to start.
    $sudo rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    echo "docker.sh: starting dockerd in the background (log: $log); it keeps running afterwards: stop it with \`${sudo:+sudo }pkill -x dockerd\`" >&2
    # setsid: the engine outlives this script and the shell that ran it.
    $sudo setsid dockerd >"$log" 2>&1 </dev/null &
  fi
  for _ in $(seq "$((wait_seconds * 2))"); do
    answering && break
    sleep 0.5
  done
fi

if ! answering; then
  echo "::error::scripts/docker.sh: dockerd did not answer within ${wait_seconds}s; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
fi
if [ -n "$sudo" ] && [ ! -w /var/run/docker.sock ]; then
  $sudo chmod a+rw /var/run/docker.sock
fi
docker version --format 'docker.sh: engine {{.Server.Version}} ready' >&2
