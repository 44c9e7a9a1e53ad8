#!/usr/bin/env bash
# Benchmarks sync-frontend (release build) against `aws s3 sync` (awscli, from .venv) on one
# moto S3 server: a site of FILES small files (default 2,000), each tool into its own bucket.
#
#   scripts/bench-sync.sh            # FILES=2000 RUNS=1
#   FILES=500 RUNS=3 scripts/bench-sync.sh
#   SERVER=sandbox scripts/bench-sync.sh   # swa-sandbox's S3 instead of moto
#
# moto serves one request at a time in Python, so on moto the server bounds both tools; the
# sandbox's S3 (Rust) spends well under a millisecond a request, so there the clients differ.
#
# For each tool it prints the wall time of: the first upload; a re-run with nothing changed
# (same folder); and a re-run from a fresh checkout (the same content copied to a new folder,
# so every file has a new modification time, as in CI). It also prints how many objects each
# re-run uploaded, counted both from the tool's own report and from the server's request log,
# and the CPU time the server spent on each phase (moto handles one request at a time in
# Python: when the server's CPU time is close to the wall time, the server is the limit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

files=${FILES:-2000}
runs=${RUNS:-1}
venv="$root/.venv"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/aws" ]; then
  echo "moto_server or aws missing from .venv: run scripts/venv.sh first" >&2
  exit 2
fi
bin="${SYNC_FRONTEND_BIN:-$root/target/release/sync-frontend}"
if [ ! -x "$bin" ] || [ -n "${REBUILD:-}" ]; then
  echo "building sync-frontend (release)..." >&2
  cargo build --release -p sync-frontend >&2
fi

server=${SERVER:-moto}
work=$(mktemp -d)
moto_pid=""
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

case "$server" in
  moto)
    port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    endpoint="http://127.0.0.1:$port"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>"$work/moto.log" &
    moto_pid=$!
    for _ in $(seq 1 300); do
      if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
      sleep 0.2
    done
    server_version="moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)')"
    ;;
  sandbox)
    sandbox_bin="${CARGO_TARGET_DIR:-$root/target}/debug/swa-sandbox"
    if [ ! -x "$sandbox_bin" ] || [ -n "${REBUILD:-}" ]; then
      echo "building swa-sandbox..." >&2
      cargo build -p swa-sandbox >&2
    fi
    "$sandbox_bin" serve --port 0 >"$work/sandbox.env" 2>"$work/sandbox.log" &
    moto_pid=$!
    for _ in $(seq 1 300); do
      grep -q '^export AWS_ENDPOINT_URL=' "$work/sandbox.env" 2>/dev/null && break
      sleep 0.1
    done
    endpoint=$(sed -n 's/^export AWS_ENDPOINT_URL=//p' "$work/sandbox.env")
    [ -n "$endpoint" ] || { cat "$work/sandbox.log" >&2; exit 1; }
    server_version="swa-sandbox (debug build)"
    ;;
  *) echo "SERVER must be moto or sandbox" >&2; exit 2 ;;
esac

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

# The site: pages, scripts, styles and small images in 20 folders, 0.5-2.5 KiB each.
site="$work/site"
"$venv/bin/python" - "$site" "$files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
exts = ["js", "css", "js", "svg", "json", "png", "html"]
for i in range(count):
    ext = exts[i % len(exts)]
    folder = os.path.join(root, f"section{i % 20:02d}")
    os.makedirs(folder, exist_ok=True)
    size = random.randint(512, 2560)
    with open(os.path.join(folder, f"file{i:05d}.{ext}"), "wb") as f:
        f.write(os.urandom(size // 2).hex().encode()[:size])
PY
bytes=$(find "$site" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
puts() { # PutObject requests the server received for bucket $1
  if [ "$server" = moto ]; then
    grep -c '"PUT /'"$1"'/' "$work/moto.log" || true
  else
    "$venv/bin/python" -c '
import json, sys, urllib.request
calls = json.load(urllib.request.urlopen(sys.argv[1] + "/_sandbox/calls"))
calls = calls.get("calls", calls) if isinstance(calls, dict) else calls
print(sum(1 for c in calls if c.get("operation") == "PutObject" and c.get("request", {}).get("bucket") == sys.argv[2]))
' "$endpoint" "$1"
  fi
}
ticks=$(getconf CLK_TCK)
server_cpu() { awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$moto_pid/stat"; }

run_swa() { # bucket source -> prints "seconds uploaded"
  local out="$work/gh_output" start end
  : >"$out"
  start=$(now)
  env -i PATH="$PATH" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="$endpoint" GITHUB_OUTPUT="$out" \
    INPUT_BUCKET="$1" INPUT_SOURCE="$2" "$bin" >"$work/swa.log" 2>&1
  end=$(now)
  echo "$(elapsed "$start" "$end") $(awk 'f { print; exit } /^uploaded<</ { f = 1 }' "$out")"
}

run_aws() { # bucket source -> prints "seconds uploaded"
  local start end
  start=$(now)
  "$venv/bin/aws" --endpoint-url "$endpoint" s3 sync "$2" "s3://$1/" --no-progress >"$work/aws.log" 2>&1
  end=$(now)
  echo "$(elapsed "$start" "$end") $(grep -c '^upload:' "$work/aws.log" || true)"
}

printf 'sync-frontend vs aws s3 sync (%s) on %s\n' "$("$venv/bin/aws" --version 2>&1 | cut -d' ' -f1)" \
  "$server_version"
printf '%d files, %d bytes; %d run(s); %d cores\n\n' "$files" "$bytes" "$runs" "$(nproc)"
printf '%-14s %-4s %-26s %9s %9s %12s %14s\n' tool run phase seconds uploaded "server PUTs" "server CPU s"

for r in $(seq 1 "$runs"); do
  for tool in swa aws; do
    bucket="bench-$tool-$r"
    "$venv/bin/aws" --endpoint-url "$endpoint" s3 mb "s3://$bucket" >/dev/null
    name=$([ "$tool" = swa ] && echo sync-frontend || echo "aws s3 sync")
    for phase in "first upload" "re-run, nothing changed" "re-run, fresh checkout"; do
      source="$site"
      if [ "$phase" = "re-run, fresh checkout" ]; then
        rm -rf "$work/checkout"
        sleep 1.1 # a checkout made later than the upload, as in CI
        cp -r "$site" "$work/checkout"
        source="$work/checkout"
      fi
      before=$(puts "$bucket")
      cpu_before=$(server_cpu)
      read -r secs uploaded < <("run_$tool" "$bucket" "$source")
      cpu_after=$(server_cpu)
      after=$(puts "$bucket")
      echo "$tool|$phase|$secs" >>"$work/times"
      printf '%-14s %-4s %-26s %9s %9s %12s %14s\n' "$name" "$r" "$phase" "$secs" "$uploaded" \
        "$((after - before))" "$(elapsed "$cpu_before" "$cpu_after")"
    done
  done
done

echo
echo "speed-up of sync-frontend over aws s3 sync (mean over runs):"
for phase in "first upload" "re-run, nothing changed" "re-run, fresh checkout"; do
  awk -F'|' -v p="$phase" '$2 == p { t[$1] += $3; n[$1]++ }
    END { printf "  %-26s %6.2fs vs %6.2fs  %5.2fx\n", p, t["swa"] / n["swa"], t["aws"] / n["aws"], (t["aws"] / n["aws"]) / (t["swa"] / n["swa"]) }' "$work/times"
done
