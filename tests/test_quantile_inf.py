"""Percentiles of response times with unreached places (inf): never a spurious NaN."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from planning._stats import quantile, repair_quantile

times = st.lists(st.one_of(st.integers(0, 900).map(float), st.just(math.inf)), min_size=1, max_size=30)
levels = st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.95, 1.0]), st.floats(0.0, 1.0))


def _as_large(values: list[float], q: float) -> float:
    # inf read as a very large finite time: the interpolation's limit
    big = np.quantile(np.where(np.isinf(values), 1e300, values), q)
    return math.inf if big > 1e200 else float(big)


@given(times, levels)
def test_quantile_is_the_limit_of_a_very_large_time(values: list[float], q: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = quantile(values, q)
    assert not math.isnan(got)
    expected = _as_large(values, q)
    assert got == expected or math.isclose(got, expected, rel_tol=1e-12)


@given(st.lists(st.integers(0, 900).map(float), min_size=1, max_size=30), levels)
def test_quantile_equals_numpy_on_finite_times(values: list[float], q: float) -> None:
    assert quantile(values, q) == float(np.quantile(values, q))


def test_the_90th_percentile_next_to_an_unreached_place_is_finite() -> None:
    values = [float(t) for t in range(1, 11)] + [math.inf]
    with np.errstate(invalid="ignore"):
        assert math.isnan(float(np.quantile(values, 0.9)))  # numpy's answer: the bug this mends
    assert quantile(values, 0.9) == 10.0
    assert quantile([60.0, math.inf, math.inf], 0.9) == math.inf
    assert math.isnan(quantile([], 0.9))


def test_repair_keeps_pandas_answers_and_mends_its_nan() -> None:
    s = pd.Series([30.0, 40.0, math.inf, math.inf, math.nan])
    with np.errstate(invalid="ignore"):
        answer = float(s.quantile(0.9))
    assert repair_quantile(s.to_numpy(), 0.9, answer) == math.inf
    assert repair_quantile([1.0, 2.0], 0.5, 1.5) == 1.5
