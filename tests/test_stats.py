"""numrnn.compare.stats: error rates on planted nulls, planted effects, textbook values, errors.

Each test's docstring names the wrong implementation it catches.
"""

import itertools
import math
import statistics
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.compare import stats
from numrnn.training.tasks.chorales import MissingExtraError

ALPHA = 0.05


def verdict_of(a, b, alpha=ALPHA, n_resamples=20):
    """The three-way verdict on "a is lower than b" from the two one-sided tests."""
    p_for = stats.less_than(a, b, n_resamples=n_resamples).p_value
    p_against = stats.less_than(b, a, n_resamples=n_resamples).p_value
    return stats.three_way(p_for, p_against, alpha)


def binomial_upper(n, p, tail=1e-3):
    """The smallest k with P(Binomial(n, p) > k) <= tail: the slack for a rate measured n times."""
    total, k = 0.0, 0
    while True:
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if 1 - total <= tail:
            return k
        k += 1


@pytest.mark.slow
def test_planted_null_is_supported_at_most_at_rate_alpha():
    """1000 repetitions of 6 vs 6 draws from one normal: "supported" at most at rate alpha
    plus binomial slack (P < 0.001 of exceeding it by chance); "contradicted" is the same
    test with the groups swapped, so this bounds both.

    Catches the old 1-sd rule (about 15 % here), a two-sided p halved twice, or a
    bootstrap interval with too little coverage used as the test."""
    rng = np.random.default_rng(0)
    repetitions = 1000
    p_values = [
        stats.less_than(list(rng.normal(size=6)), list(rng.normal(size=6)), n_resamples=10).p_value
        for _ in range(repetitions)
    ]
    supported = sum(p <= ALPHA for p in p_values)
    assert supported <= binomial_upper(repetitions, ALPHA)
    # and the test is not vacuous: it does reject (its exact size at 6 vs 6 is 0.047)
    assert supported >= 0.5 * ALPHA * repetitions


def u_with_midranks(a, b):
    """Mann-Whitney U of a, counted pair by pair: 1 for a above b, 1/2 for a tie."""
    return sum((x > y) + 0.5 * (x == y) for x in a for y in b)


def test_tied_runs_go_to_a_permutation_test_over_every_split():
    """With ties (two failed runs, repeated values) p is the fraction of all C(7, 3) splits
    of the pooled runs whose U (ties counting 1/2) is at most the observed one, counted
    here by brute force with failures as +inf.

    Catches the exact table used despite ties (it assumes none: p = 0.2 here), ties
    counted as wins, or failures dropped instead of tied at the bottom."""
    a, b = [0.1, 0.2, None], [0.2, None, 0.3, 0.2]
    pooled = [0.1, 0.2, math.inf, 0.2, math.inf, 0.3, 0.2]
    splits = [
        u_with_midranks([pooled[i] for i in index], [pooled[j] for j in range(7) if j not in index])
        for index in itertools.combinations(range(7), 3)
    ]
    observed = u_with_midranks(pooled[:3], pooled[3:])
    result = stats.less_than(a, b, n_resamples=100)
    assert result.test == "one-sided Mann-Whitney U (permutation test over all splits, ties)"
    assert result.statistic == observed
    assert result.p_value == pytest.approx(sum(u <= observed for u in splits) / len(splits))
    sampled = stats.less_than(a, b, n_resamples=20)  # 35 splits > 20: sampled, never 0
    assert sampled.test == "one-sided Mann-Whitney U (permutation test over 20 random splits, ties)"
    assert sampled.p_value > 0


def test_planted_large_effect_is_supported_and_its_reverse_contradicted():
    """Six runs near 0.02 against six near 0.15 (a model that learns against one that
    does not): supported, and the reverse contradicted, with an effect interval below 0.

    Catches the alternative the wrong way round ("greater" for "less")."""
    rng = np.random.default_rng(2)
    learns = list(0.02 + 0.005 * rng.standard_normal(6))
    stuck = list(0.15 + 0.01 * rng.standard_normal(6))
    assert verdict_of(learns, stuck) == "supported"
    assert verdict_of(stuck, learns) == "contradicted"
    result = stats.less_than(learns, stuck)
    assert result.test == "one-sided Mann-Whitney U (exact)"
    assert result.statistic == 0
    assert result.p_value == pytest.approx(stats.minimum_p(6, 6))
    assert result.effect == pytest.approx(np.median(learns) - np.median(stuck))
    assert result.effect_low <= result.effect <= result.effect_high < 0
    assert result.level == 0.95


