"""For mypy's django-stubs plugin: settings that start no server (type checking needs none)."""

import os

os.environ["VERITY_EMBEDDED_SERVERS"] = "false"

from config.settings.base import *  # noqa: E402, F403
