#!/usr/bin/env bash
# Keeps ONE ionworks-apply comment per pull request: the bot comment whose body starts with
# MARKER is edited in place on every push, so the PR shows the latest plan instead of a pile.
#
# Environment:
#   GH_TOKEN     token for gh (pull-requests: write)
#   GH_REPO      owner/name
#   PR_NUMBER    pull request number
#   BODY_FILE    markdown to post
#   MARKER       hidden first line that identifies the comment (default: the plan marker)
set -euo pipefail

: "${GH_REPO:?GH_REPO is required}"
: "${PR_NUMBER:?PR_NUMBER is required}"
: "${BODY_FILE:?BODY_FILE is required}"
marker="${MARKER:-<!-- ionworks-apply-plan -->}"
# GitHub refuses comment bodies over 65,536 characters.
max_bytes=60000

body="$(mktemp)"
trap 'rm -f "$body"' EXIT
if [[ "$(head -n 1 "$BODY_FILE")" != "$marker" ]]; then
  echo "$marker" >"$body"
fi
cat "$BODY_FILE" >>"$body"
if (($(wc -c <"$body") > max_bytes)); then
  truncated="$(mktemp)"
  head -c "$max_bytes" "$body" >"$truncated"
  printf '\n\n_Truncated: the full report is in the job summary and the run artifacts._\n' >>"$truncated"
  mv "$truncated" "$body"
fi

existing="$(
  gh api --paginate "repos/${GH_REPO}/issues/${PR_NUMBER}/comments" |
    jq -rn --arg marker "$marker" \
      '[inputs[] | select(.user.type == "Bot" and ((.body // "") | startswith($marker))) | .id]
       | first // empty'
)"

payload() { jq -n --rawfile body "$body" '{body: $body}'; }

if [[ -n "$existing" ]]; then
  url="$(payload | gh api --method PATCH "repos/${GH_REPO}/issues/comments/${existing}" --input - | jq -r .html_url)"
  echo "Updated the ionworks-apply comment: ${url}"
else
  url="$(payload | gh api --method POST "repos/${GH_REPO}/issues/${PR_NUMBER}/comments" --input - | jq -r .html_url)"
  echo "Created the ionworks-apply comment: ${url}"
fi
