"""One MILP entry point over HiGHS: ``highspy`` when installed (warm starts), else SciPy.

Both back ends are the same HiGHS solver; ``highspy`` adds a warm start (``setSolution``),
which SciPy's :func:`scipy.optimize.milp` lacks. Without it the caller keeps the heuristic
incumbent and takes the better of the two, with the MILP's proven bound.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "MilpModel",
    "MilpOutcome",
    "assignment_model",
    "coverage_model",
    "coverage_start",
    "have_highspy",
    "main_assignment",
    "new_highs",
    "solve_milp",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


_BANNER_LOCK = threading.Lock()
_BANNER_SHOWN = threading.Event()


def new_highs() -> Any:
    """A ``highspy.Highs`` whose one-time start-up banner does not reach the user's stdout.

    HiGHS prints its banner from C++ on the first instance of a process, before any option can
    be set; the library never prints, so the first construction runs with file descriptor 1
    pointed at the null device.
    """
    import highspy

    with _BANNER_LOCK:
        if _BANNER_SHOWN.is_set():
            return highspy.Highs()
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN.set()
        return h


@dataclass(frozen=True)
class MilpModel:
    """``min/max c @ x`` s.t. ``row_lb <= matrix @ x <= row_ub``, ``col_lb <= x <= col_ub``."""

    c: FloatArray
    matrix: sp.csr_array
    row_lb: FloatArray
    row_ub: FloatArray
    col_lb: FloatArray
    col_ub: FloatArray
    integer: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MilpOutcome:
    """Best solution (``x`` or ``None``), its objective, the proven bound and the status."""

    x: FloatArray | None
    objective: float
    bound: float
    status: Literal["optimal", "time_limit", "infeasible", "error"]
    solver: str
    message: str = ""
    row_dual: FloatArray | None = None  # an LP's row duals (highspy only; ``None`` otherwise)


def have_highspy() -> bool:
    """``True`` when the ``highspy`` package can be imported."""
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def solve_milp(
    model: MilpModel,
    *,
    maximize: bool,
    time_limit_s: float,
    mip_gap: float,
    start: FloatArray | None = None,
    backend: Literal["auto", "highspy", "scipy"] = "auto",
) -> MilpOutcome:
    """Solve ``model`` with HiGHS within ``time_limit_s``; ``start`` is a warm start (highspy only)."""
    use_highspy = backend == "highspy" or (backend == "auto" and have_highspy())
    limit = max(float(time_limit_s), 0.01)
    if use_highspy:
        return _solve_highspy(model, maximize=maximize, time_limit_s=limit, mip_gap=mip_gap, start=start)
    return _solve_scipy(model, maximize=maximize, time_limit_s=limit, mip_gap=mip_gap)


def _solve_highspy(
    model: MilpModel, *, maximize: bool, time_limit_s: float, mip_gap: float, start: FloatArray | None
) -> MilpOutcome:
    import highspy

    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", time_limit_s)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    A = sp.csr_array(model.matrix)
    inf = highspy.kHighsInf
    h.passModel(
        int(A.shape[1]),
        int(A.shape[0]),
        int(A.nnz),
        int(highspy.MatrixFormat.kRowwise.value),
        -1 if maximize else 1,
        0.0,
        np.ascontiguousarray(model.c, dtype=np.float64),
        np.ascontiguousarray(model.col_lb, dtype=np.float64),
        np.ascontiguousarray(model.col_ub, dtype=np.float64),
        np.nan_to_num(np.asarray(model.row_lb, dtype=np.float64), neginf=-inf, posinf=inf),
        np.nan_to_num(np.asarray(model.row_ub, dtype=np.float64), neginf=-inf, posinf=inf),
        A.indptr.astype(np.int32),
        A.indices.astype(np.int32),
        A.data.astype(np.float64),
        model.integer.astype(np.int32),
    )
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    MS = highspy.HighsModelStatus
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    solution = h.getSolution()
    x = np.asarray(solution.col_value, dtype=np.float64) if has_x else None
    row_dual = (
        np.asarray(solution.row_dual, dtype=np.float64)
        if has_x and solution.dual_valid and not model.integer.any()
        else None
    )
    obj = float(info.objective_function_value) if has_x else math.nan
    bound = float(info.mip_dual_bound)
    if status == MS.kOptimal:
        st: Literal["optimal", "time_limit", "infeasible", "error"] = "optimal"
    elif status == MS.kInfeasible:
        st = "infeasible"
    elif status in (MS.kTimeLimit, MS.kIterationLimit, MS.kSolutionLimit, MS.kInterrupt):
        st = "time_limit"
    else:
        st = "error"
    return MilpOutcome(x, obj, bound, st, "highs (highspy)", h.modelStatusToString(status), row_dual)


def _solve_scipy(model: MilpModel, *, maximize: bool, time_limit_s: float, mip_gap: float) -> MilpOutcome:
    from scipy.optimize import Bounds, LinearConstraint, milp

    sign = -1.0 if maximize else 1.0
    res = milp(
        sign * np.asarray(model.c, dtype=np.float64),
        integrality=model.integer.astype(np.int8),
        bounds=Bounds(model.col_lb, model.col_ub),
        constraints=LinearConstraint(sp.csr_array(model.matrix), model.row_lb, model.row_ub),
        options={"time_limit": time_limit_s, "mip_rel_gap": float(mip_gap), "disp": False},
    )
    x = None if res.x is None else np.asarray(res.x, dtype=np.float64)
    obj = math.nan if x is None else float(np.dot(model.c, x))
    raw_bound = getattr(res, "mip_dual_bound", None)
    bound = sign * float(raw_bound) if raw_bound is not None else (obj if res.status == 0 else math.nan)
    st: Literal["optimal", "time_limit", "infeasible", "error"]
    st = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(int(res.status), "error")  # type: ignore[assignment]
    return MilpOutcome(x, obj, bound, st, "highs (scipy.optimize.milp)", str(res.message))


def coverage_model(
    cover: sp.csr_array, w: FloatArray, base: npt.NDArray[np.int64], values: FloatArray, p: int
) -> MilpModel:
    """Coverage MILP, columns ``[x (k), y_1 (r), ..., y_L (r)]``; ``y_l``: row covered ``>= l`` times.

    Maximise ``sum_l sum_i w_i (values[l] - values[l-1]) y_li`` s.t. ``sum_l y_li <= base_i + cover_i @ x``,
    ``y_(l+1) <= y_l``, ``sum x <= p``. Levels already reached by existing sites are fixed at 1.
    """
    r, k = cover.shape
    levels = len(values) - 1
    inc = np.diff(values)
    eye = sp.identity(r, format="csr")
    blocks = [[-cover] + [eye] * levels]
    rub = [base.astype(np.float64)]
    for lvl in range(1, levels):
        row = [sp.csr_array((r, k))] + [sp.csr_array((r, r))] * levels
        row[lvl], row[lvl + 1] = -eye, eye
        blocks.append(row)
        rub.append(np.zeros(r))
    blocks.append([sp.csr_array(np.ones((1, k)))] + [sp.csr_array((1, r))] * levels)
    rub.append(np.array([float(p)]))
    matrix = sp.csr_array(sp.block_array(blocks, format="csr"))
    lower = np.concatenate([np.zeros(k)] + [(base >= lvl).astype(np.float64) for lvl in range(1, levels + 1)])
    c = np.concatenate([np.zeros(k)] + [w * inc[lvl - 1] for lvl in range(1, levels + 1)])
    # continuous levels are exact only while each extra cover is worth no more than the one before
    # (MCLP, or backup coverage with theta >= 1/2); otherwise y = 1/2 at every level would pay
    concave = bool(np.all(np.diff(inc) <= 1e-12))
    integer = np.concatenate([np.ones(k, dtype=bool), np.full(r * levels, not concave)])
    rows = matrix.shape[0]
    return MilpModel(
        c, matrix, np.full(rows, -np.inf), np.concatenate(rub), lower, np.ones(k + r * levels), integer
    )


def coverage_start(
    cover: sp.csr_array, base: npt.NDArray[np.int64], levels: int, cols: IntArray | None
) -> FloatArray | None:
    """Warm start of :func:`coverage_model` from the sites ``cols``."""
    if cols is None:
        return None
    x = np.zeros(cover.shape[1])
    x[cols] = 1.0
    count = base + (np.asarray(cover[:, cols].sum(axis=1)).ravel() if len(cols) else 0)
    return np.concatenate([x] + [(count >= lvl).astype(np.float64) for lvl in range(1, levels + 1)])


def assignment_model(
    pi: IntArray,
    pj: IntArray,
    *,
    n_rows: int,
    n_candidates: int,
    cost: FloatArray,
    existing: IntArray,
    load: FloatArray | None = None,
    capacities: FloatArray | None = None,
    n_open: int | None = None,
    elsewhere_cost: FloatArray | None = None,
) -> MilpModel:
    """Assignment MILP over pairs ``(pi, pj)``, columns ``[x (m), z (pairs), g (rows, optional)]``.

    Minimise ``c @ x + cost @ z + elsewhere_cost @ g`` (``cost`` covers ``[x, z]``) s.t. each row is
    fully assigned (``sum z + g = 1``), ``z_ij <= x_j``, ``sum_i load_i z_ij <= capacities_j x_j``
    and ``sum x = n_open`` when given; ``existing`` columns are fixed open. ``g`` is the k-nearest
    escape: any assignment outside the listed pairs, priced at a lower bound of its cost.
    """
    m, nz = n_candidates, len(pi)
    ng = n_rows if elsewhere_cost is not None else 0
    width = m + nz + ng
    k = np.arange(nz)
    rows_i = [pi, *([np.arange(ng)] if ng else [])]
    cols_i = [m + k, *([m + nz + np.arange(ng)] if ng else [])]
    blocks = [
        sp.csr_array(
            (np.ones(nz + ng), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(n_rows, width)
        )
    ]
    lb, ub = [np.ones(n_rows)], [np.ones(n_rows)]
    link = (
        np.concatenate([np.ones(nz), -np.ones(nz)]),
        (np.concatenate([k, k]), np.concatenate([m + k, pj])),
    )
    blocks.append(sp.csr_array(link, shape=(nz, width)))
    lb.append(np.full(nz, -np.inf))
    ub.append(np.zeros(nz))
    if capacities is not None:
        assert load is not None
        data = np.concatenate([load[pi], -capacities])
        where = (np.concatenate([pj, np.arange(m)]), np.concatenate([m + k, np.arange(m)]))
        blocks.append(sp.csr_array((data, where), shape=(m, width)))
        lb.append(np.full(m, -np.inf))
        ub.append(np.zeros(m))
    if n_open is not None:
        blocks.append(
            sp.csr_array((np.ones(m), (np.zeros(m, dtype=np.intp), np.arange(m))), shape=(1, width))
        )
        lb.append(np.array([float(n_open)]))
        ub.append(np.array([float(n_open)]))
    col_lb = np.zeros(width)
    col_lb[existing] = 1.0
    integer = np.zeros(width, dtype=bool)
    integer[:m] = True
    c = np.concatenate([cost, elsewhere_cost]) if elsewhere_cost is not None else cost
    matrix = sp.csr_array(sp.vstack(blocks, format="csr"))
    return MilpModel(c, matrix, np.concatenate(lb), np.concatenate(ub), col_lb, np.ones(width), integer)


def main_assignment(pi: IntArray, pj: IntArray, z: FloatArray, n_rows: int) -> IntArray:
    """Per row, the column carrying the largest share of its demand (-1 if none)."""
    out = np.full(n_rows, -1, dtype=np.intp)
    order = np.lexsort((z, pi))  # by row, then share ascending: the last per row wins
    keep = z[order] > 1e-9
    out[pi[order][keep]] = pj[order][keep]
    return out
