from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User

from core.roles import DOCUMENT_ADMINS, REVIEWERS


@dataclass(frozen=True)
class UserRoles:
    is_staff: bool
    is_reviewer: bool
    is_document_admin: bool


def user_roles(*, user: User | AnonymousUser) -> UserRoles:
    if not user.is_authenticated:
        return UserRoles(is_staff=False, is_reviewer=False, is_document_admin=False)
    names = set(user.groups.values_list("name", flat=True))
    superuser = bool(getattr(user, "is_superuser", False))
    return UserRoles(
        is_staff=bool(getattr(user, "is_staff", False)),
        is_reviewer=superuser or REVIEWERS in names,
        is_document_admin=superuser or DOCUMENT_ADMINS in names,
    )
