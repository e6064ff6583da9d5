"""The A/B significance tests against published values, against scipy's own implementations,
at the minimum sample, on degenerate inputs, and for their false-positive rate."""

from __future__ import annotations

import math
import statistics as stdlib_statistics

import numpy as np
import pytest
from scipy import stats

from prompts.statistics import (
    ConfidenceInterval,
    Verdict,
    bootstrap_mean_diff_ci,
    means_test,
    proportions_test,
)

# The two examples of the Wikipedia article "Welch's t-test" (section Examples), with its
# published results: t = -2.46, p = 0.021 and t = -1.57, p = 0.149 (A1 minus A2).
WELCH_EXAMPLE_1 = (
    [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4],
    [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4],
)
WELCH_EXAMPLE_2 = (
    [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8],
    [21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5]
    + [23.5, 21.5, 21.8],
)


# --------------------------------------------------------------------------- two proportions


def test_the_textbook_two_proportion_example_45_of_100_against_60_of_100() -> None:
    result = proportions_test(successes_a=45, n_a=100, successes_b=60, n_b=100, min_sample=30)

    assert result.value_a == pytest.approx(0.45)
    assert result.value_b == pytest.approx(0.60)
    assert result.difference == pytest.approx(0.15)
    assert result.statistic == pytest.approx(2.12, abs=0.005)  # B minus A, so positive
    assert result.p_value == pytest.approx(0.034, abs=0.0005)
    assert result.verdict == Verdict.B_HIGHER
    assert result.summary == "B is 15.0 points higher (p = 0.034)"


def _pooled_z_by_hand(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float]:
    pooled = (successes_a + successes_b) / (n_a + n_b)
    z = (successes_b / n_b - successes_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return z, math.erfc(abs(z) / math.sqrt(2))


@pytest.mark.parametrize(
    ("successes_a", "n_a", "successes_b", "n_b"),
    [(45, 100, 60, 100), (120, 400, 95, 410), (30, 50, 700, 1000), (3, 40, 9, 35), (500, 1000, 510, 1000)],
)
def test_proportions_agree_with_the_formula_and_with_scipys_chi_square_of_the_table(
    successes_a: int, n_a: int, successes_b: int, n_b: int
) -> None:
    result = proportions_test(successes_a=successes_a, n_a=n_a, successes_b=successes_b, n_b=n_b, min_sample=1)
    z, p_value = _pooled_z_by_hand(successes_a, n_a, successes_b, n_b)
    # The pooled z-test is the chi-square test of the 2x2 table without Yates' correction: z^2 = chi2.
    chi2, chi2_p, _, _ = stats.chi2_contingency(
        [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]], correction=False
    )

    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(chi2_p, rel=1e-9)


def test_swapping_the_arms_flips_the_direction_and_keeps_the_p_value() -> None:
    forward = proportions_test(successes_a=45, n_a=100, successes_b=60, n_b=100, min_sample=30)
    backward = proportions_test(successes_a=60, n_a=100, successes_b=45, n_b=100, min_sample=30)

    assert backward.verdict == Verdict.B_LOWER
    assert backward.difference == pytest.approx(-0.15)
    assert backward.p_value == pytest.approx(forward.p_value)
    assert backward.summary == "B is 15.0 points lower (p = 0.034)"


def test_a_stricter_alpha_turns_the_same_data_into_no_difference() -> None:
    result = proportions_test(successes_a=45, n_a=100, successes_b=60, n_b=100, min_sample=30, alpha=0.01)

    assert result.verdict == Verdict.NO_DIFFERENCE
    assert result.alpha == 0.01
    assert result.summary == "No significant difference: B is 15.0 points higher (p = 0.034)"


def test_proportions_below_the_minimum_sample_are_too_few_but_show_the_difference_so_far() -> None:
    result = proportions_test(successes_a=5, n_a=29, successes_b=20, n_b=30, min_sample=30)

    assert result.verdict == Verdict.TOO_FEW
    assert result.p_value is None
    assert result.statistic is None
    assert result.difference == pytest.approx(20 / 30 - 5 / 29)
    assert result.summary.startswith("Too few to tell: A has 29, B has 30 (at least 30 each needed)")


