"""Sticky assignment of users to experiment arms: the split, stickiness across processes,
independence between experiments, and share validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from prompts.assignment import SHARE_TOTAL, arm_pick, shares_validate, subject_bucket
from tests.helpers import ROOT

USERS = [str(user_id) for user_id in range(1, 10_001)]


def _split(*, experiment_key: str, shares: list[tuple[str, int]]) -> dict[str, float]:
    counts = Counter(arm_pick(experiment_key=experiment_key, subject=user, shares=shares) for user in USERS)
    return {arm: 100 * counts[arm] / len(USERS) for arm, _ in shares}


@pytest.mark.parametrize(
    "shares",
    [
        [("A", 50), ("B", 50)],
        [("A", 20), ("B", 30), ("C", 50)],
    ],
)
def test_the_split_over_ten_thousand_users_is_within_two_points_of_each_share(shares: list[tuple[str, int]]) -> None:
    split = _split(experiment_key="answer-prompt-v2", shares=shares)

    for arm, share in shares:
        assert abs(split[arm] - share) <= 2, f"arm {arm}: {split[arm]:.2f}% of users for a {share}% share"


def test_the_same_user_gets_the_same_arm_every_time() -> None:
    shares = [("A", 20), ("B", 30), ("C", 50)]

    first = [arm_pick(experiment_key="exp", subject=user, shares=shares) for user in USERS[:500]]
    second = [arm_pick(experiment_key="exp", subject=user, shares=shares) for user in USERS[:500]]

    assert first == second
    assert set(first) == {"A", "B", "C"}


def test_the_assignment_is_the_same_in_other_processes_whatever_their_hash_seed() -> None:
    # Python's hash() of a str changes with PYTHONHASHSEED; a web process and a Celery worker must
    # still agree on every user's arm.
    shares = [("A", 20), ("B", 30), ("C", 50)]
    users = USERS[:300]
    here = [arm_pick(experiment_key="exp", subject=user, shares=shares) for user in users]
    script = (
        "import json, sys\n"
        "from prompts.assignment import arm_pick\n"
        "shares, users = json.loads(sys.stdin.read())\n"
        "shares = [tuple(pair) for pair in shares]\n"
        "print(json.dumps([arm_pick(experiment_key='exp', subject=u, shares=shares) for u in users]))\n"
    )

    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps([shares, users]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
        assert json.loads(result.stdout) == here, f"PYTHONHASHSEED={seed} assigned differently"


def test_the_bucket_scheme_is_pinned_so_a_refactor_cannot_reshuffle_running_experiments() -> None:
    # sha256("answer-prompt-v2:<user>"), first 8 bytes big-endian, modulo 100 (computed by hand
    # with hashlib when the scheme was written).
    assert subject_bucket(experiment_key="answer-prompt-v2", subject="user-1") == 88
    assert subject_bucket(experiment_key="answer-prompt-v2", subject="42") == 68
    assert subject_bucket(experiment_key="answer-prompt-v2", subject="alice@example.com") == 70


def test_two_experiments_assign_independently() -> None:
    shares = [("A", 50), ("B", 50)]
    first = [arm_pick(experiment_key="tone-test", subject=user, shares=shares) for user in USERS]
    second = [arm_pick(experiment_key="model-tier-test", subject=user, shares=shares) for user in USERS]

    changed = sum(a != b for a, b in zip(first, second, strict=True)) / len(USERS)
    cells = Counter(zip(first, second, strict=True))

    assert 0.47 <= changed <= 0.53, f"{changed:.1%} of users changed arm"
    # Independent: each of the four combinations holds about a quarter of the users.
    for combination in [("A", "A"), ("A", "B"), ("B", "A"), ("B", "B")]:
        assert 0.23 <= cells[combination] / len(USERS) <= 0.27, cells


def test_raising_the_last_arms_share_moves_users_into_it_and_nobody_out() -> None:
    before = [arm_pick(experiment_key="exp", subject=u, shares=[("A", 50), ("B", 50)]) for u in USERS]
    after = [arm_pick(experiment_key="exp", subject=u, shares=[("A", 40), ("B", 60)]) for u in USERS]

    moves = Counter((b, a) for b, a in zip(before, after, strict=True) if b != a)

    assert moves[("B", "A")] == 0
    assert 0.08 <= moves[("A", "B")] / len(USERS) <= 0.12


def test_an_arm_with_a_zero_share_gets_nobody() -> None:
    shares = [("A", 50), ("paused", 0), ("B", 50)]

    picked = {arm_pick(experiment_key="exp", subject=user, shares=shares) for user in USERS[:2000]}

    assert picked == {"A", "B"}


def test_arms_can_be_any_value() -> None:
    arm = arm_pick(experiment_key="exp", subject="7", shares=[(101, 100)])

    assert arm == 101


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([], "at least one arm"),
        ([("A", -10), ("B", 110)], "cannot be negative"),
        ([("A", 50), ("B", 40)], "sum to 100, these sum to 90"),
        ([("A", 60), ("B", 60)], "sum to 100, these sum to 120"),
        ([("A", 50.0), ("B", 50)], "whole percent"),
        ([("A", True), ("B", 99)], "whole percent"),
    ],
)
def test_invalid_shares_are_refused_with_a_clear_message(shares: list[tuple[str, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shares_validate(shares=shares)
    with pytest.raises(ValueError, match=message):
        arm_pick(experiment_key="exp", subject="1", shares=shares)


def test_valid_shares_pass() -> None:
    shares_validate(shares=[("A", 33), ("B", 33), ("C", 34)])
    shares_validate(shares=[("only", SHARE_TOTAL)])


@pytest.mark.parametrize(("experiment_key", "subject"), [("", "1"), ("exp", "")])
def test_an_empty_key_or_subject_is_refused(experiment_key: str, subject: str) -> None:
    # An empty subject would put every such visitor in one arm.
    with pytest.raises(ValueError, match="cannot be empty"):
        arm_pick(experiment_key=experiment_key, subject=subject, shares=[("A", 50), ("B", 50)])
