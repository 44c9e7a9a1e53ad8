#!/usr/bin/env bash
# End to end: the real workflows, run by act, with the real image, against the local sandbox.
#
#   scripts/e2e.sh [healthy|crash-loop|login-broken|frontend|all]     (default all)
#   E2E_REUSE_IMAGE=1 scripts/e2e.sh ...        (use the image already built; E2E_CLOCK=60)
#
# 1. Docker engine (scripts/docker.sh), the image (scripts/build-image.sh), swa-sandbox (debug).
# Each case runs a caller repository's entry workflow, exactly as examples/ holds it, which calls
# org/swa-actions/.github/workflows/<workflow>.yml@v1 (served from this checkout), and asserts on
# the sandbox's recorded calls as well as the log:
# 2. healthy: examples/app deploy.yml on push deploys (check, test beside the frontend's checkout,
#    migrate, update, wait, the frontend commit that was tested, verify with
#    examples/startupwebapp-smoke.yml and the smoke user's secrets; one UpdateService, no
#    rollback); then rollback.yml (workflow_dispatch) takes the backend back to the revision it
#    replaced.
# 3. crash-loop: the push deploy fails at wait-healthy, the log says why, and the rollback job
#    takes the backend back; a caller passing `auto-rollback: false` gets no rollback job.
# 4. login-broken: the rollout is healthy, the plan's verification finds the login answering
#    500, and the rollback job takes both halves back: the backend to the revision it replaced,
#    the frontend to the commit the live deployment record names. Every deploy and rollback is
#    recorded as a GitHub deployment in the sandbox, and each case checks the records.
# 5. frontend: examples/frontend deploy.yml on repository_dispatch uploads the site to the
#    sandbox's S3, a second run uploads nothing, and a caller passing `delete: false` deletes
#    nothing.
# act runs the jobs on this machine (-P ubuntu-latest=-self-hosted) and each action in the local
# image. With a self-hosted platform act 0.2.89 starts Docker actions on the default bridge
# network whatever --network says, so they cannot reach 127.0.0.1: the sandbox listens on the
# bridge's gateway address (172.17.0.1, `swa-sandbox serve --bind`) instead.
# `org/swa-actions/...@v1` (actions and reusable workflows) resolves to a tree made from this
# checkout (--local-repository), laid out as release.yml publishes it. Steps that need
# github.com (OIDC credentials, pip's cache, the image build and push) are skipped under act (the
# image push is done here, into the sandbox's ECR); configure-aws-credentials, actions/cache and
# the checkouts of the frontend repository are replaced by the stand-ins in tests/e2e. Logs:
# .tmp/e2e/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
which=${1:-all}
work="$root/.tmp/e2e"
rm -rf "$work" && mkdir -p "$work"
act="$root/.venv/bin/act"
image=ghcr.io/org/swa-actions:v1
started_all=$(date +%s.%N)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf '\033[1;31me2e: %s\033[0m\n' "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[ -x "$act" ] || { scripts/venv.sh; }
[ -x "$act" ] || fail "act is missing from .venv: run scripts/venv.sh"

say "Docker engine"
scripts/docker.sh

