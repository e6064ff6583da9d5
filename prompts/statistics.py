"""Significance tests that say when the difference between two arms of a prompt A/B test is real.

Pure functions over counts and values: no models, no database. The experiment selectors gather
per-arm numbers and pass them here; the page shows ``Comparison.summary`` and colours the verdict.

Which test for which metric:

- a rate (helpful rate of rated answers, decline rate): ``proportions_test``, the two-proportion
  z-test with a pooled standard error (the textbook test of "no difference"; its square is the
  chi-square test of the 2x2 table without continuity correction);
- a mean (unsupported sentences removed, time to first words, cost per answer): ``means_test``,
  Welch's t-test, because the arms' variances differ (a new model can be both slower and more
  erratic) and Student's pooled-variance test is then wrong in either direction;
- a skewed mean (cost, latency: long right tails): ``bootstrap_mean_diff_ci`` as well, a
  percentile bootstrap interval that assumes no distribution shape.

The verdict only says whether B is higher or lower; whether higher is good depends on the metric
(a higher helpful rate is good, a higher cost is not), so the caller decides.

Degenerate inputs never raise (invalid ones do, see each function). The conventions:

- an arm with fewer than ``min_sample`` observations, or none at all: ``Verdict.TOO_FEW`` with
  ``p_value=None`` and ``statistic=None`` (the difference is still reported when both arms have
  data, so the page can show it greyed out);
- both arms identical with no spread (all successes in both, all failures in both, or both arms
  one constant and the same constant): ``p_value=1.0``, ``Verdict.NO_DIFFERENCE``;
- both arms without spread but at different constants (Welch only: every answer in A cost 2 and
  every one in B cost 3): ``p_value=0.0`` and the direction, the limit of the test as the
  variances go to zero. The difference is exact, not a sampling accident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

# The conventional 5% false-positive rate per comparison. An experiment page compares several
# metrics at once, so roughly one in twenty "significant" metrics is expected by chance alone.
ALPHA_DEFAULT = 0.05

# Bootstrap resamples: 10,000 keeps the Monte Carlo error of a 95% percentile bound well under
# the interval's own width for the arm sizes an experiment reaches (hundreds to thousands).
BOOTSTRAP_RESAMPLES_DEFAULT = 10_000

# Resampled values drawn per batch, so that memory stays bounded (about 16 MB of indices and
# values) however large the arms grow.
_BOOTSTRAP_BATCH_CELLS = 1_000_000


class Verdict(StrEnum):
    TOO_FEW = "too_few"
    NO_DIFFERENCE = "no_difference"
    B_HIGHER = "b_higher"
    B_LOWER = "b_lower"


@dataclass(frozen=True)
class Comparison:
    """The outcome of one test between arm A (the control) and arm B.

    ``value_a``/``value_b`` are the arms' rates (0..1) or means; ``difference`` is
    ``value_b - value_a`` (a rate difference as a fraction: 0.041 is 4.1 points), or ``None``
    when an arm has no data. ``statistic`` is z or t. ``p_value`` is two-sided.
    """

    value_a: float | None
    value_b: float | None
    difference: float | None
    n_a: int
    n_b: int
    statistic: float | None
    p_value: float | None
    verdict: Verdict
    alpha: float
    summary: str


@dataclass(frozen=True)
class ConfidenceInterval:
    """A confidence interval for ``mean(B) - mean(A)``."""

    low: float
    high: float
    confidence: float


def proportions_test(
    *,
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    min_sample: int,
    alpha: float = ALPHA_DEFAULT,
) -> Comparison:
    """Two-proportion z-test (pooled standard error, two-sided) of rate B against rate A.

    Raises ValueError for counts that cannot be (negative, more successes than trials) and for an
    alpha outside (0, 1). An arm with zero trials is always ``TOO_FEW``, whatever ``min_sample``.
    """
    _alpha_validate(alpha=alpha)
    _min_sample_validate(min_sample=min_sample)
    for name, successes, n in (("A", successes_a, n_a), ("B", successes_b, n_b)):
        if n < 0 or successes < 0:
            raise ValueError(f"arm {name}: counts cannot be negative (successes={successes}, n={n})")
        if successes > n:
            raise ValueError(f"arm {name}: {successes} successes out of {n} trials is impossible")

    rate_a = successes_a / n_a if n_a else None
    rate_b = successes_b / n_b if n_b else None
    if rate_a is None or rate_b is None or n_a < min_sample or n_b < min_sample:
        return _too_few(
            value_a=rate_a, value_b=rate_b, n_a=n_a, n_b=n_b, min_sample=min_sample, alpha=alpha, points=True
        )
    pooled = (successes_a + successes_b) / (n_a + n_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    difference = rate_b - rate_a
    if standard_error == 0:
        # The pooled rate is 0 or 1: both arms all failures or all successes, so equal.
        statistic, p_value = None, 1.0
    else:
        statistic = difference / standard_error
        p_value = float(2 * stats.norm.sf(abs(statistic)))
    return _decided(
        value_a=rate_a, value_b=rate_b, n_a=n_a, n_b=n_b, statistic=statistic, p_value=p_value, alpha=alpha, points=True
    )


def means_test(
    *,
    values_a: Sequence[float],
    values_b: Sequence[float],
    min_sample: int,
    alpha: float = ALPHA_DEFAULT,
) -> Comparison:
    """Welch's t-test (unequal variances, Welch–Satterthwaite degrees of freedom, two-sided).

    Raises ValueError for non-finite values (NaN, infinity) and an alpha outside (0, 1). A sample
    variance needs two observations, so an arm with fewer than two is always ``TOO_FEW``.
    """
    _alpha_validate(alpha=alpha)
    _min_sample_validate(min_sample=min_sample)
    a = _finite_array(values=values_a, arm="A")
    b = _finite_array(values=values_b, arm="B")
    n_a, n_b = len(a), len(b)
    mean_a = _mean(values=a)
    mean_b = _mean(values=b)
    needed = max(min_sample, 2)
    if mean_a is None or mean_b is None or n_a < needed or n_b < needed:
        return _too_few(value_a=mean_a, value_b=mean_b, n_a=n_a, n_b=n_b, min_sample=needed, alpha=alpha, points=False)
    difference = mean_b - mean_a
    # Squared standard errors of each mean (sample variance, n - 1 denominator).
    se2_a = _variance(values=a) / n_a
    se2_b = _variance(values=b) / n_b
    se2 = se2_a + se2_b
    if se2 == 0:
        # No spread in either arm: the observed difference is exact (see the module docstring).
        statistic, p_value = None, 1.0 if difference == 0 else 0.0
    else:
        statistic = difference / math.sqrt(se2)
        degrees_of_freedom = se2**2 / (se2_a**2 / (n_a - 1) + se2_b**2 / (n_b - 1))
        p_value = float(2 * stats.t.sf(abs(statistic), degrees_of_freedom))
    return _decided(
        value_a=mean_a,
        value_b=mean_b,
        n_a=n_a,
        n_b=n_b,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        points=False,
    )


def bootstrap_mean_diff_ci(
    *,
    values_a: Sequence[float],
    values_b: Sequence[float],
    confidence: float = 1 - ALPHA_DEFAULT,
    resamples: int = BOOTSTRAP_RESAMPLES_DEFAULT,
    seed: int = 0,
) -> ConfidenceInterval | None:
    """Percentile bootstrap interval for ``mean(B) - mean(A)``; ``None`` when an arm is empty.

    Each resample draws both arms with replacement at their own sizes. The seed makes the
    interval reproducible: the same data and seed give the same bounds on every page load.
    An interval that excludes 0 is the bootstrap's "the difference is real" at 1 - confidence.
    Raises ValueError for non-finite values, a confidence outside (0, 1), or resamples < 1.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    a = _finite_array(values=values_a, arm="A")
    b = _finite_array(values=values_b, arm="B")
    if len(a) == 0 or len(b) == 0:
        return None
    generator = np.random.default_rng(seed)
    differences = _bootstrap_means(values=b, resamples=resamples, generator=generator) - _bootstrap_means(
        values=a, resamples=resamples, generator=generator
    )
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return ConfidenceInterval(low=float(low), high=float(high), confidence=confidence)


