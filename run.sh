#!/usr/bin/env bash
# One-command set-up and run on a fresh Debian machine with Python 3.11:
#   bash run.sh app     install what is needed, then start drumgen
#   bash run.sh test    install what is needed, then run the test suite
# Everything goes into .venv beside this file; rerunning skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-app}"; shift || true

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian's own Python keeps venv in a separate package (we run as root there)
    rm -rf .venv
    apt-get update -qq && apt-get install -y -qq python3-venv
    "$PY" -m venv .venv
  fi
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt pyproject.toml | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q -r requirements.txt
  # the package itself, editable: `import drumgen` works from anywhere, scripts need no path edits
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

case "$what" in
  app)  exec .venv/bin/python app.py "$@" ;;
  test) exec .venv/bin/python -m pytest -q "$@" tests ;;
  *)    echo "usage: bash run.sh [app|test]" >&2; exit 2 ;;
esac
