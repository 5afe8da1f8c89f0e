#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/bootstrap.sh), starts a virtual display with a tray
# host when there is no display, then runs lint, type checks and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONUNBUFFERED=1

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
