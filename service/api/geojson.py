"""GeoJSON rendered once per layer, then sliced: bbox and attribute filters without re-serialising.

A :class:`RenderedLayer` holds a layer in EPSG:4326, each feature's GeoJSON text (rendered
once, as :meth:`geopandas.GeoDataFrame.to_json` would), the whole FeatureCollection, and an
STR-tree on the geometries. A ``bbox`` request is then a tree query plus a join of the
pre-rendered features (well under a millisecond for a few thousand features), not a fresh
serialisation of the layer. The text and the tree are built on the first request that needs
them (once, under a lock), so a layer only ever drawn from vector tiles (a million risk cells)
is never rendered as GeoJSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from fastapi import Response

__all__ = ["GEOJSON", "GEOJSON_DOC", "RenderedLayer"]

GEOJSON = "application/geo+json"
#: The OpenAPI ``responses`` entry of a route that answers GeoJSON.
GEOJSON_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection in EPSG:4326."}
}
_HEAD = b'{"type": "FeatureCollection", "features": ['
_TAIL = b"]}"


class RenderedLayer:
    """A layer in EPSG:4326 with its features rendered as GeoJSON text, and a spatial index.

    Build one with :meth:`of`. The text and the tree are rendered on first use (once, under a
    lock: concurrent first requests wait for one rendering); the layer is read-only after.

    Attributes
    ----------
    frame
        The features (EPSG:4326, geometry not null), in their original order.
    features
        The GeoJSON text of each feature of ``frame``, in order (rendered on first use).
    body
        The whole FeatureCollection (on first use).
    tree
        STR-tree on ``frame``'s geometries (positions, not labels; on first use).

    Examples
    --------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame({"v": [1, 2]}, geometry=[Point(0, 0), Point(5, 5)], index=["a", "b"], crs=4326)
    >>> layer = RenderedLayer.of(gdf)
    >>> layer.rendered
    False
    >>> layer.select(bbox=(4, 4, 6, 6))[1], layer.select()[1], layer.rendered
    (1, 2, True)
    >>> layer.select(bbox=(4, 4, 6, 6))[0] == gdf.loc[["b"]].to_json(na="null", drop_id=False).encode()
    True
    """

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.frame = frame
        self._lock = threading.Lock()
        self._features: tuple[bytes, ...] | None = None
        self._body: bytes | None = None
        self._tree: shapely.STRtree | None = None

    @classmethod
    def of(cls, gdf: gpd.GeoDataFrame) -> RenderedLayer:
        """The layer ``gdf`` (any CRS; none is taken as EPSG:4326), to be rendered on first use."""
        out = gdf.to_crs(4326) if gdf.crs is not None else gdf
        return cls(out[out.geometry.notna()])

    @property
    def rendered(self) -> bool:
        """Whether the GeoJSON text has been rendered yet."""
        return self._features is not None

    @property
    def features(self) -> tuple[bytes, ...]:
        """The GeoJSON text of each feature, rendered once."""
        if self._features is None:
            with self._lock:
                if self._features is None:  # not rendered by a concurrent first request meanwhile
                    collection = self.frame.to_geo_dict(na="null", drop_id=False)
                    self._features = tuple(json.dumps(f).encode() for f in collection["features"])
        return self._features

    @property
    def body(self) -> bytes:
        """The whole FeatureCollection."""
        if self._body is None:
            self._body = _HEAD + b", ".join(self.features) + _TAIL
        return self._body

    @property
    def tree(self) -> shapely.STRtree:
        """The STR-tree on the geometries (positions)."""
        if self._tree is None:
            self._tree = shapely.STRtree(np.asarray(self.frame.geometry.array))
        return self._tree

    def __len__(self) -> int:
        """The number of features."""
        return len(self.frame)

    def positions(self, bbox: Sequence[float] | None = None) -> npt.NDArray[np.intp]:
        """Positions of the features that intersect ``bbox`` (west, south, east, north), in order.

        A ``west`` greater than ``east`` crosses the antimeridian (RFC 7946).
        """
        if bbox is None:
            return np.arange(len(self))
        west, south, east, north = bbox
        boxes = (
            [(west, south, east, north)]
            if west <= east
            else [(west, south, 180, north), (-180, south, east, north)]
        )
        hits = [self.tree.query(shapely.box(*b), predicate="intersects") for b in boxes]
        return np.unique(np.concatenate(hits))

    def select(
        self,
        *,
        bbox: Sequence[float] | None = None,
        mask: npt.NDArray[np.bool_] | None = None,
        limit: int | None = None,
    ) -> tuple[bytes, int]:
        """The FeatureCollection of the features in ``bbox`` where ``mask`` holds, and how many matched.

        ``limit`` keeps the first ones; the count is of every match.
        """
        if bbox is None and mask is None and (limit is None or limit >= len(self)):
            return self.body, len(self)
        chosen = self.positions(bbox)
        if mask is not None:
            chosen = chosen[mask[chosen]]
        total = len(chosen)
        if limit is not None:
            chosen = chosen[:limit]
        return _HEAD + b", ".join(self.features[i] for i in chosen) + _TAIL, total

    def response(
        self,
        *,
        bbox: Sequence[float] | None = None,
        mask: npt.NDArray[np.bool_] | None = None,
        limit: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """:meth:`select` as a GeoJSON response with ``X-Total-Count``."""
        body, total = self.select(bbox=bbox, mask=mask, limit=limit)
        return Response(body, media_type=GEOJSON, headers={"X-Total-Count": str(total), **(headers or {})})
