#!/usr/bin/env bash
# Builds the frozen SpaceVoice app (PyInstaller, one folder) into installer/dist/spacevoice and checks it is
# runtime only (no torch, transformers or optimum inside).
#
# A build takes minutes, so an existing build is reused when nothing it is made from changed: the sources
# (main.py, engine/, cli/, desktop/, resources/), the spec and its runtime hooks, pyproject.toml, the exact installed packages
# (pip freeze) and the Python version are hashed into installer/dist/spacevoice/.build-inputs.sha256.
# --force rebuilds anyway. PYTHON selects the interpreter (default: .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
DIST=installer/dist
WORK=installer/build
APP="$DIST/spacevoice"
STAMP="$APP/.build-inputs.sha256"
force=0
[ "${1:-}" = "--force" ] && force=1

inputs_hash() {
  {
    find main.py engine cli desktop resources installer/spacevoice.spec installer/hooks pyproject.toml -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 2>/dev/null \
      | LC_ALL=C sort -z | xargs -0 -r sha256sum
    "$PYTHON" -m pip freeze --all 2>/dev/null
    "$PYTHON" -VV
  } | sha256sum | cut -d' ' -f1
}

mkdir -p "$WORK"
# One build at a time: a second caller waits, then finds the fresh build and reuses it.
exec 9>"$WORK/.lock"
flock 9

want=$(inputs_hash)
if [ "$force" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$APP/spacevoice" ]; then
  echo "frozen app is up to date: $APP (inputs $want)"
  exit 0
fi

"$PYTHON" -c 'import PyInstaller' 2>/dev/null || {
  echo "PyInstaller is missing: install the build extra (.venv/bin/pip install -e '.[build]')" >&2
  exit 1
}
started=$(date +%s)
rm -f "$STAMP"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" --workpath "$WORK" installer/spacevoice.spec
"$PYTHON" installer/check_frozen.py "$APP"
echo "$want" > "$STAMP"
echo "built $APP in $(($(date +%s) - started)) s; size $(du -sh "$APP" | cut -f1)"
