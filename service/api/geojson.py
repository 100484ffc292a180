"""GeoJSON rendered once per layer, then sliced: bbox and attribute filters without re-serialising.

A :class:`RenderedLayer` holds a layer in EPSG:4326, each feature's GeoJSON text (rendered
once, as :meth:`geopandas.GeoDataFrame.to_json` would), the whole FeatureCollection, and an
STR-tree on the geometries. A ``bbox`` request is then a tree query plus a join of the
pre-rendered features (well under a millisecond for a few thousand features), not a fresh
serialisation of the layer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RenderedLayer:
    """A layer in EPSG:4326 with its features rendered as GeoJSON text, and a spatial index.

    Attributes
    ----------
    frame
        The features (EPSG:4326, geometry not null), in their original order.
    features
        The GeoJSON text of each feature of ``frame``, in order.
    body
        The whole FeatureCollection.
    tree
        STR-tree on ``frame``'s geometries (positions, not labels).

    Examples
    --------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame({"v": [1, 2]}, geometry=[Point(0, 0), Point(5, 5)], index=["a", "b"], crs=4326)
    >>> layer = RenderedLayer.of(gdf)
    >>> layer.select(bbox=(4, 4, 6, 6))[1], layer.select()[1]
    (1, 2)
    >>> layer.select(bbox=(4, 4, 6, 6))[0] == gdf.loc[["b"]].to_json(na="null", drop_id=False).encode()
    True
    """

    frame: gpd.GeoDataFrame
    features: tuple[bytes, ...]
    body: bytes
    tree: shapely.STRtree

    @classmethod
    def of(cls, gdf: gpd.GeoDataFrame) -> RenderedLayer:
        """Render ``gdf`` (any CRS; none is taken as EPSG:4326) feature by feature."""
        out = gdf.to_crs(4326) if gdf.crs is not None else gdf
        out = out[out.geometry.notna()]
        collection = out.to_geo_dict(na="null", drop_id=False)
        features = tuple(json.dumps(feature).encode() for feature in collection["features"])
        body = _HEAD + b", ".join(features) + _TAIL
        return cls(out, features, body, shapely.STRtree(np.asarray(out.geometry.array)))

    def __len__(self) -> int:
        """The number of features."""
        return len(self.features)

    def positions(self, bbox: Sequence[float] | None = None) -> npt.NDArray[np.intp]:
        """Positions of the features that intersect ``bbox`` (west, south, east, north), in order.

        A ``west`` greater than ``east`` crosses the antimeridian (RFC 7946).
        """
        if bbox is None:
            return np.arange(len(self.features))
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
        if bbox is None and mask is None and (limit is None or limit >= len(self.features)):
            return self.body, len(self.features)
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
