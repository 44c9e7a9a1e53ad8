#!/usr/bin/env bash
# End to end: the real workflows, run by act, with the real image, against the local sandbox.
#
#   scripts/e2e.sh [healthy|crash-loop|login-broken|blue-green|frontend|all]     (default all)
#   E2E_REUSE_IMAGE=1 scripts/e2e.sh ...        (use the image already built; E2E_CLOCK=60)
#
# The driver is crates/swa-e2e: how the cases run in its main.rs, what each checks in cases.rs.
# Logs: .tmp/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --locked -p swa-e2e -- "$@"
