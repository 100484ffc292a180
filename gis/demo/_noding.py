"""Join crossing lines at shared vertices (private).

:func:`node_crossings` finds where a set of road lines crosses any line of a layer and inserts
the crossing point into both lines, with bit-identical coordinates, so that a graph builder
that joins lines at shared vertices makes a junction there. Lines that already share a vertex
at the crossing are left alone. A rule can keep some crossings apart (an expressway passes
over a country road without a junction).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import shapely

from ._province_places import Streets

__all__ = ["node_crossings"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_SAME_M = 1e-6  # a crossing this close to a vertex is that vertex


def node_crossings(
    streets: Streets,
    roads: BoolArray,
    *,
    apart: Callable[[IntArray, IntArray], BoolArray] | None = None,
) -> tuple[Streets, int]:
    """Insert a shared vertex wherever a line of ``roads`` crosses another line.

    Parameters
    ----------
    streets
        All lines.
    roads
        Per line: True for the lines to test against every line. Lines that are both False
        are never compared (a lattice is already joined at its own nodes).
    apart
        ``apart(a, b)`` -> True for line pairs whose crossings stay without a junction.

    Returns
    -------
    Streets, int
        The lines with the crossings inserted, and the number of junctions made.
    """
    geoms = streets.geoms()
    q = np.flatnonzero(roads)
    tree = shapely.STRtree(geoms[q])
    a, t = tree.query(geoms, predicate="intersects")
    b = q[t]
    keep = (a != b) & (~roads[a] | (a < b))
    a, b = a[keep], b[keep]
    if apart is not None and len(a):
        keep = ~apart(a, b)
        a, b = a[keep], b[keep]
    if len(a) == 0:
        return streets, 0
    parts, pair = shapely.get_parts(shapely.intersection(geoms[a], geoms[b]), return_index=True)
    point = shapely.get_type_id(parts) == 0
    parts, pair = parts[point], pair[point]
    pxy = shapely.get_coordinates(parts)
    la, lb = a[pair], b[pair]

    xy, off = streets.xy, streets.offsets
    counts = np.diff(off)
    line_of = np.repeat(np.arange(streets.n_lines), counts)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    seg[off[1:-1] - 1] = 0.0  # no length across two lines
    along = np.concatenate([[0.0], np.cumsum(seg)])
    base = along[off[:-1]]
    # a monotone key over all vertices: line-major (1 m between lines), then distance along
    gap = np.arange(streets.n_lines, dtype=np.float64)
    key = along + gap[line_of]

    def locate(lines: IntArray) -> tuple[FloatArray, IntArray]:
        d = shapely.line_locate_point(geoms[lines], parts)
        k = base[lines] + d + gap[lines]
        hit = np.clip(np.searchsorted(key, k), off[lines] + 1, off[lines + 1] - 1)
        near = np.where(np.hypot(*(xy[hit - 1] - pxy).T) <= np.hypot(*(xy[hit] - pxy).T), hit - 1, hit)
        return k, np.where(np.hypot(*(xy[near] - pxy).T) < _SAME_M, near, -1)

    ka, va = locate(la)
    kb, vb = locate(lb)
    canon = pxy.copy()
    canon[va >= 0] = xy[va[va >= 0]]
    only_b = (va < 0) & (vb >= 0)
    canon[only_b] = xy[vb[only_b]]
    ins_key = np.concatenate([ka[va < 0], kb[vb < 0]])
    ins_xy = np.concatenate([canon[va < 0], canon[vb < 0]])
    ins_line = np.concatenate([la[va < 0], lb[vb < 0]])
    n_junctions = int(((va < 0) | (vb < 0)).sum())
    if len(ins_key) == 0:
        return streets, 0
    all_key = np.concatenate([key, ins_key])
    all_xy = np.concatenate([xy, ins_xy])
    all_line = np.concatenate([line_of, ins_line])
    is_ins = np.concatenate([np.zeros(len(key), bool), np.ones(len(ins_key), bool)])
    order = np.lexsort((is_ins, all_key, all_line))
    all_xy, all_line, is_ins = all_xy[order], all_line[order], is_ins[order]
    # drop an insert that repeats the vertex before it (one crossing found by two pairs)
    dup = np.zeros(len(all_xy), bool)
    dup[1:] = is_ins[1:] & (all_line[1:] == all_line[:-1]) & (np.hypot(*np.diff(all_xy, axis=0).T) < _SAME_M)
    all_xy, all_line = all_xy[~dup], all_line[~dup]
    new_counts = np.bincount(all_line, minlength=streets.n_lines)
    out = Streets(
        all_xy,
        np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64),
        streets.code,
        streets.place,
        streets.name,
    )
    return out, n_junctions