# --------------------------------------------------------------------------- helpers


def _bootstrap_means(*, values: np.ndarray, resamples: int, generator: np.random.Generator) -> np.ndarray:
    n = len(values)
    rows_per_batch = max(1, _BOOTSTRAP_BATCH_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, rows_per_batch):
        stop = min(start + rows_per_batch, resamples)
        indices = generator.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[indices].mean(axis=1)
    return means


def _mean(*, values: np.ndarray) -> float | None:
    if len(values) == 0:
        return None
    # A constant arm's mean is its value exactly; summing 0.1 three times and dividing does not
    # give 0.1, and two constant arms of the same value must compare as equal.
    return float(values[0]) if _constant(values=values) else float(values.mean())


def _variance(*, values: np.ndarray) -> float:
    # Exactly zero for a constant arm, not a rounding residue of 1e-34 that would turn a
    # last-bit difference of the means into a huge t.
    return 0.0 if _constant(values=values) else float(values.var(ddof=1))


def _constant(*, values: np.ndarray) -> bool:
    return bool((values == values[0]).all())


def _finite_array(*, values: Sequence[float], arm: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"arm {arm}: values must be a flat sequence of numbers")
    if not np.isfinite(array).all():
        raise ValueError(f"arm {arm}: values must be finite numbers (found NaN or infinity)")
    return array


