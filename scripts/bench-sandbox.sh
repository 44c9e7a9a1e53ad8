#!/usr/bin/env bash
# Latency of typical swa-sandbox calls, and the wall time of a healthy rollout at a given clock.
#
#   scripts/bench-sandbox.sh [REQUESTS_PER_CALL] [CLOCK]
#
# Builds the debug binary (what scripts/demo.sh runs), starts `swa-sandbox serve`, and times each
# call from one keep-alive HTTP connection (Python's http.client, so the figures include the
# client's own overhead: they are upper bounds). Prints p50/p95/p99/max in milliseconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-2000}
clock=${2:-60}
(cd "$root" && cargo build --quiet -p swa-sandbox)
bin="${CARGO_TARGET_DIR:-$root/target}/debug/swa-sandbox"
work=$(mktemp -d)
"$bin" serve --port 0 --clock "$clock" > "$work/env" 2> "$work/log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  grep -q '^export APP_URL=' "$work/env" 2>/dev/null && break
  sleep 0.1
done
# shellcheck disable=SC1091
source "$work/env"
echo "swa-sandbox $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), debug build, $(nproc) cores, $n requests per call, clock x$clock"
python3 - "$n" "$clock" <<'PY'
import http.client, json, os, sys, time, urllib.parse

n = int(sys.argv[1])
clock = float(sys.argv[2])
url = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
conn = http.client.HTTPConnection(url.hostname, url.port)

def call(method, path, body=b"", headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, data

def ecs(op, payload):
    return ("POST", "/", json.dumps(payload).encode(), {
        "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{op}",
        "Content-Type": "application/x-amz-json-1.1"})

def logs(op, payload):
    return ("POST", "/", json.dumps(payload).encode(), {
        "X-Amz-Target": f"Logs_20140328.{op}",
        "Content-Type": "application/x-amz-json-1.1"})

def ecr(op, payload):
    return ("POST", "/", json.dumps(payload).encode(), {
        "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{op}",
        "Content-Type": "application/x-amz-json-1.1"})

tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/startupwebapp-tg/0123456789abcdef"
status, body = call(*ecs("ListTasks", {"cluster": "startupwebapp-cluster", "serviceName": "startupwebapp-service"}))
tasks = json.loads(body)["taskArns"]
task_id = tasks[0].rsplit("/", 1)[1]
calls = [
    ("ecs DescribeServices", ecs("DescribeServices", {"cluster": "startupwebapp-cluster", "services": ["startupwebapp-service"]})),
    ("ecs DescribeTasks (2)", ecs("DescribeTasks", {"cluster": "startupwebapp-cluster", "tasks": tasks})),
    ("ecs ListTasks", ecs("ListTasks", {"cluster": "startupwebapp-cluster", "serviceName": "startupwebapp-service"})),
    ("ecs DescribeTaskDefinition", ecs("DescribeTaskDefinition", {"taskDefinition": "startupwebapp-service-task:3"})),
    ("logs GetLogEvents", logs("GetLogEvents", {"logGroupName": "/ecs/startupwebapp-service", "logStreamName": f"ecs/startupwebapp/{task_id}", "startFromHead": True})),
    ("ecr DescribeImages", ecr("DescribeImages", {"repositoryName": "startupwebapp", "imageIds": [{"imageTag": "release-4"}]})),
    ("elbv2 DescribeTargetHealth", ("POST", "/", urllib.parse.urlencode({"Action": "DescribeTargetHealth", "Version": "2015-12-01", "TargetGroupArn": tg}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})),
    ("s3 PutObject (1 KiB)", ("PUT", "/startupwebapp-frontend/site/app.css", b"x" * 1024, {"Content-Type": "text/css", "Cache-Control": "public, max-age=31536000"})),
    ("s3 HeadObject", ("HEAD", "/startupwebapp-frontend/site/app.css", b"", {})),
    ("github list runs", ("GET", "/_github/repos/org/app/actions/runs?per_page=10", b"", {"Authorization": "Bearer t"})),
    ("app /health", ("GET", "/_app/health", b"", {})),
]
print(f"{'call':30} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms)")
for name, req in calls:
    for _ in range(50):
        call(*req)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = call(*req)
        samples.append((time.perf_counter() - t) * 1000)
        assert status == 200, (name, status)
    samples.sort()
    q = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    print(f"{name:30} {q(0.50):7.3f} {q(0.95):7.3f} {q(0.99):7.3f} {samples[-1]:7.3f}")

# A healthy rollout: UpdateService (force a new deployment) to COMPLETED, in wall time.
status, _ = call(*ecs("UpdateService", {"cluster": "startupwebapp-cluster", "service": "startupwebapp-service", "forceNewDeployment": True}))
start = time.time()
while True:
    status, body = call("GET", "/_sandbox/timeline")
    events = json.loads(body)
    created = [e for e in events if e["kind"] == "deployment-created"]
    done = [e for e in events if e["kind"] == "deployment-completed"]
    if done:
        break
    if time.time() - start > 120:
        sys.exit("rollout did not complete within 120 s")
    time.sleep(0.05)
took = (done[-1]["at_unix_ms"] - created[-1]["at_unix_ms"]) / 1000
print(f"healthy rollout at clock x{clock:g}: deployment-created -> deployment-completed in {took:.2f} s wall ({took * clock:.0f} s virtual, 300 s of it the deregistration delay)")
PY
