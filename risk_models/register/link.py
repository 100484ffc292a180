"""Linking register items to the hazard source, enterprise or community they lie in or near.

An item found at a plant belongs to that plant's hazard source and enterprise; one found in a
residential block to its community. :func:`link_items` decides it from the places alone:

1. the **nearest hazard source within** ``max_distance_m`` (default :data:`LINK_DISTANCE_M`,
   100 m; the distance to a source mapped as an area is 0 inside it and to its edge outside),
   and that source's enterprise (the hazards layer's ``enterprise`` where given, else the
   source's ``name``, else its id);
2. the **community containing** the item (on a boundary: the first by id); an item outside
   every community takes the nearest one within ``max_distance_m``, else none.

Ids an item already carries (an import row that names its ``危险源编号``) are kept: the
linking only fills what is missing. Work runs in metres (a local UTM CRS).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.crs import to_metric
from gis.validate import index_by_id

from .errors import RegisterError

__all__ = ["LINK_COLUMNS", "LINK_DISTANCE_M", "link_items"]

#: Default distance (metres) within which an item belongs to a hazard source (a plant's yard
#: and the street in front of its gate), and to a community it lies just outside of.
LINK_DISTANCE_M = 100.0
#: Columns :func:`link_items` returns.
LINK_COLUMNS: tuple[str, ...] = ("hazard_id", "enterprise_id", "community_id", "hazard_distance_m")


def _nearest(
    points: npt.NDArray[np.object_], targets: gpd.GeoSeries, max_distance_m: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Position of the nearest target within the distance of each point (-1: none) and the distance."""
    pos = np.full(len(points), -1, dtype=np.int64)
    dist = np.full(len(points), np.nan)
    if not len(targets) or not len(points):
        return pos, dist
    tree = shapely.STRtree(targets.to_numpy())
    (pi, ti), d = tree.query_nearest(
        points, max_distance=max_distance_m, return_distance=True, all_matches=True
    )
    if len(pi):
        order = np.lexsort((ti, d, pi))  # per point: nearest first, then the lowest position
        pi, ti, d = pi[order], ti[order], d[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        pos[pi[first]] = ti[first]
        dist[pi[first]] = d[first]
    return pos, dist


def link_items(
    items: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    hazards: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    max_distance_m: float = LINK_DISTANCE_M,
) -> pd.DataFrame:
    """The hazard source, enterprise and community of each item, from where it lies.

    Parameters
    ----------
    items
        Item points (any CRS), or a frame of them; where it has ``hazard_id``,
        ``enterprise_id`` or ``community_id`` columns, the values given are kept.
    hazards
        The hazards layer, indexed by id (points or areas); None: no source is linked.
    communities
        The communities layer, indexed by id; None: no community is linked.
    max_distance_m
        An item belongs to the nearest source within this distance (metres), and to the nearest
        community within it when no community contains it.

    Returns
    -------
    pandas.DataFrame
        On the items' index: :data:`LINK_COLUMNS` (ids as strings or None; the distance in
        metres to the linked source, NaN when none or given).

    Raises
    ------
    RegisterError
        A negative distance, or layers without a CRS.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> import geopandas as gpd
    >>> h = city["hazards"].iloc[:1]
    >>> at_gate = h.geometry.to_crs(32649).representative_point().translate(30, 0)
    >>> far = at_gate.translate(5000, 0)
    >>> pts = gpd.GeoSeries([*at_gate, *far], crs=32649)
    >>> links = link_items(pts, hazards=city["hazards"], communities=city["communities"])
    >>> links.iloc[0, :3].tolist(), float(links["hazard_distance_m"].iloc[0])
    (['H0001', 'Methanol plant 1', 'C140'], 30.0)
    >>> links["hazard_id"].iloc[1] is None
    True
    """
    if max_distance_m < 0 or not np.isfinite(max_distance_m):
        msg = f"`max_distance_m` is {max_distance_m}. Fix: give a distance in metres >= 0."
        raise RegisterError(msg)
    frame = items if isinstance(items, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=items)
    for name, layer in (("items", frame), ("hazards", hazards), ("communities", communities)):
        if layer is not None and layer.crs is None:
            msg = f"Layer `{name}` has no CRS. Fix: set it (e.g. `.set_crs(4326)` for longitude / latitude)."
            raise RegisterError(msg)
    out = pd.DataFrame(index=frame.index, columns=list(LINK_COLUMNS), dtype=object)
    out["hazard_distance_m"] = np.nan
    if not len(frame):
        return out
    pts = to_metric(frame[[frame.geometry.name]])
    xy = shapely.point_on_surface(pts.geometry.to_numpy())
    given = {
        col: frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if col in frame.columns
        else pd.Series(False, index=frame.index)
        for col in ("hazard_id", "enterprise_id", "community_id")
    }
    if hazards is not None and len(hazards):
        h = index_by_id(hazards).to_crs(pts.crs)
        pos, dist = _nearest(xy, h.geometry, float(max_distance_m))
        ids = h.index.astype(str).to_numpy()
        owners = pd.Series(ids, index=ids, dtype=object)
        for col in ("name", "enterprise"):  # the enterprise where given, else the source's name
            if col in h.columns:
                given_owner = h[col].notna().to_numpy() & (h[col].astype(str).str.strip() != "").to_numpy()
                owners[given_owner] = h[col].astype(str).to_numpy()[given_owner]
        hit = pos >= 0
        out.loc[hit, "hazard_id"] = ids[pos[hit]]
        out.loc[hit, "hazard_distance_m"] = np.round(dist[hit], 1)
        named = given["hazard_id"].to_numpy()
        if named.any():
            out.loc[named, "hazard_id"] = frame.loc[named, "hazard_id"].astype(str).to_numpy()
            out.loc[named, "hazard_distance_m"] = np.nan
        owner = owners.reindex(out["hazard_id"].astype(object).where(out["hazard_id"].notna(), "").to_numpy())
        out["enterprise_id"] = [None if pd.isna(o) else str(o) for o in owner.to_numpy()]
    if communities is not None and len(communities):
        c = index_by_id(communities).to_crs(pts.crs)
        ids = c.index.astype(str).to_numpy()
        pi, ci = shapely.STRtree(c.geometry.to_numpy()).query(xy, predicate="intersects")
        inside = np.full(len(xy), -1, dtype=np.int64)
        if len(pi):
            order = np.lexsort((ids[ci], pi))  # on a boundary: the first community by id
            pi, ci = pi[order], ci[order]
            first = np.r_[True, pi[1:] != pi[:-1]]
            inside[pi[first]] = ci[first]
        todo = inside < 0
        if todo.any():
            near, _ = _nearest(xy[todo], c.geometry, float(max_distance_m))
            inside[np.flatnonzero(todo)] = near
        hit = inside >= 0
        out.loc[hit, "community_id"] = ids[inside[hit]]
    for col in ("hazard_id", "enterprise_id", "community_id"):
        keep = given[col].to_numpy()
        if keep.any():
            out.loc[keep, col] = frame.loc[keep, col].astype(str).to_numpy()
    for col in ("hazard_id", "enterprise_id", "community_id"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
