#!/usr/bin/env bash
# The test command: installs what the suite needs (virtualenv, requirements-dev.txt, Debian's
# Chromium for the browser tests) and runs the whole suite against real PostgreSQL+pgvector and
# real Redis (embedded ones, started by the suite, unless DATABASE_URL / REDIS_URL are set).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
venv_ensure requirements-dev.txt
chromium_ensure
exec .venv/bin/python -m pytest "$@"
