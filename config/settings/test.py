"""The test suite: embedded servers in their own data folder, apart from the run command's."""

import os
from pathlib import Path

os.environ.setdefault("VERITY_DATA_DIR", str(Path(__file__).resolve().parents[2] / ".verity" / "test"))

from config.env import secret_key_from_file  # noqa: E402
from config.settings.base import *  # noqa: E402, F403
from core import embedded  # noqa: E402

# The suite's own random key, in its data folder: the workers and daphne it starts read the same
# file, so a session made in the test process is valid in them.
SECRET_KEY = SECRET_KEY or secret_key_from_file(embedded.data_dir() / "secret_key")  # noqa: F405

# DEBUG stays off (base's default); the daphne servers the browser tests start serve the static
# files from their source folders, as the run command does, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
# Tests roll back each other's policy rows: never reuse a policy read in another test.
QA_POLICY_CACHE_SECONDS = 0.0
# Abuse limits high enough that the suite never trips them; the tests of the limits set their own.
# Django's test client logs in without a request, which django-axes refuses: off here, on in
# tests/core/test_rate_limits.py.
AXES_ENABLED = False
VERITY_RATE_QUESTIONS_PER_MINUTE = 100_000
VERITY_RATE_SEARCHES_PER_MINUTE = 100_000
VERITY_RATE_UPLOADS_PER_MINUTE = 100_000
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": None, "user": None}  # noqa: F405
