#!/usr/bin/env bash
# Runs every test: formatting, lints, the unit and integration tests (against the local sandbox,
# moto and awscli), and the workflow checks. This is what CI runs.
#
#   scripts/test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
scripts/venv.sh
export PATH="$root/.venv/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "workflow lint: actionlint, zizmor"
actionlint
zizmor --offline --quiet .github/ actions/

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

if [ -x scripts/e2e.sh ]; then
  step "end to end: workflows under act against the sandbox"
  scripts/e2e.sh
fi
