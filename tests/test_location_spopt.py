"""Agreement with spopt (a test-only dependency) on the same cost matrices.

spopt's ``p_facilities`` counts predefined (existing) sites too; riskplan's ``n_new`` counts new
sites only. spopt's p-median objective is the weighted total; riskplan reports the mean.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from planning.location import lscp, mclp, p_center, p_median

spopt_locate = pytest.importorskip(
    "spopt.locate", reason="spopt is not installed: pip install spopt pulp (test-only peer)"
)
pulp = pytest.importorskip("pulp", reason="pulp is not installed: pip install pulp (spopt's solver layer)")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 3.x announcing its 4.0 API

FloatArray = npt.NDArray[np.float64]
RADIUS = 2500.0


def city(seed: int, n: int = 60, m: int = 15) -> tuple[FloatArray, FloatArray]:
    """Uniform demand and candidates in a 10 km square, Euclidean metres, weights 1-1000."""
    rng = np.random.default_rng(seed)
    demand, cand = rng.uniform(0, 10_000, (n, 2)), rng.uniform(0, 10_000, (m, 2))
    cost = np.hypot(demand[:, None, 0] - cand[None, :, 0], demand[:, None, 1] - cand[None, :, 1])
    return cost, rng.integers(1, 1001, n).astype(np.float64)


def cbc() -> object:
    return pulp.PULP_CBC_CMD(msg=False)


def predefined(m: int, existing: list[int]) -> npt.NDArray[np.int64] | None:
    if not existing:
        return None
    arr = np.zeros(m, dtype=np.int64)
    arr[existing] = 1
    return arr


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("existing", [[], [2, 7]])
def test_mclp_matches_spopt(seed: int, existing: list[int]) -> None:
    cost, w = city(seed)
    for p in (2, 4):
        ref = spopt_locate.MCLP.from_cost_matrix(
            cost, w, RADIUS, p + len(existing), predefined_facilities_arr=predefined(15, existing)
        ).solve(cbc())
        res = mclp(cost, w, RADIUS, p, existing=existing)
        assert res.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)
        assert res.status == "optimal"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("existing", [[], [0]])
def test_lscp_matches_spopt(seed: int, existing: list[int]) -> None:
    cost, _ = city(seed, n=40, m=25)
    radius = 3500.0
    reach = (cost <= radius).any(axis=1)
    cost = cost[reach]
    ref = spopt_locate.LSCP.from_cost_matrix(cost, radius, predefined_facilities_arr=predefined(25, existing))
    ref = ref.solve(cbc())
    res = lscp(cost, radius, existing=existing)
    assert res.objective + len(existing) == pytest.approx(ref.problem.objective.value())
    assert res.status == "optimal"


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("existing", [[], [3]])
def test_p_median_matches_spopt(seed: int, existing: list[int]) -> None:
    cost, w = city(seed, n=40, m=12)
    ref = spopt_locate.PMedian.from_cost_matrix(
        cost, w, 3 + len(existing), predefined_facilities_arr=predefined(12, existing)
    ).solve(cbc())
    res = p_median(cost, w, 3, existing=existing)
    assert res.objective * w.sum() == pytest.approx(ref.problem.objective.value(), rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_p_center_matches_spopt(seed: int) -> None:
    cost, _ = city(seed, n=30, m=10)
    ref = spopt_locate.PCenter.from_cost_matrix(cost, 3).solve(cbc())
    res = p_center(cost, 3)
    assert res.objective == pytest.approx(ref.problem.objective.value(), rel=1e-6)
    assert res.bound == res.objective
