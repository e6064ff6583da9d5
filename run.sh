#!/usr/bin/env bash
# The run command: from a fresh clone to a running Verity at http://127.0.0.1:8000.
# Creates .venv, installs requirements.txt, then core/launcher.py starts the embedded servers
# (unless DATABASE_URL / REDIS_URL are set), migrates, bootstraps and runs web, worker and beat.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
venv_ensure requirements.txt
exec .venv/bin/python -m core.launcher "$@"