say "Image $image"
t=$(date +%s.%N)
if [ "${E2E_REUSE_IMAGE:-}" = 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "reusing the image already built (E2E_REUSE_IMAGE=1)" >&2
else
  scripts/build-image.sh "$image"
fi
echo "image build: $(since "$t")s; size: $(docker image inspect "$image" --format '{{.Size}}') bytes" >&2

say "Step start-up in the container"
# What every step pays before the action's first request: docker creates and starts the
# container, the static binary parses its inputs. Measured as a full `docker run` of an action
# that stops at its input check (exit 2), median of 5.
for _ in 1 2 3 4 5; do
  t=$(date +%s.%N)
  docker run --rm --network host "$image" update-service >/dev/null 2>&1 || true
  awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
done | sort -n | sed -n 3p | { read -r median; echo "step start-up (docker run to exit, median of 5): ${median}s" >&2; }

say "swa-sandbox"
cargo build --quiet -p swa-sandbox
sandbox_bin="${CARGO_TARGET_DIR:-$root/target}/debug/swa-sandbox"

# The tree act serves for org/swa-actions@v1 (--local-repository), laid out as release.yml
# publishes it: every action at the root, the reusable workflows beside them.
v1="$work/v1"
mkdir -p "$v1/.github"
cp -r actions/* "$v1/"
cp -r .github/workflows "$v1/.github/"

# A caller repository: the application's entry workflows exactly as examples/app holds them,
# beside a stand-in for the application (its tests run as the workflow's default test command).
# commit_fixture DIR: a git repository of DIR's files on branch main.
commit_fixture() {
  git -C "$1" init --quiet -b main
  git -C "$1" -c user.name=e2e -c user.email=e2e@localhost add -A
  git -C "$1" -c user.name=e2e -c user.email=e2e@localhost commit --quiet -m "fixture"
  git -C "$1" remote add origin "https://github.com/org/$(basename "$1").git"
}
app="$work/startupwebapp"
cp -r tests/e2e/startupwebapp "$app"
cp -r examples/app/.github "$app/"
# The checks file the healthy case's variables name, as the team would keep it.
cp examples/startupwebapp-smoke.yml "$app/.github/smoke-checks.yml"
# The caller's lint command, as its inputs would give it: flake8 (the default) is not on this
# machine.
sed -i 's|^      functional-test-command: .*|&\n      lint-command: python -m py_compile manage.py|' "$app/.github/workflows/deploy.yml"
grep -q '^      lint-command: ' "$app/.github/workflows/deploy.yml" || fail "the fixture has no functional-test-command line"
commit_fixture "$app"
# The frontend repository the deploy's test job checks out (its default branch's head).
frontend_repo="$work/frontend-repo"
cp -r tests/e2e/startupwebapp-frontend "$frontend_repo"
commit_fixture "$frontend_repo"
frontend_dir=$frontend_repo

# Actions that are skipped under act (configure-aws-credentials, actions/cache) still have to
# resolve: a local stand-in. act serves actions/checkout from the working copy when it checks out
# the calling repository itself; a checkout of the frontend (a `repository` or a `ref`) goes to the
# local checkout (tests/e2e/checkout) of $frontend_dir.
local_repos=(--local-repository "org/swa-actions@v1=$v1")
for uses in $(grep -ho '\(aws-actions/configure-aws-credentials\|actions/cache\)@[0-9a-f]\{40\}' .github/workflows/*.yml | sort -u); do
  local_repos+=(--local-repository "$uses=$root/tests/e2e/stand-in")
done
for uses in $(grep -ho 'actions/checkout@[0-9a-f]\{40\}' .github/workflows/*.yml | sort -u); do
  local_repos+=(--local-repository "$uses=$root/tests/e2e/checkout")
done

# The address containers on the default bridge reach this machine at.
bridge_ip=$(ip -4 -o addr show docker0 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
[ -n "$bridge_ip" ] || bridge_ip=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
[ -n "$bridge_ip" ] || fail "no docker0 bridge address"

sandbox_pid=""
stop_sandbox() {
  [ -z "$sandbox_pid" ] || { kill -TERM "$sandbox_pid" 2>/dev/null; wait "$sandbox_pid" 2>/dev/null; } || true
  sandbox_pid=""
}
trap stop_sandbox EXIT

# start_sandbox SCENARIO: serves on the bridge's gateway, which this machine and the containers
# both reach, and exports the sandbox's variables (their URLs name that address).
start_sandbox() {
  "$sandbox_bin" serve --bind "$bridge_ip" --scenario "$1" --clock "${E2E_CLOCK:-60}" \
    >"$work/sandbox-$1.env" 2>"$work/sandbox-$1.log" &
  sandbox_pid=$!
  for _ in $(seq 1 300); do
    grep -q '^export APP_URL=' "$work/sandbox-$1.env" && break
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox-$1.log" >&2; fail "the sandbox did not start"; }
    sleep 0.1
  done
  grep -q '^export APP_URL=' "$work/sandbox-$1.env" || fail "the sandbox printed no APP_URL"
  # shellcheck disable=SC1090
  source "$work/sandbox-$1.env"
  echo "sandbox: scenario $1 at $AWS_ENDPOINT_URL" >&2
}

# run_act NAME DIR EVENT WORKFLOW [act args...]: runs EVENT on the repository DIR as act runs it,
# with the caller's variables and secret; sets $act_rc, $act_log and $act_seconds.
run_act() {
  local name=$1 dir=$2 event=$3 workflow=$4
  shift 4
  act_log="$work/$name.log"
  local aws_env=()
  local var
  for var in $(compgen -e | grep -E '^AWS_'); do aws_env+=(--env "$var=${!var}"); done
  local t
  t=$(date +%s.%N)
  set +e
  (cd "$dir" && "$act" "$event" \
    -W ".github/workflows/$workflow" \
    -P ubuntu-latest=-self-hosted --pull=false --network host \
    "${local_repos[@]}" "${aws_env[@]}" --env "E2E_FRONTEND_DIR=$frontend_dir" \
    --var IMAGE_REPOSITORY=123456789012.dkr.ecr.us-east-1.amazonaws.com/startupwebapp \
    --var APP_URL="$APP_URL" \
    --var FRONTEND_REPOSITORY=org/startupwebapp-frontend \
    --var FRONTEND_API_URL="$GITHUB_API_URL" \
    --env GITHUB_API_URL="$GITHUB_API_URL" -s GITHUB_TOKEN="ghs_e2e$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    --var FRONTEND_BUCKET=startupwebapp-frontend \
    -s FRONTEND_DISPATCH_TOKEN="ghp_e2e$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    "$@") >"$act_log" 2>&1
  act_rc=$?
  set -e
  act_seconds=$(since "$t")
  echo "act $name: exit $act_rc after ${act_seconds}s (log: $act_log)" >&2
}

# sandbox WHAT QUERY: a JMESPath query (jp.py, from awscli's jmespath) of the sandbox's
# /_sandbox/WHAT (state or calls), its answer unquoted.
sandbox() {
  curl -fsS "${AWS_ENDPOINT_URL%/}/_sandbox/$1" | "$root/.venv/bin/jp.py" "$2" | tr -d '"'
}
# record KIND FIELD: FIELD (a JMESPath) of the newest GitHub deployment record of KIND.
record() { sandbox state "githubDeployments[?payload.kind=='$1'] | [-1].$2"; }

# calls OPERATION: how many times the sandbox was asked OPERATION (its recorded calls, compact JSON).
calls() {
  curl -fsS "${AWS_ENDPOINT_URL%/}/_sandbox/calls" | { grep -o "\"operation\":\"$1\"" || true; } | wc -l
}

# push_image TAG: what the build job pushes on GitHub (skipped under act), done here: the
# application's image under TAG in the sandbox's ECR (the manifest of release-4).
push_image() {
  local manifest
  manifest=$("$root/.venv/bin/aws" --region "$AWS_REGION" ecr batch-get-image --repository-name startupwebapp --image-ids imageTag=release-4 \
    --query 'images[0].imageManifest' --output text)
  "$root/.venv/bin/aws" --region "$AWS_REGION" ecr put-image --repository-name startupwebapp --image-tag "$1" --image-manifest "$manifest" >/dev/null
}

# expect PATTERN WHAT: the act log matches an extended regex.
expect() {
  grep -Eq -- "$1" "$act_log" || { tail -n 60 "$act_log" >&2; fail "$2 (no /$1/ in $act_log)"; }
}
refuse() {
  if grep -Eq -- "$1" "$act_log"; then grep -E -- "$1" "$act_log" | head -5 >&2; fail "$2"; fi
}

# The push of a commit to main: the caller's deploy.yml starts deploy-production.yml@v1.
deploy_on_push() { # deploy_on_push NAME [act args...]
  local name=$1
  shift
  push_image "$(git -C "$app" rev-parse HEAD)"
  run_act "$name" "$app" push deploy.yml "$@"
}

# The sandbox's smoke user, as the caller's secrets give it.
smoke_password=sandbox-password
revision_4=arn:aws:ecs:us-east-1:123456789012:task-definition/startupwebapp-service-task:4

healthy() {
  say "healthy: the application's deploy.yml on push, verified by examples/startupwebapp-smoke.yml"
  start_sandbox healthy
  deploy_on_push deploy-healthy --var FRONTEND_URL="$APP_URL" --var SMOKE_CHECKS=.github/smoke-checks.yml \
    -s SMOKE_USERNAME=smoke-test -s SMOKE_PASSWORD="$smoke_password"
  [ "$act_rc" -eq 0 ] || { tail -n 80 "$act_log" >&2; fail "the healthy deploy failed"; }
  local job
  for job in "Check the inputs" Test "Build the image" Migrate "Deploy the backend" "Deploy the frontend" Verify; do
    expect "\[Deploy/Deploy production/$job *\] .*Job succeeded" "job $job did not succeed"
  done
  refuse "\[Deploy/Deploy production/Roll back *\]" "the healthy deploy rolled back"
  expect "Ran the application tests: OK" "the application's tests did not run"
  # The frontend that was tested is the frontend that was dispatched: the head of its default
  # branch when the test job checked it out.
  local tested dispatched
  tested=$(git -C "$frontend_repo" rev-parse HEAD)
  expect "Ran the functional tests against the frontend at $tested: OK" "the functional tests did not run against the frontend's head"
  expect "::set-output:: frontend-commit=$tested$" "the test job did not record the frontend commit"
  dispatched=$(sandbox calls "[?operation=='dispatches'].request.body.client_payload.frontend_ref | join(',', @)")
  [ "$dispatched" = "$tested" ] || fail "the frontend dispatched ($dispatched) is not the one tested ($tested)"
  echo "frontend tested and dispatched: $tested" >&2
  # The deploy's record: in progress from the update, success once verified, with what went live.
  [ "$(record deploy "states | join(',', @)")" = in_progress,success ] || fail "the deploy's record is $(record deploy states)"
  [ "$(record deploy payload.frontend_ref)" = "$tested" ] || fail "the deploy's record names frontend $(record deploy payload.frontend_ref)"
  [ "$(record deploy payload.task_definition_arn)" = "$revision_4" ] || fail "the deploy's record names $(record deploy payload.task_definition_arn)"
  [ "$(record deploy ref)" = "$(git -C "$app" rev-parse HEAD)" ] || fail "the deploy's record is of $(record deploy ref)"
  expect "Success - Main Update the service" "update-service did not run"
  expect "Success - Main Wait until healthy" "wait-healthy did not run"
  [ "$(calls UpdateService)" -eq 1 ] || fail "the healthy deploy updated the service $(calls UpdateService) times"
  [ "$(calls dispatches)" -eq 1 ] || fail "the frontend was dispatched $(calls dispatches) times"
  # The checks file ran whole: the smoke user logged in and its session read the orders.
  expect "Success - Main The smoke checks" "the smoke checks file did not pass"
  local op
  for op in orders stripe-key asset; do
    [ "$(calls "$op")" -eq 1 ] || fail "the smoke checks asked the app for $op $(calls "$op") times"
  done
  refuse "$smoke_password" "the smoke user's password is in the log"
  deploy_seconds=$act_seconds

  say "healthy: the application's rollback.yml (workflow_dispatch)"
  run_act rollback "$app" workflow_dispatch rollback.yml --input revision=previous \
    --input frontend-ref=previous --input reason="e2e: roll back the deploy"
  [ "$act_rc" -eq 0 ] || { tail -n 80 "$act_log" >&2; fail "the rollback failed"; }
  # `previous` of the frontend: the commit the deploy before the live one (revision 3) shipped.
  local previous_frontend
  previous_frontend=$(sandbox state "githubDeployments[?payload.task_definition_arn=='${revision_4%:4}:3'] | [-1].payload.frontend_ref")
  [ "$(sandbox calls "[?operation=='dispatches'].request.body.client_payload.frontend_ref | [-1]")" = "$previous_frontend" ] \
    || fail "the rollback did not dispatch the previous frontend ($previous_frontend)"
  [ "$(record rollback "states | join(',', @)")" = in_progress,success ] || fail "the rollback's record is $(record rollback states)"
  [ "$(record rollback payload.frontend_ref)" = "$previous_frontend" ] || fail "the rollback's record names frontend $(record rollback payload.frontend_ref)"
  [ "$(record rollback payload.task_definition_arn)" = "${revision_4%:4}:3" ] || fail "the rollback's record names $(record rollback payload.task_definition_arn)"
  expect "Live before \(deployment [0-9]+\) \| backend .${revision_4}" "the summary does not say what was live"

  expect "Success - Main Roll the backend back" "the rollback's update-service did not run"
  expect "Rolled back by .*startupwebapp-service-task:4 -> .*startupwebapp-service-task:3 \(success\)" \
    "the rollback did not go from the deployed revision 4 back to revision 3"
  [ "$(calls UpdateService)" -eq 2 ] || fail "the rollback did not update the service once"
  stop_sandbox
}

crash_loop() {
  say "crash-loop: the application's deploy.yml on push (auto-rollback on)"
  start_sandbox crash-loop
  deploy_on_push deploy-crash-loop
  [ "$act_rc" -ne 0 ] || fail "the crash-loop deploy succeeded"
  expect "Failure - Main Wait until healthy" "the deploy did not fail at wait-healthy"
  expect "\[Deploy/Deploy production/Deploy the backend *\] .*::error" "wait-healthy gave no ::error:: reason"
  expect "::error title=Deployment rolled-back::.*rolled back to startupwebapp-service-task:3" \
    "wait-healthy did not say the service rolled back"
  expect "stopped \(EssentialContainerExited: .*startupwebapp exited 1" "the log does not show why the tasks stopped"
  expect "\[Deploy/Deploy production/Deploy the backend *\] +\| +Traceback" "the log does not show the failed container's last lines"
  refuse "\[Deploy/Deploy production/Verify *\] .*Main" "verify ran after a failed rollout"
  expect "\[Deploy/Deploy production/Roll back *\] .*Job succeeded" "the deploy's rollback job did not succeed"
  expect "Success - Main Wait until the rollback is healthy" "the rollback was not confirmed healthy"
  # ECS's circuit breaker has put revision 3 back already: the rollback job finds nothing to do.
  expect "already runs this task definition \(startupwebapp-service-task:3\)" "the rollback job did not find revision 3 running"
  [ "$(calls UpdateService)" -eq 1 ] || fail "the crash-loop deploy updated the service $(calls UpdateService) times"
  [ "$(calls dispatches)" -eq 0 ] || fail "the frontend was dispatched after a failed rollout"
  [ "$(record deploy "states | join(',', @)")" = in_progress,failure ] || fail "the deploy's record is $(record deploy states)"
  [ "$(record rollback "states | join(',', @)")" = in_progress,success ] || fail "the rollback's record is $(record rollback states)"
  grep -E "::error" "$act_log" | head -3 | sed 's/^/  reason shown: /' >&2
  stop_sandbox

  say "crash-loop: a caller that passes auto-rollback: false, on push"
  local caller="$work/no-rollback/startupwebapp"
  mkdir -p "$caller"
  cp -r "$app/.github" "$app/requirements.txt" "$app/manage.py" "$caller/"
  sed -i 's|^      auto-rollback: .*|      auto-rollback: false|' "$caller/.github/workflows/deploy.yml"
  grep -q '^      auto-rollback: false$' "$caller/.github/workflows/deploy.yml" || fail "the fixture has no auto-rollback line"
  commit_fixture "$caller"
  start_sandbox crash-loop
  push_image "$(git -C "$caller" rev-parse HEAD)"
  run_act deploy-no-rollback "$caller" push deploy.yml
  [ "$act_rc" -ne 0 ] || fail "the crash-loop deploy succeeded"
  expect "Failure - Main Wait until healthy" "the deploy did not fail at wait-healthy"
  refuse "\[Deploy/Deploy production/Roll back *\] .*Main" "a rollback job ran with auto-rollback: false"
  [ "$(calls UpdateService)" -eq 1 ] || fail "with auto-rollback: false the service was updated $(calls UpdateService) times"
  stop_sandbox
}

# A release whose login answers 500: the rollout is healthy, the plan's checks find the login
# broken, and the automatic rollback puts the revision it replaced back.
login_broken() {
  say "login-broken: the plan's checks fail the verification, and the backend rolls back"
  start_sandbox login-broken
  deploy_on_push deploy-login-broken --var FRONTEND_URL="$APP_URL"
  [ "$act_rc" -ne 0 ] || fail "a deploy with a broken login succeeded"
  expect "\[Deploy/Deploy production/Deploy the backend *\] .*Job succeeded" "the rollout itself should have been healthy"
  expect "Failure - Main The plan's checks" "the verification did not fail"
  expect "Login refuses a wrong password.*expected status 400 or 401 or 403, got 500" "the verification did not name the login check"
  expect "\[Deploy/Deploy production/Roll back *\] .*Job succeeded" "the rollback job did not succeed"
  expect "Success - Main Wait until the rollback is healthy" "the rollback was not confirmed healthy"
  [ "$(calls UpdateService)" -eq 2 ] || fail "the service was updated $(calls UpdateService) times, not deploy and rollback"
  # Both halves: the frontend goes back to the commit of the deployment that was live before
  # (the sandbox's record of revision 3), after the tested one had been dispatched.
  local live_frontend dispatched
  live_frontend=$(sandbox state "githubDeployments[?payload.task_definition_arn=='${revision_4%:4}:3'] | [-1].payload.frontend_ref")
  dispatched=$(sandbox calls "[?operation=='dispatches'].request.body.client_payload.frontend_ref | join(',', @)")
  [ "$dispatched" = "$(git -C "$frontend_repo" rev-parse HEAD),$live_frontend" ] \
    || fail "the frontend dispatches were $dispatched, not the tested commit then $live_frontend"
  expect "Success - Main Roll the frontend back" "the frontend was not rolled back"
  [ "$(record deploy "states | join(',', @)")" = in_progress,failure ] || fail "the deploy's record is $(record deploy states)"
  [ "$(record rollback "states | join(',', @)")" = in_progress,success ] || fail "the rollback's record is $(record rollback states)"
  [ "$(record rollback payload.frontend_ref)" = "$live_frontend" ] || fail "the rollback's record names frontend $(record rollback payload.frontend_ref)"
  echo "both halves rolled back: frontend $live_frontend" >&2
  stop_sandbox
}

# The tree release.yml publishes as v1: every action at the root, its image pinned by digest, the
# reusable workflows beside them. Built here with a made-up digest; nothing is tagged or pushed.
release_layout() {
  say "release layout"
  local digest commit
  digest="sha256:$(printf 'e2e' | sha256sum | cut -d' ' -f1)"
  commit=$(action-runner/publish-actions.sh "$digest" v1.0.0 | awk '/commit/ { print $NF }')
  local tree="$work/published"
  mkdir -p "$tree"
  git archive "$commit" | tar -x -C "$tree"
  local yml name
  for yml in actions/*/action.yml; do
    name=$(basename "$(dirname "$yml")")
    grep -q "image: docker://ghcr.io/org/swa-actions@$digest" "$tree/$name/action.yml" \
      || fail "published $name/action.yml does not pin the image digest"
    [ -f "$tree/$name/README.md" ] || fail "published $name has no README"
  done
  for wf in deploy-production rollback-production deploy-frontend; do
    [ -f "$tree/.github/workflows/$wf.yml" ] || fail "published tree lacks $wf.yml"
  done
  [ ! -e "$tree/Cargo.toml" ] || fail "the published tree carries the sources"
  echo "published tree of $commit: $(find "$tree" -type f | wc -l) files" >&2
}