def test_mann_whitney_p_value_against_counting_the_splits():
    """The exact p equals the fraction of all C(7, 3) splits whose U is at most the
    observed one, counted here by brute force.

    Catches P(U < u) for P(U <= u), or U of b reported for U of a."""
    a, b = [0.3, 1.2, 2.5], [0.1, 1.0, 2.0, 3.0]
    pooled = a + b
    splits = [
        u_with_midranks([pooled[i] for i in index], [pooled[j] for j in range(7) if j not in index])
        for index in itertools.combinations(range(7), 3)
    ]
    observed = u_with_midranks(a, b)
    result = stats.less_than(a, b)
    assert result.statistic == observed == 6
    assert result.p_value == pytest.approx(sum(u <= observed for u in splits) / len(splits))


def test_diverged_runs_rank_worst():
    """A failed run (None, NaN, inf) ranks above every finished one: 3 finished runs
    against 2 finished + 1 failed, all finished below, is the most extreme split.

    Catches failures dropped (p would be 1/10, not 1/20) or ranked as -inf/0 (best)."""
    for failure in (None, math.nan, math.inf, -math.inf):
        result = stats.less_than([1.0, 2.0, 3.0], [10.0, 11.0, failure])
        assert result.p_value == pytest.approx(stats.minimum_p(3, 3))
        assert result.effect == pytest.approx(-9.0)  # 2 - 11; dropped: 2 - 10.5
    # a failure in the group that is otherwise better turns the test around
    assert stats.less_than([1.0, 2.0, None], [5.0, 6.0, 7.0]).statistic == 3
    summary = stats.summarize([0.3, None, 0.1, math.nan])
    assert summary["values"] == [0.3, None, 0.1, None]
    assert summary["n_failed"] == 2
    assert summary["max"] is None and summary["min"] == 0.1
    assert summary["median"] is None  # half the runs failed: the median is a failure
    assert summary["mean"] == pytest.approx(0.2)


def test_two_failed_medians_tie():
    """Two groups whose medians are both failures differ by 0, never NaN.

    Catches inf - inf left as NaN (and the RuntimeWarning it raises)."""
    result = stats.less_than([1.0, None, None], [None, None, 2.0], n_resamples=500)
    assert result.effect == 0
    assert not math.isnan(result.effect_low) and not math.isnan(result.effect_high)
    assert result.test.startswith("one-sided Mann-Whitney U (permutation test over all splits")
    assert result.effect_low <= 0 <= result.effect_high


def test_summarize_uses_the_sample_sd_and_rliables_iqm():
    """sd with ddof = 1, quartiles as NumPy's linear rule, IQM as scipy's trim_mean(0.25).

    Catches the population sd (1.118 instead of 1.291 for 1, 2, 3, 4)."""
    scipy_stats = pytest.importorskip("scipy.stats")
    summary = stats.summarize([4.0, 1.0, 3.0, 2.0])
    assert summary["sd"] == pytest.approx(statistics.stdev([1, 2, 3, 4]))
    assert summary["sd"] == pytest.approx(math.sqrt(5 / 3))
    values = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.15, 2.0]
    summary = stats.summarize(values)
    assert summary["q1"] == pytest.approx(np.percentile(values, 25))
    assert summary["median"] == pytest.approx(np.median(values))
    assert summary["q3"] == pytest.approx(np.percentile(values, 75))
    assert summary["iqm"] == pytest.approx(scipy_stats.trim_mean(values, 0.25))
    assert summary["n"] == 8 and summary["values"] == values
    assert stats.summarize([3.0])["sd"] is None


