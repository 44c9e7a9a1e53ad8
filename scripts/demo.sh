#!/usr/bin/env bash
# The main job: the whole production deploy against the local sandbox, with the real binaries.
#
#   scripts/demo.sh [SCENARIO] [--clock X]
#
# Starts swa-sandbox, then runs what deploy-production does (run-migration, update-service,
# wait-healthy, dispatch-frontend, smoke-test) and, when the deploy is healthy, what
# rollback-production does (update-service revision=previous, wait-healthy, smoke-test). It prints
# each step's log as the Actions page shows it and writes the job summary to .tmp/demo/summary.md.
# SCENARIO is a swa-sandbox scenario (default: healthy; try crash-loop, unhealthy-targets,
# migration-fails, image-missing, frontend-fails-once, login-broken, database-down, throttling).
# With a blue/green, canary or linear scenario (blue-green, blue-green-test-fails, canary-alarm,
# linear, hook-fails) each rollout goes through the test-traffic gate as deploy-production's does:
# wait-healthy until test traffic, the checks on the test listener (TEST_URL), control-deployment
# continue (or rollback, before production traffic moves), then wait-healthy until complete.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenario=healthy
clock=60
while [ $# -gt 0 ]; do
  case "$1" in
    --clock) clock=$2; shift 2 ;;
    --clock=*) clock=${1#--clock=}; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) scenario=$1; shift ;;
  esac
done

bin="${CARGO_TARGET_DIR:-$root/target}/debug"
work="$root/.tmp/demo"
if [ -z "${SWA_DEMO_SANDBOX:-}" ]; then
  echo "Building swa-sandbox and the actions (debug; the first build takes about 9 minutes on 2 cores) ..." >&2
  (cd "$root" && cargo build -p swa-sandbox -p swa-testing --bins -p run-migration \
    -p update-service -p wait-healthy -p dispatch-frontend -p smoke-test -p control-deployment) \
    || { echo "build failed" >&2; exit 2; }
  rm -rf "$work" && mkdir -p "$work"
  # The rest of this script runs inside the sandbox's lifetime, with its exports set.
  SWA_DEMO_SANDBOX=1 exec "$bin/swa-sandbox" exec --scenario "$scenario" --clock "$clock" -- "$0" "$scenario" --clock "$clock"
fi
summary="$work/summary.md"
: > "$summary"
printf '\033[2mThe sandbox runs %s times faster than real time: the service events, their times of day\nand the rollout durations are on its clock; the step durations are real.\033[0m\n' "$clock"

token="ghp_demo$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
step_no=0

# step NAME ACTION KEY=VALUE... : runs one action as the runner would, with INPUT_* variables,
# its own GITHUB_OUTPUT and the job's GITHUB_STEP_SUMMARY. Sets $rc and the step's outputs file.
step() {
  local name=$1 action=$2; shift 2
  step_no=$((step_no + 1))
  local out="$work/step$step_no.out"
  : > "$out"
  local envs=(GITHUB_OUTPUT="$out" GITHUB_STEP_SUMMARY="$summary")
  local kv key
  for kv in "$@"; do
    key=${kv%%=*}
    envs+=("INPUT_$(echo "$key" | tr 'a-z ' 'A-Z_')=${kv#*=}")
  done
  printf '\n\033[1m▶ %s\033[0m  (%s)\n' "$name" "$action"
  local started=$SECONDS
  # The log as the Actions page shows it: masks applied, groups folded, annotations decoded.
  env "${envs[@]}" "$bin/$action" | "$bin/gha-log"
  rc=${PIPESTATUS[0]}
  printf '\033[2m  %s exited %d after %ds\033[0m\n' "$action" "$rc" $((SECONDS - started))
  last_out=$out
}

# output NAME : an output of the last step (heredoc format of GITHUB_OUTPUT).
output() {
  awk -v name="$1" '
    index($0, name "<<") == 1 { delim = substr($0, length(name) + 3); grab = 1; next }
    grab && $0 == delim { exit }
    grab { print }
  ' "$last_out"
}

# The team's checks file, with the frontend's URL and the smoke user (the sandbox's) in the
# environment, as a workflow step's `env:` gives them.
export FRONTEND_URL="$APP_URL" SMOKE_USERNAME=smoke-test SMOKE_PASSWORD=sandbox-password
checks="$root/examples/startupwebapp-smoke.yml"

case "$scenario" in
  *blue-green*|*canary*|*linear*|*hook-fails*) shifts=1 ;;
  *) shifts="" ;;
