"""The nearest road edges of grid pixels, by array arithmetic over the edges' segments (private).

What the isochrones need of every pixel near a road is GEOS's answer to two questions: which
edges are nearest to the pixel's centre (all of them when several tie, within a search distance:
``STRtree.query_nearest(..., max_distance=, all_matches=True)``), and where on each of them the
nearest point lies (``line_locate_point(..., normalized=True)``). Asking GEOS pixel by pixel costs
2 us a pixel on a city's tree and 20-66 us on a province's tree of 11 M edges. Here every segment
of every edge instead enumerates the pixels of the box around it (grown by the search distance),
and the distances are computed for all of them at once with GEOS's own formulas
(``Distance::pointToSegment``, ``LineSegment::segmentFraction`` and ``LengthLocationMap``), so
the answers are GEOS's to the last bit except where two distances tie within a rounding.

The grid is processed in bands of rows, each band's edges in batches of (pixel, segment) pairs,
so memory is bounded by a band (a few hundred MB at most), whatever the size of the grid.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = ["nearest_edges", "twins"]

_BAND_ROWS = 64  # grid rows per band
_BATCH_PAIRS = 1_000_000  # (pixel, segment) pairs computed at once
_TWIN_BATCH = 1_000_000  # edges matched with their twins at once
_EPS_M = 0.05  # slack of the enumerated columns and rows (the distances decide; this only must not miss)


def _ragged(counts: IntArray) -> IntArray:
    """``0..c-1`` for every count ``c``, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


def _segments(
    xy: FloatArray, offsets: IntArray, edges: IntArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """Segments of ``edges``: ``(edge, first vertex, length, length before it, edge length)``.

    Lengths are summed segment by segment in order, as GEOS measures a line.
    """
    nseg = (offsets[edges + 1] - offsets[edges] - 1).astype(np.int64)
    seg_edge = np.repeat(edges, nseg)
    a = np.repeat(offsets[edges], nseg) + _ragged(nseg)
    dx = xy[a + 1, 0] - xy[a, 0]
    dy = xy[a + 1, 1] - xy[a, 1]
    seg_len = np.sqrt(dx * dx + dy * dy)
    before = np.empty(len(a))
    total = np.zeros(len(edges))
    first = np.cumsum(nseg) - nseg
    order = np.argsort(-nseg, kind="stable")
    ns_desc = -nseg[order]
    for j in range(int(nseg.max()) if len(nseg) else 0):
        k = order[: int(np.searchsorted(ns_desc, -j, side="left"))]  # edges with more than j segments
        s = first[k] + j
        before[s] = total[k]
        total[k] += seg_len[s]
    edge_len = np.repeat(total, nseg)
    return seg_edge, a, seg_len, before, edge_len


Segments = tuple[FloatArray, FloatArray, FloatArray, FloatArray]  # ax, ay, bx, by


def _point_segment(px: FloatArray, py: FloatArray, seg: Segments) -> FloatArray:
    """GEOS ``Distance::pointToSegment``, operation for operation."""
    ax, ay, bx, by = seg
    ux, uy = bx - ax, by - ay
    len2 = ux * ux + uy * uy
    degenerate = len2 == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * ux + (py - ay) * uy) / len2
        s = ((ay - py) * ux - (ax - px) * uy) / len2
        perp = np.abs(s) * np.sqrt(len2)
    dax, day = px - ax, py - ay
    dbx, dby = px - bx, py - by
    to_a = np.sqrt(dax * dax + day * day)
    to_b = np.sqrt(dbx * dbx + dby * dby)
    return np.where(degenerate | (r <= 0.0), to_a, np.where(r >= 1.0, to_b, perp))


def _segment_fraction(px: FloatArray, py: FloatArray, seg: Segments) -> FloatArray:
    """GEOS ``LineSegment::segmentFraction``: the projection factor clamped to 0..1 (1 when undefined)."""
    ax, ay, bx, by = seg
    ux, uy = bx - ax, by - ay
    len2 = ux * ux + uy * uy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * ux + (py - ay) * uy) / len2
    r = np.where((px == ax) & (py == ay), 0.0, np.where((px == bx) & (py == by), 1.0, r))
    return np.where(r < 0.0, 0.0, np.where((r > 1.0) | np.isnan(r), 1.0, r))