def test_holm_matches_the_textbook_example():
    """Holm (1979) as in the textbook example: p = 0.01, 0.04, 0.03, 0.005 at 0.05 reject the
    first and fourth only (thresholds 0.0125, 0.0167, 0.025, 0.05 in sorted order), with
    adjusted p 0.03, 0.06, 0.06, 0.02; an untested claim (None) passes through.

    Catches Bonferroni (0.04, 0.16, 0.12, 0.02), a step-up procedure, the order
    lost, or a missing running maximum (0.04 would get 0.04, not 0.06)."""
    rows = stats.holm([0.01, 0.04, None, 0.03, 0.005], alpha=0.05)
    assert [row["adjusted_p"] for row in rows] == pytest.approx([0.03, 0.06, None, 0.06, 0.02])
    assert [row["reject"] for row in rows] == [True, False, None, False, True]
    assert stats.holm([]) == []
    assert stats.holm([0.9, 0.8])[0]["adjusted_p"] == 1.0  # capped at 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.floats(0.001, 0.2))
def test_holm_rejects_a_prefix_of_the_sorted_p_values(p_values, alpha):
    """Holm's step-down: the rejected claims are the k smallest p's, where k is the first
    sorted position whose p exceeds alpha / (m - j + 1); adjusted p never below the raw p.

    Catches a procedure that goes on rejecting after the first failure."""
    rows = stats.holm(p_values, alpha)
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    k = 0
    while k < m and p_values[order[k]] <= alpha / (m - k):
        k += 1
    assert sorted(index for index, row in enumerate(rows) if row["reject"]) == sorted(order[:k])
    assert all(row["adjusted_p"] >= p for row, p in zip(rows, p_values, strict=True))


def test_three_way_decides_both_sides_by_one_rule():
    """Catches an asymmetric rule (e.g. contradicted only at a stricter level) or "supported"
    read from a large p."""
    assert stats.three_way(0.05, 0.97, 0.05) == "supported"
    assert stats.three_way(0.97, 0.05, 0.05) == "contradicted"
    assert stats.three_way(0.051, 0.96, 0.05) == "inconclusive"
    assert stats.three_way(None, None, 0.05) == "inconclusive"
    assert stats.three_way(None, 0.01, 0.05) == "contradicted"
    assert set(stats.VERDICTS) == {"supported", "contradicted", "inconclusive"}


@pytest.mark.parametrize("n_a, n_b", [(1, 1), (3, 3), (5, 5), (6, 6), (4, 9)])
def test_minimum_p_is_one_split_in_all_and_is_attained(n_a, n_b):
    """1 / C(n_a + n_b, n_a), and the exact test reaches it when a is entirely below b.

    Catches 1 / (n_a + n_b)! or a permutation count that treats the groups as ordered."""
    assert stats.minimum_p(n_a, n_b) == pytest.approx(
        math.factorial(n_a) * math.factorial(n_b) / math.factorial(n_a + n_b)
    )
    a = list(np.arange(n_a, dtype=float))
    b = list(np.arange(n_a, n_a + n_b, dtype=float))
    assert stats.less_than(a, b, n_resamples=10).p_value == pytest.approx(stats.minimum_p(n_a, n_b))
    assert stats.minimum_p(5, 5) == pytest.approx(1 / 252)


def test_fisher_against_the_hypergeometric_tail_and_newcombes_example():
    """p is the hypergeometric upper tail (summed here from binomial coefficients); the
    interval of 56/70 − 48/80 is Newcombe's (1998) method-10 value 0.0524 to 0.3339.

    Catches the two-sided p, the alternative the wrong way round, or a Wald interval
    (0.0575 to 0.3425)."""
    learned_a, n_a, learned_b, n_b = 5, 6, 1, 6
    learned = learned_a + learned_b
    tail = sum(
        math.comb(n_a, k) * math.comb(n_b, learned - k)
        for k in range(learned_a, min(n_a, learned) + 1)
    ) / math.comb(n_a + n_b, learned)
    result = stats.fisher_fewer_failures(learned_a, n_a, learned_b, n_b)
    assert result.p_value == pytest.approx(tail)
    assert result.statistic == pytest.approx(25.0)
    assert result.test == "one-sided Fisher exact test"
    assert stats.fisher_fewer_failures(1, 6, 5, 6).p_value > 0.9
    newcombe = stats.fisher_fewer_failures(56, 70, 48, 80)
    assert newcombe.effect == pytest.approx(0.2)
    assert (newcombe.effect_low, newcombe.effect_high) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_bootstrap_interval_is_seeded():
    """The same seed gives the same interval, another seed another one.

    Catches a global or unseeded generator."""
    a, b = [0.1, 0.4, 0.2, 0.8, 0.3], [0.5, 0.3, 0.9, 0.6, 0.7]
    first = stats.less_than(a, b, seed=3, n_resamples=500)
    assert stats.less_than(a, b, seed=3, n_resamples=500) == first
    others = {stats.less_than(a, b, seed=s, n_resamples=500).effect_low for s in range(8)}
    assert len(others) > 1


