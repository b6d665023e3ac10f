"""The statistics behind every verdict of ``numrnn compare``: summaries, one-sided tests, Holm.

A comparison of a few training runs per architecture is a small-sample
problem: outcomes are often bimodal (a run learns or it does not), so a mean
± sd describes them badly, and a rule such as "the means differ by one sd"
has no stated error rate. This module gives the report what a reviewer would
ask for (Agarwal et al. 2021, *Deep RL at the edge of the statistical
precipice*; Bouthillier et al. 2021):

=============================  ==============================================================
function                       what it answers
=============================  ==============================================================
:func:`summarize`              per-seed values, median, quartiles, interquartile mean, mean ± sd
:func:`less_than`              are the values ``a`` stochastically smaller than ``b``?
                               (one-sided exact Mann–Whitney U, bootstrap CI of the medians)
:func:`fisher_fewer_failures`  does ``a`` learn more often than ``b``? (one-sided Fisher exact)
:func:`holm`                   Holm–Bonferroni adjustment when one run tests several claims
:func:`three_way`              supported / contradicted / inconclusive from two one-sided p's
:func:`minimum_p`              the smallest p a Mann–Whitney test of n_a vs n_b can give
=============================  ==============================================================

Conventions, fixed before any data is seen:

* **Lower is better.** Every metric here is a loss (test MSE, cross-entropy).
* **A failed run is the worst outcome.** A value that is None, NaN or ±inf (a
  diverged run) ranks as ``+inf``: above every finished run, tied with the
  other failures. Order statistics (median, quartiles, interquartile mean,
  min, max) and the tests use that ranking; the mean and sd are over the
  finished runs only, and ``n_failed`` says how many runs they leave out.
* **JSON-ready.** Dictionaries hold plain floats, with None where a number is
  not finite (a median that falls on a failed run is None: worse than any
  finished run).

scipy (the ``compare`` extra, ``pip install "numrnn[compare]"``) supplies the
exact distributions; the rest is a few lines of NumPy.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import NamedTuple

import numpy as np

from ..training.tasks.chorales import MissingExtraError

__all__ = [
    "summarize",
    "TestResult",
    "less_than",
    "fisher_fewer_failures",
    "holm",
    "three_way",
    "minimum_p",
    "VERDICTS",
]

VERDICTS = ("supported", "contradicted", "inconclusive")
"""The three verdicts :func:`three_way` can give."""

INSTALL_HINT = 'pip install "numrnn[compare]"'


def _scipy_stats():
    """scipy.stats, or a :class:`MissingExtraError` that says how to install it."""
    try:
        import scipy.stats
    except ImportError as error:
        raise MissingExtraError(
            f"numrnn compare's statistical tests need scipy, which is not installed ({error}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return scipy.stats


def _json_float(value) -> float | None:
    """``float(value)``, or None when it is not finite (JSON has no inf or NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _is_finite_number(value) -> bool:
    """True for a real number that is finite (bool and None are not numbers here)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_values(values, name: str, minimum: int = 1) -> np.ndarray:
    """The runs' values as float64, every failure (None, NaN, ±inf) replaced by +inf (worst)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(
            f"{name} must be a sequence of per-run values (numbers or None); "
            f"got {type(values).__name__}"
        )
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one value per run); got shape {values.shape}"
        )
    values = list(values)
    for value in values:
        if value is not None and (not isinstance(value, numbers.Real) or isinstance(value, bool)):
            raise TypeError(
                f"{name} must hold numbers or None (a failed run); got {value!r} "
                f"({type(value).__name__})"
            )
    if len(values) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} run(s); got {len(values)}")
    return np.array(
        [float(value) if _is_finite_number(value) else math.inf for value in values],
        dtype=np.float64,
    )


