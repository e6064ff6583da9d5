"""The test suite: embedded servers in their own data folder, apart from the run command's."""

import os
from pathlib import Path

os.environ.setdefault("VERITY_DATA_DIR", str(Path(__file__).resolve().parents[2] / ".verity" / "test"))

from config.settings.base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
# Tests roll back each other's policy rows: never reuse a policy read in another test.
QA_POLICY_CACHE_SECONDS = 0.0
