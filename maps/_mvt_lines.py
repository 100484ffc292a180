"""The vectorised Mapbox vector tile encoder for line layers (a province's roads), private.

As :func:`maps._mvt.encode_polygons` for polygons: every line of a tile is quantised, its
repeated points dropped, delta- and zigzag-encoded and varint-packed with numpy at once;
parts of a MultiLineString follow each other in one feature (the cursor runs on). A part left
with fewer than two distinct points once quantised is dropped, and a feature left with none.
``tests/test_tiles.py`` decodes the tiles with ``mapbox_vector_tile`` and compares them with
the library's own encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from ._mvt import Columns, _varints, frame_layer

__all__ = ["encode_lines"]


def encode_lines(
    lines: np.ndarray,
    properties: Sequence[dict[str, object]] | Columns,
    *,
    name: str,
    bounds: tuple[float, float, float, float],
    extent: int = 4096,
) -> bytes:
    """One MVT layer of ``lines`` (shapely LineStrings and MultiLineStrings, units of ``bounds``)."""
    if not len(lines):
        return b""
    _, coords, offsets = shapely.to_ragged_array(lines, include_z=False)
    if len(offsets) == 1:  # LineStrings only: each its own single part
        part_off = offsets[0]
        feat_off = np.arange(len(part_off))
    else:
        part_off, feat_off = offsets
    xmin, ymin, xmax, ymax = bounds
    qx = np.round((coords[:, 0] - xmin) * extent / (xmax - xmin)).astype(np.int64)
    qy = np.round((ymax - coords[:, 1]) * extent / (ymax - ymin)).astype(np.int64)
    n_parts = len(part_off) - 1
    part_of = np.repeat(np.arange(n_parts), np.diff(part_off))
    same = np.zeros(len(qx), dtype=bool)
    same[1:] = (qx[1:] == qx[:-1]) & (qy[1:] == qy[:-1]) & (part_of[1:] == part_of[:-1])
    qx, qy, part_of = qx[~same], qy[~same], part_of[~same]
    n_part = np.bincount(part_of, minlength=n_parts)
    keep = (n_part >= 2)[part_of]
    qx, qy, part_of = qx[keep], qy[keep], part_of[keep]
    n_part = np.bincount(part_of, minlength=n_parts)
    feat_of_part = np.repeat(np.arange(len(feat_off) - 1), np.diff(feat_off))
    feat_of_pt = feat_of_part[part_of]
    dx = np.diff(qx, prepend=0)
    dy = np.diff(qy, prepend=0)
    first_of_feat = np.ones(len(qx), dtype=bool)
    first_of_feat[1:] = feat_of_pt[1:] != feat_of_pt[:-1]
    dx[first_of_feat] = qx[first_of_feat]
    dy[first_of_feat] = qy[first_of_feat]
    zx = (dx << 1) ^ (dx >> 63)
    zy = (dy << 1) ^ (dy >> 63)
    first_of_part = np.ones(len(qx), dtype=bool)
    first_of_part[1:] = part_of[1:] != part_of[:-1]
    second = np.zeros(len(qx), dtype=bool)
    second[1:] = first_of_part[:-1]
    lead = np.where(first_of_part, 9, 0)  # MoveTo(1)
    lineto = np.where(second, 2 | ((n_part[part_of] - 1) << 3), 0)  # LineTo(n - 1)
    slots = np.stack([lead, lineto, zx, zy], axis=1)
    present = np.stack([first_of_part, second, np.ones(len(qx), bool), np.ones(len(qx), bool)], axis=1)
    data, lens = _varints(slots[present])
    per_point = present.sum(axis=1)
    point_bytes = (
        np.add.reduceat(lens, np.concatenate([[0], np.cumsum(per_point)[:-1]])) if len(lens) else lens
    )
    n_feat = len(feat_off) - 1
    feat_bytes = np.bincount(feat_of_pt, weights=point_bytes, minlength=n_feat).astype(np.int64)
    kept = np.flatnonzero(np.bincount(feat_of_pt, minlength=n_feat) > 0)
    return frame_layer(data.tobytes(), feat_bytes, kept, properties, name=name, extent=extent, kind=2)
