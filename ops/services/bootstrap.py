"""First-run setup: roles, the admin account, demo users and the demo corpus.

Idempotent: running it again changes nothing that exists and prints no password twice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from core.roles import ALL_GROUPS, DOCUMENT_ADMINS, PROMPT_EDITORS, PROMPT_REVIEWERS, REVIEWERS
from ingestion.services.demo import demo_corpus_load

DEMO_READERS_GROUP = "demo_readers"
# username -> extra groups; every demo user reads the demo collection.
DEMO_USERS: dict[str, tuple[str, ...]] = {
    "demo": (),
    "reviewer": (REVIEWERS, PROMPT_REVIEWERS),
    "docadmin": (DOCUMENT_ADMINS,),
    "editor": (PROMPT_EDITORS,),  # proposes prompt changes; "reviewer" approves them
}


@dataclass
class BootstrapResult:
    created_credentials: dict[str, str] = field(default_factory=dict)
    documents_loaded: int = 0


@transaction.atomic
def groups_ensure() -> dict[str, Group]:
    return {
        name: Group.objects.get_or_create(name=name)[0]
        for name in (*ALL_GROUPS, PROMPT_EDITORS, PROMPT_REVIEWERS, DEMO_READERS_GROUP)
    }


@transaction.atomic
def bootstrap_run(*, with_demo: bool = True) -> BootstrapResult:
    """Create what a fresh Verity needs. Passwords come from VERITY_ADMIN_PASSWORD and
    VERITY_DEMO_PASSWORD, or are generated and returned once, at creation."""
    result = BootstrapResult()
    groups = groups_ensure()
    user_model = get_user_model()

    admin_name = settings.VERITY_ADMIN_USERNAME
    if not user_model.objects.filter(username=admin_name).exists():
        password = settings.VERITY_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        admin = user_model.objects.create_superuser(username=admin_name, email="", password=password)
        admin.groups.add(groups[DEMO_READERS_GROUP], groups[REVIEWERS], groups[DOCUMENT_ADMINS])
        result.created_credentials[admin_name] = password

    policies_seed()
    if not with_demo:
        return result
    for username, extra_groups in DEMO_USERS.items():
        if user_model.objects.filter(username=username).exists():
            continue
        password = settings.VERITY_DEMO_PASSWORD or secrets.token_urlsafe(12)
        user = user_model.objects.create_user(username=username, password=password)
        user.groups.add(groups[DEMO_READERS_GROUP], *(groups[g] for g in extra_groups))
        result.created_credentials[username] = password
    result.documents_loaded = len(demo_corpus_load(readers=groups[DEMO_READERS_GROUP]))
    return result


def policies_seed() -> None:
    """Put a budget policy in the database once, so that admins can edit it. (Model tiers and
    routing rules come from settings; an admin's ModelTier or RoutingPolicy row overrides them.)"""
    from qa.models import BudgetPolicy

    if not BudgetPolicy.objects.exists():
        BudgetPolicy.objects.create()
