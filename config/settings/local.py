"""Local development: the default of `manage.py` and the run command.

Opts in to what base leaves off: DEBUG (unless VERITY_DEBUG says otherwise) and, without a
SECRET_KEY in the environment, a random key created on first run and kept in
VERITY_DATA_DIR/secret_key (mode 0600), so sessions survive restarts."""

from config.env import env_bool, secret_key_from_file
from config.settings.base import *  # noqa: F403
from core import embedded

DEBUG = env_bool("VERITY_DEBUG", True)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
SECRET_KEY = SECRET_KEY or secret_key_from_file(embedded.data_dir() / "secret_key")  # noqa: F405
