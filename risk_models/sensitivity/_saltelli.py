"""Sobol indices of many outputs at once: SALib's estimators, vectorised over the outputs.

SALib's :func:`SALib.analyze.sobol.analyze` takes one output at a time and bootstraps its
confidence intervals; a risk map has one output per unit. :func:`sobol_indices` computes the same
point estimates (Saltelli et al. 2010's first order, Jansen's total order, on the outputs
standardised as SALib does) for every column of ``y`` in one pass, without the bootstrap. It is
tested equal to SALib's ``S1`` and ``ST`` column by column (tests/test_sensitivity.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["sobol_indices"]

FloatArray = npt.NDArray[np.float64]


def sobol_indices(y: npt.ArrayLike, n_params: int) -> tuple[FloatArray, FloatArray]:
    """First-order and total Sobol indices of every output column, from Saltelli's sample.

    Parameters
    ----------
    y
        ``(N * (n_params + 2), outputs)``: the outputs at the rows of
        ``SALib.sample.sobol.sample(problem, N, calc_second_order=False)``, in its order.
    n_params
        The number of sampled parameters.

    Returns
    -------
    s1, st
        ``(n_params, outputs)`` each; 0 for an output that does not vary (nothing drives it;
        SALib's standardisation would give NaN there).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((4096 * 4, 2))   # any rows: the estimators only need the outputs' layout
    >>> s1, st = sobol_indices(np.c_[x[:, 0], np.zeros(len(x))], 2)
    >>> s1.shape, float(st[0, 1])
    ((2, 2), 0.0)
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    step = n_params + 2
    n = len(y) // step
    if n == 0 or len(y) != n * step:
        msg = f"{len(y)} outputs are not N x (n_params + 2) = N x {step} rows of Saltelli's sample."
        raise ValueError(msg)
    mean, std = y.mean(axis=0), y.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (y - mean) / std
    a, b = z[0::step], z[step - 1 :: step]
    ab = np.stack([z[j + 1 :: step] for j in range(n_params)], axis=1)  # (N, params, outputs)
    ends = np.concatenate([a, b])
    var = ends.var(axis=0)
    flat = ~(np.ptp(y, axis=0) > np.finfo(float).eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        s1 = np.mean(b[:, None, :] * (ab - a[:, None, :]), axis=0) / var
        st = 0.5 * np.mean((a[:, None, :] - ab) ** 2, axis=0) / var
    s1[:, flat] = 0.0
    st[:, flat] = 0.0
    return s1, st