def twins(xy: FloatArray, offsets: IntArray, uv: IntArray) -> IntArray:
    """The reverse twin of every edge (``v -> u`` along the same line drawn backwards), else -1.

    Only unambiguous pairs are matched: exactly one edge each way between the two nodes, with
    the same vertices in reverse order (a two-way road). Memory: a few arrays of the edges.
    """
    m = len(offsets) - 1
    out = np.full(m, -1, dtype=np.int64)
    if m == 0:
        return out
    n = np.int64(uv.max()) + 1
    u, v = uv[:, 0].astype(np.int64), uv[:, 1].astype(np.int64)
    order = np.argsort(u * n + v, kind="stable")
    sk = (u * n + v)[order]
    single = np.ones(m, dtype=bool)  # the only edge from its u to its v
    dup = np.flatnonzero(sk[1:] == sk[:-1])
    single[order[dup]] = False
    single[order[dup + 1]] = False
    for lo_e in range(0, m, _TWIN_BATCH):
        e = np.arange(lo_e, min(lo_e + _TWIN_BATCH, m), dtype=np.int64)
        want = v[e] * n + u[e]
        at = np.minimum(np.searchsorted(sk, want), m - 1)
        t = order[at]
        ok = (sk[at] == want) & single[e] & single[t] & (u[e] != v[e]) & (e < t)
        a, b = e[ok], t[ok]
        nv = offsets[a + 1] - offsets[a]
        keep = nv == offsets[b + 1] - offsets[b]
        a, b, nv = a[keep], b[keep], nv[keep]
        if not len(a):
            continue
        k = _ragged(nv)
        ia = np.repeat(offsets[a], nv) + k
        ib = np.repeat(offsets[b] + nv - 1, nv) - k
        equal = (xy[ia] == xy[ib]).all(axis=1)
        same = np.logical_and.reduceat(equal, np.cumsum(nv) - nv)
        out[a[same]], out[b[same]] = b[same], a[same]
    return out


