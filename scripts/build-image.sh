#!/usr/bin/env bash
# Builds the image every action runs, ghcr.io/org/swa-actions:v1, offline: a static, stripped
# release build of action-runner on this machine, copied with a CA bundle into a FROM-scratch
# image (nothing is pulled). action-runner/Dockerfile builds the same image in one multi-stage
# build for the release; this script is what the tests and the end-to-end run use.
#   scripts/build-image.sh [TAG]      (default ghcr.io/org/swa-actions:v1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tag=${1:-ghcr.io/org/swa-actions:v1}
target=x86_64-unknown-linux-gnu
bin="${CARGO_TARGET_DIR:-$root/target}/$target/release/action-runner"
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

[ -f "$ca" ] || { echo "::error::build-image.sh: no CA bundle at $ca (set CA_BUNDLE)" >&2; exit 2; }

started=$(date +%s)
# --target keeps the static flags off the build scripts and proc macros (built for the host).
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --locked --target "$target" -p action-runner
echo "build-image.sh: release build $(( $(date +%s) - started ))s, binary $(stat -c %s "$bin") bytes" >&2

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$bin" "$context/action-runner"
cp "$ca" "$context/ca-certificates.crt"
cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY action-runner /action-runner
ENTRYPOINT ["/action-runner"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build --quiet --pull=false --tag "$tag" "$context" >/dev/null 2>&1 \
  || docker build --pull=false --tag "$tag" "$context"
size=$(docker image inspect "$tag" --format '{{.Size}}')
echo "build-image.sh: $tag, $size bytes" >&2