esac

# rollout DEPLOYMENT SERVICE_DEPLOYMENT : waits for the rollout update-service started; sets $rc
# and, when it fails, $why. A traffic-shifting service is gated on test traffic first.
rollout() {
  local deployment=$1 arn=$2 smoke
  why=""
  if [ -n "$shifts" ]; then
    step "Wait until test traffic" wait-healthy \
      cluster=startupwebapp-cluster service=startupwebapp-service \
      deployment-id="$deployment" service-deployment-arn="$arn" until=test-traffic \
      timeout=10m poll-interval=1s
    [ $rc -eq 0 ] || { why="wait-healthy (before test traffic)"; return; }
    step "Smoke test on test traffic" smoke-test base-url="$TEST_URL" checks="$checks" retry-delay=2s
    smoke=$rc
    local action=continue
    [ $smoke -eq 0 ] || action=rollback
    step "Continue to production traffic, or roll back" control-deployment \
      cluster=startupwebapp-cluster service=startupwebapp-service \
      service-deployment-arn="$arn" action=$action timeout=10m
    if [ $smoke -ne 0 ]; then
      rc=1 why="the smoke test on test traffic (rolled back before production traffic moved)"
      return
    fi
    [ $rc -eq 0 ] || { why="control-deployment"; return; }
  fi
  step "Wait until healthy" wait-healthy \
    cluster=startupwebapp-cluster service=startupwebapp-service \
    deployment-id="$deployment" service-deployment-arn="$arn" health-url="$APP_URL/health" \
    health-expect='{"status":"healthy","database":"ok"}' until=complete timeout=10m poll-interval=1s
  [ $rc -eq 0 ] || why="wait-healthy"
}

failed=""
image="123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp:release-4"

step "Migrate the database" run-migration \
  cluster=startupwebapp-cluster service=startupwebapp-service \
  task-definition=startupwebapp-migration-task image="$image" \
  destructive-guard=true timeout=10m
[ $rc -eq 0 ] || failed="migrate"

if [ -z "$failed" ]; then
  step "Deploy the backend" update-service \
    cluster=startupwebapp-cluster service=startupwebapp-service image="$image"
  if [ $rc -eq 0 ]; then
    rollout "$(output deployment-id)" "$(output service-deployment-arn)"
    [ $rc -eq 0 ] || failed=$why
  else
    failed="update-service"
  fi
fi

if [ -z "$failed" ]; then
  step "Deploy the frontend" dispatch-frontend \
    repository=org/startupwebapp-frontend token="$token" \
    frontend-ref=4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e timeout=5m
  [ $rc -eq 0 ] || failed="dispatch-frontend"
fi

# The verification.
if [ -z "$failed" ]; then
  step "Verify" smoke-test base-url="$APP_URL" checks="$checks" retry-delay=2s
  [ $rc -eq 0 ] || failed="smoke-test"
fi

if [ -z "$failed" ]; then
  printf '\n\033[1;32mDeploy succeeded.\033[0m Now the manual rollback (rollback-production):\n'
  step "Roll back the backend" update-service \
    cluster=startupwebapp-cluster service=startupwebapp-service revision=previous
  if [ $rc -eq 0 ]; then
    rollout "$(output deployment-id)" "$(output service-deployment-arn)"
    [ $rc -eq 0 ] || failed="rollback $why"
  else
    failed="rollback update-service"
  fi
  [ -n "$failed" ] || { step "Verify" smoke-test base-url="$APP_URL" checks="$checks" retry-delay=2s; [ $rc -eq 0 ] || failed="rollback smoke-test"; }
fi

echo
[ -s "$summary" ] && echo "Job summary: $summary"
if [ -n "$failed" ]; then
  printf '\033[1;31mThe deploy failed at %s\033[0m (scenario %s).\n' "$failed" "$scenario"
  exit 1
fi
printf '\033[1;32mDeploy and rollback succeeded\033[0m (scenario %s).\n' "$scenario"
