#!/usr/bin/env bash
# Usage: scripts/test.sh [lint|unit|e2e]...   (no argument: all three, in that order)
# Runs every test: formatting, lints and the workflow audit (lint); the unit and integration
# tests against the local sandbox, moto and awscli (unit); the workflows under act against the
# sandbox (e2e). This is what CI runs; its jobs run one part each.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(lint unit e2e)
for part in "${parts[@]}"; do
  case $part in lint | unit | e2e) ;; *) echo "usage: scripts/test.sh [lint|unit|e2e]..." >&2; exit 2 ;; esac
done

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
scripts/venv.sh
export PATH="$root/.venv/bin:$PATH"

for part in "${parts[@]}"; do
  case $part in
    lint)
      step "cargo fmt --check"
      cargo fmt --all -- --check
      step "cargo clippy"
      cargo clippy --workspace --all-targets --locked -- -D warnings
      step "workflow lint: actionlint, zizmor"
      actionlint
      actionlint examples/*/.github/workflows/*.yml
      zizmor --offline --quiet --persona=auditor .github/ actions/ examples/
      ;;
    unit)
      step "tests"
      if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --locked --no-fail-fast
      else
        cargo test --workspace --locked --no-fail-fast
      fi
      ;;
    e2e)
      step "end to end: workflows under act against the sandbox"
      scripts/e2e.sh
      ;;
  esac
done