# The frontend's side: the frontend repository's deploy.yml exactly as examples/frontend holds it
# starts deploy-frontend.yml@v1 on repository_dispatch; it checks out the commit in the payload,
# lints, tests, and sync-frontend uploads the site to the sandbox's S3. A second run uploads
# nothing. A caller that passes `delete: false` leaves an object the site no longer has.
frontend() {
  say "frontend: the frontend's deploy.yml on repository_dispatch"
  start_sandbox healthy
  local fe="$work/startupwebapp-frontend"
  rm -rf "$fe"
  cp -r tests/e2e/startupwebapp-frontend "$fe"
  cp -r examples/frontend/.github "$fe/"
  # The frontend's own commands, as its variables would give them on GitHub: the example passes
  # none, so the defaults (npm) are replaced here by ones this machine has.
  sed -i 's|^      delete: .*|&\n      source: site\n      install-command: "true"\n      lint-command: test -f site/index.html\n      test-command: grep -q assets/app.js site/index.html|' \
    "$fe/.github/workflows/deploy.yml"
  commit_fixture "$fe"
  printf '{"action":"deploy-production","client_payload":{"correlation_id":"e2e-%s","frontend_ref":"%s"}}\n' \
    "$$" "$(git -C "$fe" rev-parse HEAD)" >"$work/frontend-event.json"
  # The checkout of the payload's `ref` exports exactly that commit of this repository.
  frontend_dir=$fe
  local n
  for n in 1 2; do
    run_act "frontend-$n" "$fe" repository_dispatch deploy.yml -e "$work/frontend-event.json"
    [ "$act_rc" -eq 0 ] || { tail -n 60 "$act_log" >&2; fail "deploy-frontend run $n failed"; }
    expect "Success - Main Upload" "sync-frontend did not run"
  done
  act_log="$work/frontend-1.log"
  expect "checked out $(git -C "$fe" rev-parse HEAD)" "the frontend commit was not checked out"
  expect "Success - Main Lint" "the lint command did not pass"
  expect "::set-output:: uploaded=2$" "the first run did not upload the 2 files"
  act_log="$work/frontend-2.log"
  expect "::set-output:: uploaded=0$" "the second run uploaded again"
  expect "::set-output:: skipped=2$" "the second run did not skip the 2 unchanged files"

  say "frontend: a caller that passes delete: false"
  git -C "$fe" rm --quiet site/assets/app.js
  printf '<!doctype html>\n' >"$fe/site/index.html"
  sed -i 's|^      delete: .*|      delete: false|; s|^      test-command: .*|      test-command: "true"|' "$fe/.github/workflows/deploy.yml"
  git -C "$fe" -c user.name=e2e -c user.email=e2e@localhost commit --quiet -am "no app.js"
  printf '{"action":"deploy-production","client_payload":{"correlation_id":"e2e-%s-3","frontend_ref":"%s"}}\n' \
    "$$" "$(git -C "$fe" rev-parse HEAD)" >"$work/frontend-event.json"
  local deletes_before
  deletes_before=$(( $(calls DeleteObject) + $(calls DeleteObjects) ))
  run_act frontend-keep "$fe" repository_dispatch deploy.yml -e "$work/frontend-event.json"
  [ "$act_rc" -eq 0 ] || { tail -n 60 "$act_log" >&2; fail "deploy-frontend with delete: false failed"; }
  expect "::set-output:: deleted=0$" "delete: false deleted objects"
  [ $(( $(calls DeleteObject) + $(calls DeleteObjects) )) -eq "$deletes_before" ] \
    || fail "with delete: false the sandbox's S3 was asked to delete"
  frontend_dir=$frontend_repo
  stop_sandbox
}

case "$which" in
  frontend) frontend ;;
  healthy) healthy ;;
  crash-loop) crash_loop ;;
  login-broken) login_broken ;;
  all) release_layout; healthy; crash_loop; login_broken; frontend ;;
  *) fail "unknown scenario $which (healthy, crash-loop, login-broken, frontend, all)" ;;
esac

say "e2e passed"
[ -n "${deploy_seconds:-}" ] && echo "act deploy-production wall time (healthy): ${deploy_seconds}s" >&2
echo "e2e wall time: $(since "$started_all")s" >&2
