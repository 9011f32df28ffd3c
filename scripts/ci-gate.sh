#!/usr/bin/env bash
# The benchmark regression gate as one script (what .github/workflows/benchmark-gate.yml and
# `tox -e gate` run): run a suite, then gate it against the committed leaderboard of the suite's
# current version, results/<suite>/v<version>/leaderboard.json (and its gate-calibration.json).
#
#   scripts/ci-gate.sh [SUITE]            SUITE: a shipped suite name or a .toml path (default: gate)
#
# Environment (all optional):
#   XREC_GATE_BASELINE   baseline leaderboard.json (default: results/<suite>/v<version>/leaderboard.json)
#   XREC_GATE_OUT        run folder (default: runs/<suite>); uploaded as an artifact by the workflow
#   XREC_GATE_ARGS       extra arguments for `xrec-bench gate` (e.g. "--allow-incomparable")
#   XREC_BENCH           the xrec-bench command (default: xrec-bench)
#   GITHUB_STEP_SUMMARY  when set, the gate's Markdown summary is appended there
# Exit status: 0 passed, 1 regression, 2 not comparable/bad input, 3 no baseline for this version.
set -euo pipefail

SUITE="${1:-${XREC_BENCH_SUITE:-gate}}"
BENCH="${XREC_BENCH:-xrec-bench}"

# the suite's name and version, as the harness reads them ("suite gate v1 (hash) is valid: ...")
CHECK="$($BENCH run --suite "$SUITE" --check)"
NAME="$(printf '%s\n' "$CHECK" | sed -n 's/^suite \([^ ]*\) v\([0-9][0-9]*\) .*/\1/p' | head -n1)"
VERSION="$(printf '%s\n' "$CHECK" | sed -n 's/^suite \([^ ]*\) v\([0-9][0-9]*\) .*/\2/p' | head -n1)"
if [ -z "$NAME" ] || [ -z "$VERSION" ]; then
  echo "ci-gate: could not read the suite's name and version from '$BENCH run --suite $SUITE --check':" >&2
  printf '%s\n' "$CHECK" >&2
  exit 2
fi
BASELINE="${XREC_GATE_BASELINE:-results/$NAME/v$VERSION/leaderboard.json}"
OUT="${XREC_GATE_OUT:-runs/$NAME}"

if [ ! -f "$BASELINE" ]; then
  msg="ci-gate: no baseline for suite $NAME v$VERSION: $BASELINE does not exist. A change that bumped the
suite version must also commit its leaderboard: run the suite, then
  xrec-bench leaderboard build --runs $OUT --out results
and (for the latency threshold) two more clean runs and
  xrec-bench gate-calibrate $OUT <run2> <run3> --out results/$NAME/v$VERSION/gate-calibration.json"
  echo "$msg" >&2
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    printf '## xrec-bench gate: NO BASELINE\n\n```\n%s\n```\n' "$msg" >> "$GITHUB_STEP_SUMMARY"
  fi
  exit 3
fi

echo "ci-gate: running suite $NAME v$VERSION into $OUT, baseline $BASELINE"
$BENCH run --suite "$SUITE" --out "$OUT" --no-progress

SUMMARY="$OUT/gate-summary.md"
rm -f "$SUMMARY"
status=0
# shellcheck disable=SC2086 # XREC_GATE_ARGS is a list of words
$BENCH gate --baseline "$BASELINE" --candidate "$OUT" --markdown "$SUMMARY" ${XREC_GATE_ARGS:-} || status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$SUMMARY" ]; then
  cat "$SUMMARY" >> "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
