#!/usr/bin/env bash
# Runs one ionworks-apply command for the composite action and reports it the GitHub way:
# the command's own output in the log (validate's ::error lines become inline annotations),
# a markdown report appended to $GITHUB_STEP_SUMMARY, and step outputs in $GITHUB_OUTPUT.
#
# Exit code 2 means "changes" (plan) or "drift" (drift): a result, not an error, so the step
# succeeds. Any other non-zero code fails the step unless IA_FAIL_ON_ERROR=false, in which case
# the caller reads the exit-code output and decides.
#
# Inputs come from the environment (never from ${{ }} in the script text):
#   IA_COMMAND          validate | plan | apply | drift | show
#   IA_DIRECTORY        manifest directories (whitespace-separated), or a plan file (apply, show)
#   IA_EXPECT           apply only: the reviewed plan apply must match (apply --expect)
#   IA_ARGS             extra arguments for the command (whitespace-separated, no quoting)
#   IA_FAIL_ON_ERROR    "true" (default) or "false"
#   IA_OUTPUT_DIR       where report files go (default: a new directory under $RUNNER_TEMP)
#   IONWORKS_APPLY_BIN  the executable (default: ionworks-apply on PATH)
# Credentials (IONWORKS_API_KEY, ...) are read by ionworks-apply itself and never printed here.
set -euo pipefail

command="${IA_COMMAND:-}"
case "$command" in
  validate | plan | apply | drift | show) ;;
  *)
    echo "::error title=ionworks-apply::command must be validate, plan, apply, drift or show (got '${command}')"
    exit 1
    ;;
esac

fail_on_error="${IA_FAIL_ON_ERROR:-true}"
bin="${IONWORKS_APPLY_BIN:-ionworks-apply}"
out_dir="${IA_OUTPUT_DIR:-}"
if [[ -z "$out_dir" ]]; then
  out_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ionworks-apply-${command}.XXXXXX")"
fi
mkdir -p "$out_dir"

read -r -a targets <<<"${IA_DIRECTORY:-manifests}"
read -r -a extra <<<"${IA_ARGS:-}"

markdown_file="$out_dir/${command}.md"
stdout_file="$out_dir/${command}.out"
stderr_file="$out_dir/${command}.err"
plan_file=""
report_file=""

args=(--no-color "$command" "${targets[@]}")
case "$command" in
  plan)
    plan_file="$out_dir/plan.json"
    args+=(--format markdown --out "$plan_file" --detailed-exitcode)
    ;;
  drift | show)
    args+=(--format markdown)
    ;;
  apply)
    report_file="$out_dir/apply-report.json"
    args+=(--yes --report "$report_file")
    if [[ -n "${IA_EXPECT:-}" ]]; then
      args+=(--expect "$IA_EXPECT")
    fi
    ;;
esac
args+=("${extra[@]}")

# The title leaves out the extra arguments: they are the one place a caller could pass a secret.
echo "::group::ionworks-apply ${command} ${targets[*]}"
# Only validate may speak workflow commands (its ::error lines become inline annotations).
# The other commands print data that comes from the API, so the runner is told to ignore
# workflow commands in their output.
stop_token=""
if [[ "$command" != validate ]]; then
  stop_token="ionworks-apply-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  echo "::stop-commands::${stop_token}"
fi
set +e
# stdout streams to the log as it comes; stderr is kept apart (plan and drift print their
# markdown on stdout) and replayed right after.
"$bin" "${args[@]}" 2>"$stderr_file" | tee "$stdout_file"
code="${PIPESTATUS[0]}"
set -e
cat "$stderr_file" >&2
if [[ -n "$stop_token" ]]; then
  echo "::${stop_token}::"
fi
echo "::endgroup::"

has_changes=false
if [[ "$code" == 2 && ("$command" == plan || "$command" == drift) ]]; then
  has_changes=true
fi

outcome() {
  case "$1" in
    0) echo "ok" ;;
    1) echo "failed" ;;
    2) echo "changes" ;;
    3) echo "blocked" ;;
    *) echo "error" ;;
  esac
}

# A fence that cannot be closed by the text it wraps: longer than any run of tildes in it (a
# line of four or more tildes would close a four-tilde fence, and file and spec names in the
# log are other people's text).
fenced() {
  local fence
  fence="$(
    awk '!/^::/ {
           rest = $0
           while (match(rest, /~+/)) {
             if (RLENGTH > longest) longest = RLENGTH
             rest = substr(rest, RSTART + RLENGTH)
           }
         }
         END {
           n = (longest < 3 ? 3 : longest) + 1
           while (length(fence) < n) fence = fence "~"
           print fence
         }' "$1"
  )"
  echo "${fence}text"
  grep -v '^::' "$1" || true
  echo "$fence"
}

write_markdown() {
  local marker="<!-- ionworks-apply-${command} -->"
  if [[ "$command" == show ]]; then
    marker="<!-- ionworks-apply-plan -->"
  fi
  case "$command" in
    plan | drift | show)
      if [[ -s "$stdout_file" ]]; then
        if [[ "$(head -n 1 "$stdout_file")" != "$marker" ]]; then
          echo "$marker"
        fi
        cat "$stdout_file"
      else
        echo "$marker"
      fi
      if [[ "$command" == plan && "$code" == 3 ]]; then
        echo
        echo "**Apply would refuse this plan (exit code 3)**: a safety guard blocks a change, so"
        echo "apply would write nothing at all. The warning above says what would allow it."
      elif [[ "$code" != 0 && "$code" != 2 ]]; then
        echo
        echo "**ionworks-apply ${command} $(outcome "$code") (exit code ${code})**"
        echo
        fenced "$stderr_file"
      fi
      ;;
    validate | apply)
      echo "$marker"
      echo "### ionworks-apply ${command}: $(outcome "$code") (exit code ${code})"
      echo
      cat "$stdout_file" "$stderr_file" >"$out_dir/${command}.log"
      fenced "$out_dir/${command}.log"
      ;;
  esac
}

write_markdown >"$markdown_file"

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    cat "$markdown_file"
    echo
  } >>"$GITHUB_STEP_SUMMARY"
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  {
    echo "exit-code=${code}"
    echo "has-changes=${has_changes}"
    echo "markdown-file=${markdown_file}"
    echo "plan-file=${plan_file}"
    echo "report-file=${report_file}"
  } >>"$GITHUB_OUTPUT"
fi

if [[ "$code" == 0 || "$code" == 2 ]]; then
  exit 0
fi
if [[ "$fail_on_error" == false ]]; then
  echo "::warning title=ionworks-apply ${command}::exit code ${code} ($(outcome "$code")); fail-on-error is false"
  exit 0
fi
echo "::error title=ionworks-apply ${command}::exit code ${code} ($(outcome "$code"))"
exit "$code"
