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