def test_to_dict_is_json_ready():
    """Non-finite effects become None. Catches inf written to results.json."""
    result = stats.TestResult("t", 1.0, 0.5, math.inf, -math.inf, math.nan, 0.95)
    assert result.to_dict() == {
        "test": "t",
        "statistic": 1.0,
        "p_value": 0.5,
        "effect": None,
        "effect_low": None,
        "effect_high": None,
        "level": 0.95,
    }


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: stats.summarize([]), ValueError, r"values must hold at least 1 run\(s\); got 0"),
        (lambda: stats.summarize("0.1"), TypeError, "values must be a sequence of per-run"),
        (lambda: stats.summarize([0.1, "x"]), TypeError, r"values must hold numbers or None.*'x'"),
        (lambda: stats.summarize([True]), TypeError, "values must hold numbers or None"),
        (
            lambda: stats.summarize(np.zeros((2, 2))),
            ValueError,
            r"values must be one-dimensional .*got shape \(2, 2\)",
        ),
        (lambda: stats.less_than([], [1.0]), ValueError, "a must hold at least 1 run"),
        (lambda: stats.less_than([1.0], 3.0), TypeError, "b must be a sequence"),
        (lambda: stats.less_than([1.0], [2.0], level=1), ValueError, "level must be .*got 1"),
        (lambda: stats.less_than([1.0], [2.0], n_resamples=0), ValueError, "n_resamples must be"),
        (lambda: stats.less_than([1.0], [2.0], seed=1.5), TypeError, "seed must be an int"),
        (lambda: stats.fisher_fewer_failures(4, 3, 0, 3), ValueError, "learned_a must be at most"),
        (lambda: stats.fisher_fewer_failures(0, 3, -1, 3), ValueError, "learned_b must be at le"),
        (lambda: stats.fisher_fewer_failures(0, 0, 0, 3), ValueError, "n_a must be at least 1"),
        (lambda: stats.fisher_fewer_failures(0.5, 3, 0, 3), TypeError, "learned_a must be an int"),
        (lambda: stats.holm([0.1, 1.5]), ValueError, r"p_values must lie in \[0, 1\]; got 1.5"),
        (lambda: stats.holm([math.nan]), ValueError, "p_values must lie in"),
        (lambda: stats.holm(["0.1"]), TypeError, r"p_values must be a number in \[0, 1\] or None"),
        (lambda: stats.holm([0.1], alpha=0), ValueError, "alpha must be a number strictly"),
        (lambda: stats.holm(0.1), TypeError, "p_values must be a sequence"),
        (lambda: stats.three_way(0.01, 0.02, 0.05), ValueError, "cannot both reject"),
        (lambda: stats.three_way(-0.1, 0.5, 0.05), ValueError, r"p_for must lie in \[0, 1\]"),
        (lambda: stats.three_way(0.1, "x", 0.05), TypeError, "p_against must be a number in"),
        (lambda: stats.minimum_p(0, 3), ValueError, "n_a must be at least 1; got 0"),
        (lambda: stats.minimum_p(3, 2.0), TypeError, "n_b must be an int"),
    ],
)
def test_errors_name_the_argument_the_rule_and_the_value(call, error, match):
    """Catches a missing check (the call would return or fail somewhere deeper)."""
    with pytest.raises(error, match=match):
        call()


def test_missing_scipy_says_which_extra_to_install(monkeypatch):
    """Without scipy the tests fail with one line naming the extra. Catches a bare
    ImportError from deep inside."""
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(MissingExtraError, match=r'pip install "numrnn\[compare\]"'):
        stats.less_than([1.0], [2.0])