def nearest_edges(
    xy: FloatArray,
    offsets: IntArray,
    cx: FloatArray,
    cy: FloatArray,
    *,
    pixel_m: float,
    buffer_m: float,
    only: npt.NDArray[np.bool_] | None = None,
    twin: IntArray | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Nearest edges of every pixel within ``buffer_m`` of an edge, and where on them.

    Parameters
    ----------
    xy, offsets
        Edge lines packed GeoArrow style: edge ``j`` is ``xy[offsets[j]:offsets[j + 1]]``.
    cx, cy
        Pixel centres of the grid's columns and rows (equally spaced by ``pixel_m``).
    pixel_m
        Pixel size.
    buffer_m
        Search distance: pixels farther than it from every edge are left out.
    only
        Flat row-major mask of the pixels wanted (default: all).
    twin
        The reverse twin of every edge or -1 (:func:`twins`): a two-way road is measured once.

    Returns
    -------
    pixel, edge, fraction
        One entry per (pixel, nearest edge): the pixel's flat row-major index (ascending, then
        the edge ascending), the edge, and the normalised position of the nearest point on it
        (0 at its start, 1 at its end). Every edge at the minimum distance is listed, and the
        two directions of a two-way road in ``twin`` always both.
    """
    nx_, ny_ = len(cx), len(cy)
    m = len(offsets) - 1
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if m == 0 or nx_ == 0 or ny_ == 0:
        return empty
    if twin is None:
        twin = np.full(m, -1, dtype=np.int64)
    # each two-way road is measured once, through the twin with the lower number
    rep = np.flatnonzero((twin < 0) | (twin > np.arange(m)))
    starts = offsets[:-1][rep]
    ey0 = np.minimum.reduceat(xy[:, 1], offsets[:-1])[rep]
    ey1 = np.maximum.reduceat(xy[:, 1], offsets[:-1])[rep]
    y0 = cy[0] - pixel_m / 2
    er0 = np.floor((ey0 - buffer_m - y0) / pixel_m) - 1
    er1 = np.floor((ey1 + buffer_m - y0) / pixel_m) + 2
    del ey0, ey1, starts
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    for b0 in range(0, ny_, _BAND_ROWS):
        b1 = min(b0 + _BAND_ROWS, ny_)
        if only is not None and not only[b0 * nx_ : b1 * nx_].any():
            continue
        edges = rep[(er1 > b0) & (er0 < b1)].astype(np.int64)
        if len(edges):
            parts.append(
                _band(
                    xy,
                    offsets,
                    edges,
                    twin=twin,
                    cx=cx,
                    cy=cy,
                    pixel_m=pixel_m,
                    buffer_m=buffer_m,
                    rows=(b0, b1),
                    only=only,
                )
            )
    if not parts:
        return empty
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _interval(y: FloatArray, seg: Segments, r: float) -> tuple[FloatArray, FloatArray]:
    """The x-interval of the horizontal line at ``y`` within ``r`` of each segment (lo > hi: none).

    The set is convex (a stadium): the union of the two end discs and the rectangle between them.
    """
    ax, ay, bx, by = seg
    inf = np.inf
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.full(len(y), inf)
        hi = np.full(len(y), -inf)
        for px, py in ((ax, ay), (bx, by)):
            h2 = r * r - (y - py) ** 2
            h = np.sqrt(np.where(h2 >= 0, h2, np.nan))
            ok = h2 >= 0
            lo = np.where(ok, np.minimum(lo, px - h), lo)
            hi = np.where(ok, np.maximum(hi, px + h), hi)
        ux, uy = bx - ax, by - ay
        length = np.sqrt(ux * ux + uy * uy)
        dy = y - ay
        # 0 <= t <= 1: (x - ax) ux + dy uy in [0, len2]
        len2 = length * length
        t_a = ax - dy * uy / ux
        t_b = ax + (len2 - dy * uy) / ux
        t_in = (dy * uy >= 0) & (dy * uy <= len2)  # where ux == 0
        t_lo = np.where(ux != 0, np.minimum(t_a, t_b), np.where(t_in, -inf, inf))
        t_hi = np.where(ux != 0, np.maximum(t_a, t_b), np.where(t_in, inf, -inf))
        # |(x - ax) uy - dy ux| <= r len
        p_a = ax + (dy * ux - r * length) / uy
        p_b = ax + (dy * ux + r * length) / uy
        p_in = np.abs(dy * ux) <= r * length  # where uy == 0
        p_lo = np.where(uy != 0, np.minimum(p_a, p_b), np.where(p_in, -inf, inf))
        p_hi = np.where(uy != 0, np.maximum(p_a, p_b), np.where(p_in, inf, -inf))
        r_lo, r_hi = np.maximum(t_lo, p_lo), np.minimum(t_hi, p_hi)
        rect = (r_lo <= r_hi) & (length > 0)
        lo = np.where(rect, np.minimum(lo, r_lo), lo)
        hi = np.where(rect, np.maximum(hi, r_hi), hi)
    return lo, hi


def _band(
    xy: FloatArray,
    offsets: IntArray,
    edges: IntArray,
    *,
    twin: IntArray,
    cx: FloatArray,
    cy: FloatArray,
    pixel_m: float,
    buffer_m: float,
    rows: tuple[int, int],
    only: npt.NDArray[np.bool_] | None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """:func:`nearest_edges` for the grid rows ``rows[0] .. rows[1] - 1``, measured on ``edges``."""
    b0, b1 = rows
    nx_ = len(cx)
    x0, y0 = cx[0] - pixel_m / 2, cy[0] - pixel_m / 2
    seg_edge, a, seg_len, before, edge_len = _segments(xy, offsets, edges)
    ax, ay, bx, by = xy[a, 0], xy[a, 1], xy[a + 1, 0], xy[a + 1, 1]
    lengths = (seg_len, before, edge_len)
    r = buffer_m + _EPS_M
    # the rows of each segment's stadium, then the columns of each row: the pixels to measure
    r0 = np.clip(np.ceil((np.minimum(ay, by) - r - y0) / pixel_m - 0.5), b0, b1).astype(np.int64)
    r1 = np.clip(np.floor((np.maximum(ay, by) + r - y0) / pixel_m - 0.5) + 1, b0, b1).astype(np.int64)
    nrow = np.maximum(r1 - r0, 0)
    sr = np.repeat(np.arange(len(a)), nrow)
    row_of = np.repeat(r0, nrow) + _ragged(nrow)
    lo, hi = _interval(cy[row_of], (ax[sr], ay[sr], bx[sr], by[sr]), r)
    c0 = np.clip(np.ceil((lo - x0) / pixel_m - 0.5), 0, nx_)
    c1 = np.clip(np.floor((hi - x0) / pixel_m - 0.5) + 1, 0, nx_)
    good = np.isfinite(lo) & (c1 > c0)
    sr, row_of = sr[good], row_of[good]
    c0 = c0[good].astype(np.int64)
    n = c1[good].astype(np.int64) - c0
    del lo, hi, c1, good
    cum = np.cumsum(n)
    cuts = np.searchsorted(cum, np.arange(_BATCH_PAIRS, int(cum[-1]) if len(cum) else 0, _BATCH_PAIRS))
    loc_parts, seg_parts, d_parts = [], [], []
    for lo_i, hi_i in zip(np.r_[0, cuts], np.r_[cuts, len(n)], strict=True):
        if hi_i <= lo_i:
            continue
        q = np.repeat(np.arange(lo_i, hi_i), n[lo_i:hi_i])
        col = c0[q] + _ragged(n[lo_i:hi_i])
        row = row_of[q]
        s = sr[q]
        del q
        flat = row * nx_ + col
        if only is not None:
            wanted = only[flat]
            s, col, row, flat = s[wanted], col[wanted], row[wanted], flat[wanted]
        d = _point_segment(cx[col], cy[row], (ax[s], ay[s], bx[s], by[s]))
        near = d <= buffer_m
        loc_parts.append(flat[near] - b0 * nx_)
        seg_parts.append(s[near])
        d_parts.append(d[near])
    if not loc_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    loc, s, d = np.concatenate(loc_parts), np.concatenate(seg_parts), np.concatenate(d_parts)
    del loc_parts, seg_parts, d_parts
    # the edges at the minimum distance of each pixel (an edge's distance: its nearest segment's)
    best = np.full((b1 - b0) * nx_, np.inf)
    np.minimum.at(best, loc, d)
    tie = d == best[loc]
    loc, s = loc[tie], s[tie]
    e = seg_edge[s]
    order = np.lexsort((s, e, loc))
    loc, s, e = loc[order], s[order], e[order]
    brk = np.r_[True, (loc[1:] != loc[:-1]) | (e[1:] != e[:-1])]
    head = np.flatnonzero(brk)
    tail = np.r_[head[1:], len(loc)] - 1
    loc, e, s_first, s_last = loc[head], e[head], s[head], s[tail]
    flat = loc + b0 * nx_
    px, py = cx[flat % nx_], cy[flat // nx_]
    frac = _locate(px, py, s_first, (ax, ay, bx, by), lengths)
    out_pix, out_edge, out_frac = [flat], [e], [frac]
    # the twin of a two-way road: its own first nearest segment is the last of ours, reversed
    t = twin[e]
    has = np.flatnonzero(t >= 0)
    if len(has):
        tw = t[has]
        nseg = offsets[e[has] + 1] - offsets[e[has]] - 1
        j = s_last[has] - np.searchsorted(seg_edge, e[has], side="left")  # index on our edge
        t_edges, t_inv = np.unique(tw, return_inverse=True)
        t_seg_edge, t_a, t_len, t_before, t_edge_len = _segments(xy, offsets, t_edges)
        t_first = np.searchsorted(t_seg_edge, t_edges, side="left")
        ts = t_first[t_inv] + (nseg - 1 - j)
        t_seg = (xy[t_a, 0], xy[t_a, 1], xy[t_a + 1, 0], xy[t_a + 1, 1])
        out_pix.append(flat[has])
        out_edge.append(tw)
        out_frac.append(_locate(px[has], py[has], ts, t_seg, (t_len, t_before, t_edge_len)))
    pix_all, edge_all = np.concatenate(out_pix), np.concatenate(out_edge)
    frac_all = np.concatenate(out_frac)
    order = np.lexsort((edge_all, pix_all))
    return pix_all[order], edge_all[order], frac_all[order]


def _locate(
    px: FloatArray,
    py: FloatArray,
    s: IntArray,
    seg: Segments,
    lengths: tuple[FloatArray, FloatArray, FloatArray],
) -> FloatArray:
    """GEOS ``line_locate_point(normalized=True)`` of each point on segment ``s`` of its edge.

    ``lengths``: of every segment, of its edge before it, and of its edge.
    """
    ax, ay, bx, by = seg
    seg_len, before, edge_len = lengths
    along = before[s] + seg_len[s] * _segment_fraction(px, py, (ax[s], ay[s], bx[s], by[s]))
    length = edge_len[s]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(length > 0, along / length, 0.0)
