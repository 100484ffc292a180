"""How the road graph's columns are held: OSM ids with a missing marker, text as categoricals (private).

The array columns of :class:`gis.network.RoadGraph` keep OSM ids as int64 with
:data:`MISSING_ID` for an unknown one, and text (``highway``, ``name``) dictionary-encoded as
:class:`pandas.Categorical`; these helpers encode and decode them for the builders, the
GeoPackage store and the networkx conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["EDGE_FIELDS", "MISSING_ID", "categorical", "decode", "none_where"]

BoolArray = npt.NDArray[np.bool_]

#: ``osm_way_id`` / ``osm_node_id`` of an edge or node whose OSM id is unknown.
MISSING_ID = int(np.iinfo(np.int64).min)

#: Edge attributes held as arrays of their own (the others of a converted graph go to ``edge_attrs``).
EDGE_FIELDS = ("osmid", "highway", "name", "oneway", "length_m", "speed_kph", "travel_time_s")


def categorical(values: Any) -> pd.Categorical:
    """Dictionary-encode text values (None or NaN = missing) as a :class:`pandas.Categorical`.

    Examples
    --------
    >>> categorical(["primary", None, "primary"]).codes.tolist()
    [0, -1, 0]
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    return pd.Categorical.from_codes(codes, categories=pd.Index(np.asarray(uniques, dtype=object)))


def none_where(mask: BoolArray, values: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """``values`` as an object array with None where ``mask`` is True.

    Examples
    --------
    >>> none_where(np.array([True, False]), np.array([1, 2])).tolist()
    [None, 2]
    """
    out: npt.NDArray[np.object_] = values.astype(object)
    out[mask] = None
    return out


def decode(values: pd.Categorical) -> npt.NDArray[np.object_]:
    """The values of a categorical as an object array, None where missing.

    Examples
    --------
    >>> decode(categorical(["a", None])).tolist()
    ['a', None]
    """
    table = np.empty(len(values.categories) + 1, dtype=object)
    table[:-1] = np.asarray(values.categories, dtype=object)
    table[-1] = None
    out: npt.NDArray[np.object_] = table[np.asarray(values.codes, dtype=np.int64)]
    return out
