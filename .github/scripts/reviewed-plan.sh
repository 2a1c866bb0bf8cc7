#!/usr/bin/env bash
# Finds the plan reviewers saw for a commit pushed to the default branch: the merged pull
# request whose merge commit it is, that pull request's LAST head commit, and the newest
# finished run of the plan workflow for exactly that commit; downloads its plan.json.
#
# Anything missing (a push that is no pull request's merge, a plan that never ran or did not
# finish for the last commit, an expired artifact, no plan.json in it) is an error: with no
# reviewed plan, nothing is applied.
#
# The plan file is untrusted input (a fork's pull request controls what its plan run uploads).
# It is only ever given to `ionworks-apply apply --expect`, which plans the merged manifests
# again and writes nothing unless that fresh plan is exactly this one.
#
# Environment:
#   GH_TOKEN, GH_REPO   for gh (actions: read, contents: read, pull-requests: read)
#   MERGED_SHA          the pushed commit (github.sha)
#   OUT_DIR             where plan.json is written
#   PLAN_WORKFLOW       the plan workflow's file name (default: plan.yml)
#   PLAN_ARTIFACT       the artifact holding plan.json (default: ionworks-plan)
# Step outputs (GITHUB_OUTPUT): plan-file, pr-number, head-sha, plan-run-id.
set -euo pipefail

: "${GH_REPO:?GH_REPO is required}"
: "${MERGED_SHA:?MERGED_SHA is required}"
: "${OUT_DIR:?OUT_DIR is required}"
workflow="${PLAN_WORKFLOW:-plan.yml}"
artifact="${PLAN_ARTIFACT:-ionworks-plan}"

refuse() {
  echo "::error title=no reviewed plan::$1; nothing is applied. Open a pull request (its plan is reviewed), or run this workflow by hand: it plans, and the environment's reviewer approves that plan."
  exit 1
}

pull="$(
  gh api "repos/${GH_REPO}/commits/${MERGED_SHA}/pulls" |
    jq -c --arg sha "$MERGED_SHA" \
      '[.[] | select(.merged_at != null and .merge_commit_sha == $sha)] | first // empty'
)"
[[ -n "$pull" ]] || refuse "commit ${MERGED_SHA} is not the merge of a pull request, so no plan was reviewed for it"
number="$(jq -r '.number' <<<"$pull")"
head_sha="$(jq -r '.head.sha' <<<"$pull")"

run_id="$(
  gh run list --workflow "$workflow" --commit "$head_sha" --event pull_request \
    --status completed --limit 50 --json databaseId,createdAt |
    jq -r 'sort_by(.createdAt) | last | .databaseId // empty'
)"
[[ -n "$run_id" ]] || refuse "pull request #${number}: no finished ${workflow} run for its last commit ${head_sha}"

download="$OUT_DIR/artifact"
rm -rf "$download"
mkdir -p "$download"
gh run download "$run_id" --name "$artifact" --dir "$download" >/dev/null ||
  refuse "pull request #${number}: the ${artifact} artifact of plan run ${run_id} could not be downloaded (expired?)"
if [[ ! -f "$download/plan.json" || -L "$download/plan.json" ]]; then
  refuse "pull request #${number}: its last plan (run ${run_id}) holds no plan.json: it did not plan (invalid manifests, or no credentials)"
fi
cp "$download/plan.json" "$OUT_DIR/plan.json"

echo "Reviewed plan: pull request #${number}, last commit ${head_sha}, plan run ${run_id}."
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  {
    echo "plan-file=$OUT_DIR/plan.json"
    echo "pr-number=${number}"
    echo "head-sha=${head_sha}"
    echo "plan-run-id=${run_id}"
  } >>"$GITHUB_OUTPUT"
fi
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  echo "Applying the plan reviewed on pull request #${number} (last commit \`${head_sha}\`, plan run ${run_id}), or nothing." >>"$GITHUB_STEP_SUMMARY"
fi
