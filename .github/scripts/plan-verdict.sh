#!/usr/bin/env bash
# The pull request's check, from the exit codes of validate and `plan --detailed-exitcode`:
# green when the manifests are valid and apply would make the plan's changes (or there are
# none); red when the manifests have problems, when plan failed, and when apply would REFUSE
# the plan (exit 3: a guard blocks a change, so after merge nothing at all would be written).
# For a refused plan, one annotation per block names the change and what would allow it.
#
# Environment:
#   VALIDATE_EXIT   exit code of validate
#   PLAN_EXIT       exit code of plan ("" when plan did not run, e.g. no credentials)
#   PLAN_FILE       the plan saved by plan --out (read for the blocked changes)
# The plan file holds names from manifests and Ionworks (a fork's pull request controls
# them), so every value is escaped as GitHub's toolkit escapes an annotation's message: it
# stays one annotation, never a second workflow command.
set -euo pipefail

if [[ "${VALIDATE_EXIT:-}" != 0 ]]; then
  echo "::error title=ionworks-apply validate::the manifests have problems (see the annotations)"
  exit 1
fi

case "${PLAN_EXIT:-}" in
  "" | 0 | 2) exit 0 ;;
  3) ;;
  *)
    echo "::error title=ionworks-apply plan::the plan failed (exit code ${PLAN_EXIT})"
    exit 1
    ;;
esac

echo "::error title=apply would refuse this plan::a safety guard blocks a change, so apply after merge would write nothing at all; each block and what allows it follows"
if [[ -n "${PLAN_FILE:-}" && -f "$PLAN_FILE" ]]; then
  jq -r '
    def message: gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
    .plans[] | .changes[] | . as $change | (.blocked_by // [])[]
    | "::error title=blocked change::"
      + ("\($change.kind) \"\($change.name)\" is blocked by \(.guard): \(.reason). Allow: \(.allow)"
         | message)
  ' "$PLAN_FILE" || echo "::error title=apply would refuse this plan::the plan file could not be read for details; see the plan comment"
fi
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo
    echo "**Apply would refuse this plan** (exit code 3): a safety guard blocks a change, so after"
    echo "merge nothing at all would be written. The warning above lists each blocked change and"
    echo "what would allow it."
  } >>"$GITHUB_STEP_SUMMARY"
fi
exit 1
