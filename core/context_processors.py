from typing import Any

from django.http import HttpRequest

from core.selectors.roles import user_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which navigation entries the signed-in user may see."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"roles": None}
    return {"roles": user_roles(user=user)}
