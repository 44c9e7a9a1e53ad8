#!/usr/bin/env bash
# Commits the tree users check out as `org/swa-actions@v1` and tags it:
#   <action>/action.yml, <action>/README.md   from actions/, with `image:` pinned to the digest
#   .github/workflows/deploy-production.yml, rollback-production.yml, deploy-frontend.yml
# The commit's parent is the previous `v1` (when there is one), so the tag only moves forward.
# Usage: publish-actions.sh <sha256:digest> <version, e.g. v1.2.3> [--push]
# Without --push it only prints the commit; nothing in the working tree or the index changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

digest=${1:?usage: publish-actions.sh <sha256:digest> <version> [--push]}
version=${2:?usage: publish-actions.sh <sha256:digest> <version> [--push]}
push=${3:-}
case "$digest" in sha256:*) ;; *) echo "::error::digest must be sha256:..., got $digest" >&2; exit 2 ;; esac
case "$version" in v1.*) ;; *) echo "::error::version must be v1.x.y, got $version" >&2; exit 2 ;; esac

index=$(mktemp)
trap 'rm -f "$index"' EXIT
export GIT_INDEX_FILE=$index
git read-tree --empty

add() { # add <blob> <path>
  git update-index --add --cacheinfo "100644,$1,$2"
}
for yml in actions/*/action.yml; do
  name=$(basename "$(dirname "$yml")")
  blob=$(sed "s|image: docker://ghcr.io/org/swa-actions:v1|image: docker://ghcr.io/org/swa-actions@$digest|" "$yml" \
    | git hash-object -w --stdin)
  add "$blob" "$name/action.yml"
  if [ -f "actions/$name/README.md" ]; then
    add "$(git hash-object -w "actions/$name/README.md")" "$name/README.md"
  fi
done
[ -f actions/README.md ] && add "$(git hash-object -w actions/README.md)" README.md
for wf in deploy-production rollback-production deploy-frontend; do
  add "$(git hash-object -w ".github/workflows/$wf.yml")" ".github/workflows/$wf.yml"
done
tree=$(git write-tree)

parent=()
if git rev-parse -q --verify "refs/tags/v1^{commit}" >/dev/null; then
  parent=(-p "$(git rev-parse "refs/tags/v1^{commit}")")
fi
source_commit=$(git rev-parse HEAD)
commit=$(git commit-tree "$tree" "${parent[@]}" -m "swa-actions $version" -m "Published from $source_commit; image ghcr.io/org/swa-actions@$digest.")
echo "published tree $tree, commit $commit"

if [ "$push" = "--push" ]; then
  git tag -f v1 "$commit"
  git tag "$version" "$commit"
  git push origin "refs/tags/$version" 
  git push --force origin refs/tags/v1
fi