def test_proportions_exactly_at_the_minimum_sample_are_tested() -> None:
    result = proportions_test(successes_a=5, n_a=30, successes_b=20, n_b=30, min_sample=30)

    assert result.verdict == Verdict.B_HIGHER
    assert result.p_value is not None


def test_an_arm_without_trials_is_too_few_even_with_no_minimum() -> None:
    result = proportions_test(successes_a=0, n_a=0, successes_b=0, n_b=0, min_sample=0)

    assert result.verdict == Verdict.TOO_FEW
    assert result.value_a is None
    assert result.difference is None
    assert result.p_value is None


@pytest.mark.parametrize(("successes_a", "successes_b"), [(100, 80), (0, 0)])
def test_all_successes_or_all_failures_in_both_arms_is_no_difference_with_p_one(
    successes_a: int, successes_b: int
) -> None:
    result = proportions_test(successes_a=successes_a, n_a=100, successes_b=successes_b, n_b=80, min_sample=30)

    assert result.p_value == 1.0
    assert result.statistic is None
    assert result.verdict == Verdict.NO_DIFFERENCE
    assert result.difference == 0
    assert result.summary == "No significant difference: B is the same as A (p = 1.000)"


def test_one_arm_with_all_successes_is_still_tested() -> None:
    result = proportions_test(successes_a=100, n_a=100, successes_b=88, n_b=100, min_sample=30)
    z, p_value = _pooled_z_by_hand(100, 100, 88, 100)

    assert result.p_value == pytest.approx(p_value)
    assert result.statistic == pytest.approx(z)
    assert result.verdict == Verdict.B_LOWER


@pytest.mark.parametrize(
    ("successes_a", "n_a", "successes_b", "n_b", "message"),
    [
        (11, 10, 5, 10, "11 successes out of 10"),
        (-1, 10, 5, 10, "cannot be negative"),
        (1, 10, 5, -10, "cannot be negative"),
    ],
)
def test_impossible_counts_are_refused(successes_a: int, n_a: int, successes_b: int, n_b: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proportions_test(successes_a=successes_a, n_a=n_a, successes_b=successes_b, n_b=n_b, min_sample=1)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 5.0])
def test_an_alpha_outside_zero_and_one_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        proportions_test(successes_a=1, n_a=10, successes_b=2, n_b=10, min_sample=1, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        means_test(values_a=[1.0, 2.0], values_b=[1.0, 3.0], min_sample=1, alpha=alpha)


# --------------------------------------------------------------------------- Welch's t


@pytest.mark.parametrize(
    ("example", "published_t", "published_p"),
    [(WELCH_EXAMPLE_1, -2.46, 0.021), (WELCH_EXAMPLE_2, -1.57, 0.149)],
)
def test_welch_reproduces_the_published_examples(
    example: tuple[list[float], list[float]], published_t: float, published_p: float
) -> None:
    a1, a2 = example
    # The published t is A1 minus A2; ours is B minus A, so pass A2 as A.
    result = means_test(values_a=a2, values_b=a1, min_sample=5)

    assert result.statistic == pytest.approx(published_t, abs=0.005)
    assert result.p_value == pytest.approx(published_p, abs=0.0005)
    assert result.difference == pytest.approx(stdlib_statistics.fmean(a1) - stdlib_statistics.fmean(a2))


def _welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float]:
    """t (B minus A) and the Welch–Satterthwaite degrees of freedom, from the formulas."""
    se2_a = stdlib_statistics.variance(a) / len(a)
    se2_b = stdlib_statistics.variance(b) / len(b)
    t = (stdlib_statistics.fmean(b) - stdlib_statistics.fmean(a)) / math.sqrt(se2_a + se2_b)
    df = (se2_a + se2_b) ** 2 / (se2_a**2 / (len(a) - 1) + se2_b**2 / (len(b) - 1))
    return t, df


