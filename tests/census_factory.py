"""The small hand-made city of ``scenario_factory`` with the census shares that risk scoring needs."""

from __future__ import annotations

import geopandas as gpd
from scenario_factory import small_layers

CENSUS = {
    "share_aged_65plus": 0.2,
    "share_built_pre2000": 0.3,
    "share_highrise_no_elevator": 0.1,
    "share_gas_supply": 0.6,
}


def census_layers() -> dict[str, gpd.GeoDataFrame]:
    """:func:`scenario_factory.small_layers` whose communities carry every census share."""
    layers = small_layers()
    for column, value in CENSUS.items():
        layers["communities"][column] = value
    return layers
