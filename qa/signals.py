"""Signals other apps listen to. ``model_tier_changed`` fires after commit when a model tier
starts calling a different model (a new tier version, or a new tier): evaluation listens and
runs the prompt suites against the tier, the check a prompt change goes through (issue #16)."""

from django.dispatch import Signal

# Sent with: tier_name: str, version: int, model_before: str ("" for a new tier), model_after: str
model_tier_changed = Signal()
