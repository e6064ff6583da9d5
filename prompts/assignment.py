"""Sticky assignment of a subject (a user) to an arm of an A/B experiment.

The arm is a pure function of the experiment's key, the subject and the shares, so it needs no
stored assignment and gives the same answer in every web process, Celery worker and after a
restart. The hash is sha256, not Python's ``hash()``: that one is salted per process
(PYTHONHASHSEED), so two workers would put the same user in different arms.

Hashing the experiment key together with the subject makes experiments independent: a user in
arm B of one experiment is in either arm of another with the shares' own odds, and changing an
experiment's key reshuffles that experiment alone.

Shares are whole percentages summing to 100. Arms take consecutive bucket ranges in the order
given, so changing the shares moves only the users whose bucket crosses a boundary: raising the
last arm from 50 to 60 moves a tenth of the users into it and nobody out of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

SHARE_TOTAL = 100


def shares_validate(*, shares: Sequence[tuple[T, int]]) -> None:
    """Raise ValueError unless ``shares`` is a non-empty list of (arm, whole percent) pairs whose
    percents are non-negative and sum to 100. A zero share is allowed: the arm gets nobody
    (an arm paused without renumbering the others)."""
    if not shares:
        raise ValueError("an experiment needs at least one arm with a share")
    for arm, share in shares:
        if isinstance(share, bool) or not isinstance(share, int):
            raise ValueError(f"the share of arm {arm!r} must be a whole percent, got {share!r}")
        if share < 0:
            raise ValueError(f"the share of arm {arm!r} cannot be negative, got {share}")
    total = sum(share for _, share in shares)
    if total != SHARE_TOTAL:
        listed = ", ".join(f"{arm!r}: {share}" for arm, share in shares)
        raise ValueError(f"shares must sum to {SHARE_TOTAL}, these sum to {total} ({listed})")


def subject_bucket(*, experiment_key: str, subject: str) -> int:
    """The subject's bucket in ``range(SHARE_TOTAL)`` for this experiment, stable everywhere.

    Raises ValueError for an empty key or subject: an empty subject (say, an anonymous user
    without a session) would put every such visitor in one arm and bias that arm.
    """
    if not experiment_key:
        raise ValueError("experiment_key cannot be empty")
    if not subject:
        raise ValueError("subject cannot be empty")
    digest = hashlib.sha256(f"{experiment_key}:{subject}".encode()).digest()
    # 64 bits reduced modulo 100: the modulo bias is below 1e-17, far under any measurable split.
    return int.from_bytes(digest[:8], "big") % SHARE_TOTAL


def arm_pick(*, experiment_key: str, subject: str, shares: Sequence[tuple[T, int]]) -> T:
    """The arm ``subject`` belongs to in the experiment ``experiment_key``.

    ``shares`` is a sequence of (arm, percent) pairs summing to 100 (``shares_validate``); the arm
    can be any value (an ExperimentArm, its id, a label). The same key, subject and shares give
    the same arm in every process. Raises ValueError for invalid shares or an empty key/subject.
    """
    shares_validate(shares=shares)
    bucket = subject_bucket(experiment_key=experiment_key, subject=subject)
    upper = 0
    for arm, share in shares:
        upper += share
        if bucket < upper:
            return arm
    # Unreachable: the shares sum to SHARE_TOTAL and bucket < SHARE_TOTAL.
    raise AssertionError(f"bucket {bucket} beyond the shares' total")