def _alpha_validate(*, alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")


def _min_sample_validate(*, min_sample: int) -> None:
    if min_sample < 0:
        raise ValueError(f"min_sample cannot be negative, got {min_sample}")


def _too_few(
    *,
    value_a: float | None,
    value_b: float | None,
    n_a: int,
    n_b: int,
    min_sample: int,
    alpha: float,
    points: bool,
) -> Comparison:
    difference = value_b - value_a if value_a is not None and value_b is not None else None
    summary = f"Too few to tell: A has {n_a}, B has {n_b} (at least {max(min_sample, 1)} each needed)"
    if difference is not None:
        summary += f"; so far B is {_difference_text(difference=difference, points=points)}"
    return Comparison(
        value_a=value_a,
        value_b=value_b,
        difference=difference,
        n_a=n_a,
        n_b=n_b,
        statistic=None,
        p_value=None,
        verdict=Verdict.TOO_FEW,
        alpha=alpha,
        summary=summary,
    )


def _decided(
    *,
    value_a: float,
    value_b: float,
    n_a: int,
    n_b: int,
    statistic: float | None,
    p_value: float,
    alpha: float,
    points: bool,
) -> Comparison:
    difference = value_b - value_a
    if p_value >= alpha or difference == 0:
        verdict = Verdict.NO_DIFFERENCE
    else:
        verdict = Verdict.B_HIGHER if difference > 0 else Verdict.B_LOWER
    detail = f"B is {_difference_text(difference=difference, points=points)} ({_p_text(p_value=p_value)})"
    summary = detail if verdict != Verdict.NO_DIFFERENCE else f"No significant difference: {detail}"
    return Comparison(
        value_a=value_a,
        value_b=value_b,
        difference=difference,
        n_a=n_a,
        n_b=n_b,
        statistic=statistic,
        p_value=p_value,
        verdict=verdict,
        alpha=alpha,
        summary=summary,
    )


def _difference_text(*, difference: float, points: bool) -> str:
    if difference == 0:
        return "the same as A"
    direction = "higher" if difference > 0 else "lower"
    if points:
        size = abs(difference) * 100
        return f"{size:.1f} {'point' if f'{size:.1f}' == '1.0' else 'points'} {direction}"
    return f"{abs(difference):.3g} {direction}"


def _p_text(*, p_value: float) -> str:
    # Below 0.001 the digits are noise from the normal/t approximation, not information.
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