def _quantile(sorted_values: np.ndarray, q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (NumPy's default rule).

    Written out so that a failed run (+inf) makes the quantile +inf only when
    it takes part, never NaN from ``inf - inf``.
    """
    position = (len(sorted_values) - 1) * q
    below, above = math.floor(position), math.ceil(position)
    low, high = sorted_values[below], sorted_values[above]
    if below == above or low == high:
        return float(low)
    if math.isinf(high):
        return math.inf
    return float(low + (high - low) * (position - below))


def _interquartile_mean(sorted_values: np.ndarray) -> float:
    """Mean of the middle 50 %: drop ``floor(n/4)`` runs at each end (rliable's IQM)."""
    cut = len(sorted_values) // 4
    middle = sorted_values[cut : len(sorted_values) - cut]
    return float(np.mean(middle))


def summarize(values) -> dict:
    """Per-run values and their summary, failed runs ranked worst (lower is better).

    Parameters
    ----------
    values : sequence of float or None, length n ≥ 1
        One metric per run (seed). None, NaN and ±inf are failed runs
        (diverged): they rank above every finished run.

    Returns
    -------
    dict
        JSON-ready, with keys:

        * ``n`` (int): runs, failed ones included;
        * ``n_failed`` (int): runs whose value was not finite;
        * ``values`` (list of float or None): every run's value in the order
          given, None for a failed run;
        * ``mean``, ``sd`` (float or None): mean and **sample** standard
          deviation (ddof = 1) of the finished runs; ``sd`` is None with fewer
          than 2 finished runs, both None with none;
        * ``median``, ``q1``, ``q3`` (float or None): quartiles by linear
          interpolation (NumPy's default), failed runs counted as +inf;
        * ``iqm`` (float or None): interquartile mean, the mean after dropping
          ``floor(n/4)`` runs at each end (as rliable's
          ``scipy.stats.trim_mean(values, 0.25)``);
        * ``min``, ``max`` (float or None).

        An order statistic that falls on a failed run is None: worse than
        every finished run.

    Raises
    ------
    TypeError
        ``values`` is not a sequence of numbers and None.
    ValueError
        ``values`` is empty.

    Examples
    --------
    >>> summary = summarize([0.1, 0.3, None, 0.2])
    >>> summary["median"], summary["n_failed"], summary["max"]
    (0.25, 1, None)
    """
    ranked = _check_values(values, "values")
    finished = ranked[np.isfinite(ranked)]
    sorted_values = np.sort(ranked)
    return {
        "n": len(ranked),
        "n_failed": len(ranked) - len(finished),
        "values": [_json_float(value) for value in ranked],
        "mean": _json_float(finished.mean()) if len(finished) else None,
        "sd": _json_float(finished.std(ddof=1)) if len(finished) >= 2 else None,
        "median": _json_float(_quantile(sorted_values, 0.5)),
        "q1": _json_float(_quantile(sorted_values, 0.25)),
        "q3": _json_float(_quantile(sorted_values, 0.75)),
        "iqm": _json_float(_interquartile_mean(sorted_values)),
        "min": _json_float(sorted_values[0]),
        "max": _json_float(sorted_values[-1]),
    }


class TestResult(NamedTuple):
    """The outcome of one one-sided test, with its effect size and interval.

    ``effect``, ``effect_low`` and ``effect_high`` may be ±inf when a median
    falls on a failed run; :meth:`to_dict` turns them into None for JSON.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    test: str
    """The test's name as the report prints it, e.g. "one-sided Mann-Whitney U (exact)"."""
    statistic: float
    """The test statistic (Mann–Whitney: U of ``a``; Fisher: the sample odds ratio)."""
    p_value: float
    """One-sided p-value for the alternative the function names."""
    effect: float
    """Effect size (Mann–Whitney: median(a) − median(b); Fisher: fraction_a − fraction_b)."""
    effect_low: float
    """Lower end of the ``level`` confidence interval of ``effect``."""
    effect_high: float
    """Upper end of the ``level`` confidence interval of ``effect``."""
    level: float
    """Confidence level of the interval, e.g. 0.95."""

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict: plain floats, None where a value is not finite."""
        return {
            "test": self.test,
            **{field: _json_float(getattr(self, field)) for field in self._fields[1:]},
        }


def _check_open_fraction(value, name: str) -> float:
    """A level such as alpha or a confidence: a number strictly between 0 and 1."""
    if not _is_finite_number(value) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {value!r}")
    return float(value)


def _check_p_value(value, name: str):
    """A p-value in [0, 1], or None (a claim not tested)."""
    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number in [0, 1] or None; got {value!r}")
    if not 0 <= value <= 1:  # also False for NaN
        raise ValueError(f"{name} must lie in [0, 1]; got {value!r}")
    return float(value)


def _check_count(value, name: str, minimum: int = 0) -> int:
    """A whole number ≥ minimum (bool is not a count)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def _difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x - y`` where two failures (+inf) are tied: ``inf - inf`` is 0, not NaN."""
    both_failed = np.isinf(x) & np.isinf(y)
    with np.errstate(invalid="ignore"):
        difference = np.asarray(x - y, dtype=np.float64)
    return np.where(both_failed, 0.0, difference)


def _median_difference_interval(a, b, rng, n_resamples: int, level: float) -> tuple:
    """Stratified percentile bootstrap of median(a) − median(b).

    Each group is resampled with replacement within itself (its size kept),
    ``n_resamples`` times; the interval is the (1 ± level)/2 quantiles of the
    resampled differences, read as order statistics (no interpolation, so a
    failed run's +inf never meets arithmetic).
    """
    resampled_a = a[rng.integers(0, len(a), size=(n_resamples, len(a)))]  # (R, n_a)
    resampled_b = b[rng.integers(0, len(b), size=(n_resamples, len(b)))]  # (R, n_b)
    differences = _difference(
        np.median(resampled_a, axis=1), np.median(resampled_b, axis=1)
    )  # (R,)
    tail = (1 - level) / 2
    low, high = np.quantile(differences, [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def _rank_sum_u(x, y, axis=-1):
    """Mann–Whitney U of ``x``: its rank sum in the pooled sample (mid-ranks) − n_x(n_x+1)/2."""
    stats = _scipy_stats()
    pooled = np.concatenate([x, y], axis=axis)
    ranks = stats.rankdata(pooled, axis=axis)
    n_x = x.shape[axis]
    return np.take(ranks, np.arange(n_x), axis=axis).sum(axis=axis) - n_x * (n_x + 1) / 2


def _random_keyword(function) -> str:
    """The name scipy gives the generator argument of ``function`` (``rng`` since 1.15)."""
    return "rng" if "rng" in inspect.signature(function).parameters else "random_state"


def less_than(a, b, *, seed=0, n_resamples=10_000, level=0.95) -> TestResult:
    """One-sided test that the values ``a`` are stochastically smaller (better) than ``b``.

    Null hypothesis: ``a`` and ``b`` come from one distribution. Alternative:
    ``a`` tends to be smaller (lower is better). Failed runs (None, NaN, ±inf)
    count as +inf, the worst outcome.

    * Without ties: the exact Mann–Whitney U test
      (``scipy.stats.mannwhitneyu(a, b, alternative="less", method="exact")``).
    * With ties (failed runs tie with each other, for instance): the exact
      test's table assumes none, so a permutation test of the same U
      statistic (mid-ranks) decides, ``scipy.stats.permutation_test``: every
      one of the C(n_a + n_b, n_a) splits when there are at most
      ``n_resamples`` of them, else ``n_resamples`` random ones drawn with
      ``seed`` (then p = (k + 1)/(n_resamples + 1), never 0).

    The effect is median(a) − median(b) (negative: ``a`` is better) with a
    stratified percentile-bootstrap interval: each group resampled within
    itself, ``n_resamples`` times. Two failed medians tie (difference 0).

    Parameters
    ----------
    a, b : sequence of float or None, lengths n_a ≥ 1, n_b ≥ 1
        One metric per run of each group.
    seed : int, default 0
        Seeds the bootstrap (and a sampled permutation test).
    n_resamples : int, default 10000
        Bootstrap resamples, and the most permutations a permutation test uses.
    level : float, default 0.95
        Confidence level of the effect's interval.

    Returns
    -------
    TestResult
        ``statistic`` is U of ``a`` (0 when every ``a`` is below every ``b``),
        ``p_value`` is P(U ≤ observed) under the null.

    Raises
    ------
    TypeError, ValueError
        A group is not a sequence of numbers and None, or is empty; ``seed``
        or ``n_resamples`` is not a non-negative / positive int; ``level`` is
        not in (0, 1).

    Notes
    -----
    The smallest p this test can give is :func:`minimum_p` (n_a, n_b): with 5
    runs against 5 it is 1/252 ≈ 0.004, so plan seeds for the level you need.

    Examples
    --------
    >>> result = less_than([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], n_resamples=200)
    >>> result.test, result.statistic, round(result.p_value, 4)
    ('one-sided Mann-Whitney U (exact)', 0.0, 0.05)
    """
    a = _check_values(a, "a")
    b = _check_values(b, "b")
    seed = _check_count(seed, "seed")
    n_resamples = _check_count(n_resamples, "n_resamples", minimum=1)
    level = _check_open_fraction(level, "level")
    stats = _scipy_stats()
    pooled = np.concatenate([a, b])
    if len(np.unique(pooled)) == len(pooled):
        result = stats.mannwhitneyu(a, b, alternative="less", method="exact")
        test, statistic, p_value = (
            "one-sided Mann-Whitney U (exact)",
            result.statistic,
            result.pvalue,
        )
    else:
        splits = math.comb(len(a) + len(b), len(a))
        how = "all splits" if splits <= n_resamples else f"{n_resamples} random splits"
        result = stats.permutation_test(
            (a, b),
            _rank_sum_u,
            permutation_type="independent",
            vectorized=True,
            n_resamples=n_resamples,
            alternative="less",
            axis=-1,
            **{_random_keyword(stats.permutation_test): np.random.default_rng(seed)},
        )
        test = f"one-sided Mann-Whitney U (permutation test over {how}, ties)"
        statistic, p_value = result.statistic, result.pvalue
    effect = float(_difference(np.median(a), np.median(b)))
    rng = np.random.default_rng(seed)
    low, high = _median_difference_interval(a, b, rng, n_resamples, level)
    return TestResult(
        test=test,
        statistic=float(statistic),
        p_value=float(p_value),
        effect=effect,
        effect_low=low,
        effect_high=high,
        level=level,
    )


def _wilson_interval(successes: int, n: int, level: float) -> tuple:
    """Wilson score interval of a proportion (scipy's ``binomtest(...).proportion_ci``)."""
    interval = _scipy_stats().binomtest(successes, n).proportion_ci(level, method="wilson")
    return float(interval.low), float(interval.high)


def fisher_fewer_failures(learned_a, n_a, learned_b, n_b, *, level=0.95) -> TestResult:
    """One-sided Fisher exact test that ``a`` learns its task more often than ``b``.

    The 2 × 2 table is ``[[learned_a, n_a − learned_a], [learned_b, n_b −
    learned_b]]``; the alternative is that ``a``'s odds of learning are
    higher (``scipy.stats.fisher_exact(table, alternative="greater")``).

    The effect is the difference in learned fractions, ``learned_a/n_a −
    learned_b/n_b``, with Newcombe's hybrid score interval (his method 10,
    Statistics in Medicine 1998): from the Wilson intervals (l_a, u_a),
    (l_b, u_b) of the two fractions p_a, p_b, ``d − sqrt((p_a − l_a)² + (u_b
    − p_b)²)`` to ``d + sqrt((u_a − p_a)² + (p_b − l_b)²)``.

    Parameters
    ----------
    learned_a, learned_b : int
        Runs of each group that learned (0 ≤ learned ≤ n).
    n_a, n_b : int
        Runs of each group (≥ 1).
    level : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    TestResult
        ``statistic`` is the sample odds ratio (inf when every ``a`` run
        learned or no ``b`` run did, NaN when both), ``p_value`` the one-sided
        exact p.

    Raises
    ------
    TypeError
        A count is not an int.
    ValueError
        A count is negative, a group is empty, or learned exceeds its n.

    Examples
    --------
    >>> result = fisher_fewer_failures(5, 5, 0, 5)
    >>> round(result.p_value, 4), result.effect
    (0.004, 1.0)
    """
    n_a = _check_count(n_a, "n_a", minimum=1)
    n_b = _check_count(n_b, "n_b", minimum=1)
    learned_a = _check_count(learned_a, "learned_a")
    learned_b = _check_count(learned_b, "learned_b")
    for name, learned, n, n_name in (
        ("learned_a", learned_a, n_a, "n_a"),
        ("learned_b", learned_b, n_b, "n_b"),
    ):
        if learned > n:
            raise ValueError(f"{name} must be at most {n_name} = {n}; got {learned}")
    level = _check_open_fraction(level, "level")
    stats = _scipy_stats()
    table = [[learned_a, n_a - learned_a], [learned_b, n_b - learned_b]]
    with np.errstate(divide="ignore", invalid="ignore"):
        odds_ratio, p_value = stats.fisher_exact(table, alternative="greater")
    fraction_a, fraction_b = learned_a / n_a, learned_b / n_b
    low_a, high_a = _wilson_interval(learned_a, n_a, level)
    low_b, high_b = _wilson_interval(learned_b, n_b, level)
    effect = fraction_a - fraction_b
    return TestResult(
        test="one-sided Fisher exact test",
        statistic=float(odds_ratio),
        p_value=float(p_value),
        effect=effect,
        effect_low=effect - math.hypot(fraction_a - low_a, high_b - fraction_b),
        effect_high=effect + math.hypot(high_a - fraction_a, fraction_b - low_b),
        level=level,
    )


def holm(p_values, alpha=0.05) -> list:
    """Holm–Bonferroni step-down adjustment of the p-values of m claims tested in one run.

    Sort the m p-values p_(1) ≤ … ≤ p_(m); the adjusted p of the i-th is
    ``max over j ≤ i of min(1, (m − j + 1) p_(j))``, and a claim is rejected
    (its null: supported) when its adjusted p ≤ ``alpha``. This controls the
    chance of any false rejection among the m at ``alpha`` whatever their
    dependence (Holm 1979). None (a claim not tested) passes through and does
    not count in m.

    Parameters
    ----------
    p_values : sequence of float or None, length k
        One p-value per claim, in any order.
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    list of dict, length k
        In the order given: ``{"adjusted_p": float or None, "reject": bool or None}``
        (None for a None p-value).

    Raises
    ------
    TypeError
        ``p_values`` is not a sequence of numbers and None.
    ValueError
        A p-value is outside [0, 1] or NaN; ``alpha`` is not in (0, 1).

    Examples
    --------
    >>> [row["adjusted_p"] for row in holm([0.01, 0.04, 0.03, 0.005])]
    [0.03, 0.06, 0.06, 0.02]
    """
    alpha = _check_open_fraction(alpha, "alpha")
    if isinstance(p_values, (str, bytes)) or not hasattr(p_values, "__len__"):
        raise TypeError(f"p_values must be a sequence of numbers or None; got {p_values!r}")
    p_values = [_check_p_value(p_value, "p_values") for p_value in p_values]
    tested = sorted((p, index) for index, p in enumerate(p_values) if p is not None)
    m = len(tested)
    rows = [{"adjusted_p": None, "reject": None} for _ in p_values]
    running_max = 0.0
    for rank, (p_value, index) in enumerate(tested):  # rank j - 1, j = 1..m
        running_max = max(running_max, min(1.0, (m - rank) * p_value))
        rows[index] = {"adjusted_p": running_max, "reject": running_max <= alpha}
    return rows


def three_way(p_for, p_against, alpha) -> str:
    """Supported, contradicted or inconclusive, from two one-sided p-values of one claim.

    ``p_for`` tests the claim's direction (e.g. "a is better than b") and
    ``p_against`` the opposite one ("b is better than a"), with the **same**
    test and the same multiplicity adjustment, so that both directions meet
    the same bar: the claim is *supported* if ``p_for ≤ alpha``,
    *contradicted* if ``p_against ≤ alpha``, and *inconclusive* otherwise (the
    data cannot decide). A None p-value means that side was not tested and
    cannot decide.

    Parameters
    ----------
    p_for, p_against : float or None
        One-sided p-values (adjusted, if the run tests several claims).
    alpha : float
        The level both must reach.

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Raises
    ------
    ValueError
        A p-value is outside [0, 1]; ``alpha`` is not in (0, 1); or both
        p-values are ≤ alpha (two one-sided tests of the same data cannot
        both reject: the inputs are not such a pair).

    Examples
    --------
    >>> three_way(0.01, 0.99, 0.05), three_way(0.99, 0.01, 0.05), three_way(0.2, 0.8, 0.05)
    ('supported', 'contradicted', 'inconclusive')
    """
    alpha = _check_open_fraction(alpha, "alpha")
    p_for = _check_p_value(p_for, "p_for")
    p_against = _check_p_value(p_against, "p_against")
    supported = p_for is not None and p_for <= alpha
    contradicted = p_against is not None and p_against <= alpha
    if supported and contradicted:
        raise ValueError(
            f"p_for = {p_for} and p_against = {p_against} are both <= alpha = {alpha}: two "
            f"one-sided tests of one claim's two directions cannot both reject"
        )
    if supported:
        return "supported"
    if contradicted:
        return "contradicted"
    return "inconclusive"


def minimum_p(n_a, n_b) -> float:
    """The smallest one-sided p an exact Mann–Whitney test of n_a runs against n_b can give.

    It is reached when every ``a`` is below every ``b``: one split of the
    pooled runs in C(n_a + n_b, n_a), so ``1 / C(n_a + n_b, n_a)``. A protocol
    whose seed count cannot reach its (Holm-adjusted) level can never give a
    "supported" verdict, whatever the data: 5 runs against 5 give at best
    1/252 ≈ 0.004, and Holm over 15 claims at 0.05 asks the smallest p to be
    ≤ 0.05/15 ≈ 0.0033, so with 5 seeds no claim could pass; 6 against 6 give
    1/924 ≈ 0.0011.

    Parameters
    ----------
    n_a, n_b : int
        Runs in each group (≥ 1).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        A size is not an int.
    ValueError
        A size is below 1.

    Examples
    --------
    >>> minimum_p(5, 5) == 1 / 252
    True
    """
    n_a = _check_count(n_a, "n_a", minimum=1)
    n_b = _check_count(n_b, "n_b", minimum=1)
    return 1 / math.comb(n_a + n_b, n_a)