@pytest.mark.parametrize(
    ("n_a", "n_b", "shift", "scale_b"),
    [(50, 50, 0.0, 1.0), (30, 200, 0.4, 3.0), (12, 9, -1.5, 0.2), (1000, 800, 0.05, 1.0)],
)
def test_welch_agrees_with_scipy_and_with_the_formula(n_a: int, n_b: int, shift: float, scale_b: float) -> None:
    generator = np.random.default_rng(n_a * 7 + n_b)
    a = generator.normal(10.0, 1.0, size=n_a).tolist()
    b = generator.normal(10.0 + shift, scale_b, size=n_b).tolist()

    result = means_test(values_a=a, values_b=b, min_sample=5)
    reference = stats.ttest_ind(b, a, equal_var=False)
    t, df = _welch_by_hand(a, b)

    assert result.statistic == pytest.approx(float(reference.statistic), rel=1e-9)
    assert result.p_value == pytest.approx(float(reference.pvalue), rel=1e-9)
    assert result.statistic == pytest.approx(t, rel=1e-9)
    assert float(reference.df) == pytest.approx(df, rel=1e-9)
    expected = Verdict.NO_DIFFERENCE if reference.pvalue >= 0.05 else (Verdict.B_HIGHER if t > 0 else Verdict.B_LOWER)
    assert result.verdict == expected


def test_means_below_the_minimum_sample_are_too_few() -> None:
    result = means_test(values_a=[1.0] * 19, values_b=[5.0] * 40, min_sample=20)

    assert result.verdict == Verdict.TOO_FEW
    assert result.p_value is None
    assert result.difference == pytest.approx(4.0)
    assert result.summary == "Too few to tell: A has 19, B has 40 (at least 20 each needed); so far B is 4 higher"


def test_a_variance_needs_two_values_so_one_value_per_arm_is_too_few_whatever_the_minimum() -> None:
    result = means_test(values_a=[1.0], values_b=[2.0, 3.0], min_sample=1)

    assert result.verdict == Verdict.TOO_FEW
    assert result.p_value is None


def test_empty_arms_are_too_few() -> None:
    result = means_test(values_a=[], values_b=[], min_sample=0)

    assert result.verdict == Verdict.TOO_FEW
    assert result.value_a is None
    assert result.difference is None
    assert result.summary == "Too few to tell: A has 0, B has 0 (at least 2 each needed)"


def test_two_arms_with_the_same_constant_are_no_difference_with_p_one() -> None:
    # 0.1 summed three and five times does not divide back to the same float: still equal.
    result = means_test(values_a=[0.1] * 3, values_b=[0.1] * 5, min_sample=2)

    assert result.p_value == 1.0
    assert result.difference == 0
    assert result.verdict == Verdict.NO_DIFFERENCE


def test_two_arms_at_different_constants_are_an_exact_difference_with_p_zero() -> None:
    result = means_test(values_a=[2.0] * 30, values_b=[3.0] * 30, min_sample=30)

    assert result.p_value == 0.0
    assert result.statistic is None
    assert result.verdict == Verdict.B_HIGHER
    assert result.summary == "B is 1 higher (p < 0.001)"


# scipy's reference warns about the constant arm's moment; our own code takes that arm's variance as 0.
@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
def test_one_constant_arm_is_tested_normally() -> None:
    a = [2.0] * 30
    b = np.random.default_rng(3).normal(2.5, 1.0, size=30).tolist()

    result = means_test(values_a=a, values_b=b, min_sample=30)

    assert result.p_value == pytest.approx(float(stats.ttest_ind(b, a, equal_var=False).pvalue), rel=1e-9)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        means_test(values_a=[1.0, 2.0, bad], values_b=[1.0, 2.0], min_sample=1)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean_diff_ci(values_a=[1.0, 2.0], values_b=[bad, 2.0])


# --------------------------------------------------------------------------- calibration


