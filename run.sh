#!/usr/bin/env bash
# One-command set-up and run on a fresh Debian machine with Python 3.11:
#   bash run.sh app     install what is needed, then start drumgen
#   bash run.sh test    install what is needed, then run the test suite (but the slow tests: -m slow)
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
# Debian packages: packages.txt (the same list a Hugging Face Space installs: FluidSynth for the
# audio preview, libsndfile) for the app; `test` adds chromium for the browser tests. Installed only
# when missing, as root with apt-get; elsewhere the app runs without audio and says why.
debs=()
while read -r pkg; do [ -n "$pkg" ] && debs+=("$pkg"); done < <(sed 's/#.*//; s/[[:space:]]//g' packages.txt)
[ "$what" = test ] && debs+=(chromium)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${debs[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}"; } >/dev/null 2>&1 \
      || echo "run.sh: could not install ${missing[*]} (apt-get failed); audio or browser tests may be unavailable" >&2
  else
    echo "run.sh: missing Debian packages ${missing[*]} (install them as root); audio or browser tests may be unavailable" >&2
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
  test)
    # the whole suite, unless the arguments name test files or folders themselves; of the whole suite
    # the tests marked slow (the page's soak and restarts, minutes) only when asked: -m slow, or -m '' for all
    # (a path right after an option that takes a value, as in --ignore tests/x.py, is that value: not a test named)
    args=("$@"); named=0; marked=0; prev=""
    valued='^(--ignore|--ignore-glob|--deselect|--basetemp|--rootdir|--confcutdir|-c|-p|-k|-m|-o|-W|--junitxml)$'
    for a in "$@"; do
      [[ "$a" != -* && ! "$prev" =~ $valued && -e "${a%%::*}" ]] && named=1
      [[ "$a" =~ ^-m || "$a" =~ ^-[a-zA-Z]*m$ ]] && marked=1   # -m EXPR, -mEXPR, -vm EXPR (not -kmidi)
      prev="$a"
    done
    [ "$named" = 1 ] || args+=(tests)
    if [ "$named" = 0 ] && [ "$marked" = 0 ]; then
      args+=(-m "not slow")
      echo "run.sh: the tests marked slow are left out (bash run.sh test -m slow runs them)" >&2
    fi
    exec .venv/bin/python -m pytest -q "${args[@]}" ;;
  *)    echo "usage: bash run.sh [app|test]" >&2; exit 2 ;;
esac
