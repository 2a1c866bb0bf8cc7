#!/usr/bin/env bash
# Keeps ONE open issue about drift: opened (or its body refreshed) while live Ionworks
# specifications differ from the manifests, closed with a comment once they agree again.
# The issue is the open one carrying LABEL whose body starts with MARKER, so a human issue
# that merely carries the label is never overwritten.
#
# Environment:
#   GH_TOKEN         token for gh (issues: write)
#   GH_REPO          owner/name
#   DRIFT_EXIT_CODE  exit code of `ionworks-apply drift`: 2 drift, 0 in sync
#   BODY_FILE        the drift report (markdown, starts with MARKER)
#   RUN_URL          link to the workflow run (optional)
#   LABEL            default: ionworks-drift
#   MARKER           default: <!-- ionworks-apply-drift -->
set -euo pipefail

: "${GH_REPO:?GH_REPO is required}"
: "${DRIFT_EXIT_CODE:?DRIFT_EXIT_CODE is required}"
label="${LABEL:-ionworks-drift}"
marker="${MARKER:-<!-- ionworks-apply-drift -->}"
title="ionworks-apply: live cell specifications drifted from the manifests"
checked="${RUN_URL:+ (run: ${RUN_URL})}"

issue="$(
  gh issue list --repo "$GH_REPO" --state open --label "$label" --limit 100 --json number,body |
    jq -r --arg marker "$marker" \
      'map(select((.body // "") | startswith($marker))) | min_by(.number) | .number // empty'
)"

case "$DRIFT_EXIT_CODE" in
  2)
    : "${BODY_FILE:?BODY_FILE is required when there is drift}"
    body="$(mktemp)"
    trap 'rm -f "$body"' EXIT
    if [[ "$(head -n 1 "$BODY_FILE")" != "$marker" ]]; then
      echo "$marker" >"$body"
    fi
    cat "$BODY_FILE" >>"$body"
    printf '\n\n_Last checked %s%s. Merge manifests that match the live state, or re-run apply, to resolve it._\n' \
      "$(date -u '+%Y-%m-%d %H:%M UTC')" "$checked" >>"$body"
    if [[ -n "$issue" ]]; then
      gh issue edit "$issue" --repo "$GH_REPO" --body-file "$body" >/dev/null
      echo "Updated drift issue #${issue}"
    else
      gh label create "$label" --repo "$GH_REPO" --force --color D93F0B \
        --description "Live Ionworks state differs from the manifests" >/dev/null
      gh issue create --repo "$GH_REPO" --title "$title" --label "$label" --body-file "$body"
    fi
    ;;
  0)
    if [[ -n "$issue" ]]; then
      gh issue close "$issue" --repo "$GH_REPO" \
        --comment "The live cell specifications match the manifests again${checked}. Closing."
      echo "Closed drift issue #${issue}"
    else
      echo "In sync; no drift issue open."
    fi
    ;;
  *)
    echo "::error title=drift-issue::unexpected drift exit code ${DRIFT_EXIT_CODE}; the issue was left alone"
    exit 1
    ;;
esac