def test_with_no_real_difference_about_five_percent_of_experiments_look_significant() -> None:
    # 2,000 A/A experiments: both tests should cry wolf at their alpha, not more (a wrong
    # standard error shows up here as 10% or 1%).
    generator = np.random.default_rng(2026)
    experiments = 2000
    rate_alarms = 0
    mean_alarms = 0
    for _ in range(experiments):
        successes_a, successes_b = generator.binomial(400, 0.3, size=2)
        rates = proportions_test(
            successes_a=int(successes_a), n_a=400, successes_b=int(successes_b), n_b=400, min_sample=30
        )
        rate_alarms += rates.verdict != Verdict.NO_DIFFERENCE
        means = means_test(
            values_a=generator.normal(5.0, 1.0, size=60).tolist(),
            values_b=generator.normal(5.0, 3.0, size=40).tolist(),
            min_sample=30,
        )
        mean_alarms += means.verdict != Verdict.NO_DIFFERENCE

    assert 0.035 <= rate_alarms / experiments <= 0.065, rate_alarms
    assert 0.035 <= mean_alarms / experiments <= 0.065, mean_alarms


# --------------------------------------------------------------------------- bootstrap


def test_the_bootstrap_interval_is_reproducible_with_its_seed() -> None:
    generator = np.random.default_rng(5)
    a = generator.lognormal(0.0, 1.0, size=300).tolist()
    b = generator.lognormal(0.2, 1.0, size=250).tolist()

    first = bootstrap_mean_diff_ci(values_a=a, values_b=b, seed=11)
    second = bootstrap_mean_diff_ci(values_a=a, values_b=b, seed=11)
    other_seed = bootstrap_mean_diff_ci(values_a=a, values_b=b, seed=12)

    assert first == second
    assert first != other_seed
    assert first is not None
    assert first.confidence == 0.95
    assert first.low < stdlib_statistics.fmean(b) - stdlib_statistics.fmean(a) < first.high


def test_for_large_normal_samples_the_bootstrap_interval_matches_welchs_interval() -> None:
    generator = np.random.default_rng(9)
    a = generator.normal(10.0, 1.0, size=2000)
    b = generator.normal(10.3, 2.0, size=1500)

    interval = bootstrap_mean_diff_ci(values_a=a.tolist(), values_b=b.tolist())
    reference = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)

    assert interval is not None
    # Welch's half-width is about 0.11 here; the bootstrap's Monte Carlo error is far smaller.
    assert interval.low == pytest.approx(float(reference.low), abs=0.01)
    assert interval.high == pytest.approx(float(reference.high), abs=0.01)


def test_the_bootstrap_covers_the_true_difference_about_as_often_as_it_claims() -> None:
    # Skewed (lognormal, like cost and latency) arms with a known true difference of means.
    generator = np.random.default_rng(77)
    true_difference = math.exp(0.3 + 0.5) - math.exp(0.0 + 0.5)
    trials = 200
    covered = 0
    for trial in range(trials):
        a = generator.lognormal(0.0, 1.0, size=400).tolist()
        b = generator.lognormal(0.3, 1.0, size=400).tolist()
        interval = bootstrap_mean_diff_ci(values_a=a, values_b=b, resamples=1000, seed=trial)
        assert interval is not None
        covered += interval.low <= true_difference <= interval.high

    # Nominal 95%; the percentile bootstrap runs slightly under it on skewed data. 200 trials
    # have a standard error of 1.5 points.
    assert 0.88 <= covered / trials <= 0.99, covered


def test_the_bootstrap_of_an_empty_arm_is_none_and_of_constants_is_the_exact_difference() -> None:
    assert bootstrap_mean_diff_ci(values_a=[], values_b=[1.0, 2.0]) is None
    assert bootstrap_mean_diff_ci(values_a=[2.0] * 10, values_b=[3.5] * 10) == ConfidenceInterval(
        low=1.5, high=1.5, confidence=0.95
    )


@pytest.mark.parametrize(("confidence", "resamples"), [(0.0, 100), (1.0, 100), (0.95, 0)])
def test_the_bootstrap_refuses_a_meaningless_confidence_or_resample_count(confidence: float, resamples: int) -> None:
    with pytest.raises(ValueError, match="confidence|resamples"):
        bootstrap_mean_diff_ci(values_a=[1.0, 2.0], values_b=[2.0, 3.0], confidence=confidence, resamples=resamples)
