"""Local development: the default of `manage.py` and the run command."""

from config.settings.base import *  # noqa: F403
