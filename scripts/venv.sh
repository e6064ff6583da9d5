# Shared by run.sh and test.sh: a virtualenv in .venv, reinstalled only when a requirements
# file changed, and Debian's Chromium for the browser tests.

python_find() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Verity needs Python 3.11 (Django 5.2 LTS); install it or set PYTHON=/path/to/python3.11" >&2
  return 1
}

venv_ensure() {
  local requirements="$1"
  if [ ! -x .venv/bin/python ]; then
    local python; python=$(python_find)
    echo "[verity] creating virtualenv .venv with $python"
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local sum; sum=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  local stamp=".venv/.installed-$(basename "$requirements")"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "[verity] installing $requirements (first run takes a few minutes)"
    .venv/bin/python -m pip install --quiet -r "$requirements"
    echo "$sum" > "$stamp"
  fi
}

chromium_ensure() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[verity] installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Debian's chromium at /usr/bin/chromium; run: sudo apt-get install chromium" >&2
    return 1
  fi
}
