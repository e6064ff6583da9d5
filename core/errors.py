"""Errors shared across apps."""


class StartupError(RuntimeError):
    """A fault that stops Verity from starting; its message names the cause and the fix in one line."""


class ApplicationError(Exception):
    """A business-rule failure a service reports to its caller; the message is safe to show a user."""

    def __init__(self, message: str, *, extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
