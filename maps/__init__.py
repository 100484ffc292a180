"""Interactive and static maps and reports of riskplan results.

- :func:`risk_map` / :func:`write_map`: one offline HTML map (folium / Leaflet, assets inlined)
  with risk units, hazards, communities, stations with isochrones and districts, the proposed
  stations of a :class:`planning.StationPlan`, the depots of a :class:`planning.DepotPlan` and
  the places not reached in time.
- :mod:`maps.figures`: matplotlib PNG figures for print.
- :func:`write_report`: one self-contained HTML report with figures, tables and the map.
- :func:`write_qgis_styles`: the QGIS styles of the maps embedded in riskplan's GeoPackages
  (``layer_styles``), so that QGIS opens each layer drawn as on the map.
- The community safety survey (``community_safety=`` a :class:`CommunitySafetyLike`, such as
  :class:`service.communities.CommunityAssessment`): scores by grade with the failed items by
  section, planned upgrades and demonstration communities on the map, a report section, and a
  print map (:func:`community_safety_figure`).
- The hazard register (``register=`` a :class:`risk_models.register.RegisterMonth`): the
  four-colour safety risk points and the items by state on the map, a register section in the
  report, and its figures (:mod:`maps.register_figures`).
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "figures": (
        "district_levels_figure",
        "figure_png",
        "four_colour_figure",
        "response_time_figure",
        "risk_figure",
        "save_figure",
        "tradeoff_figure",
    ),
    "community_figures": ("community_safety_figure", "failed_sections_figure"),
    "interactive": (
        "COMMUNITY_LAYERS",
        "LAYER_NAMES",
        "REGISTER_LAYERS",
        "layer_names",
        "ranking_figure",
        "read_map_layers",
        "register_trend_figure",
        "risk_map",
        "write_map",
    ),
    "_communities": ("CommunitySafetyLike",),
    "_plans": (
        "DepotPlanLike",
        "StationPlanLike",
    ),
    "register_figures": (
        "four_colour_figure",
        "ranking_figure",
        "register_trend_figure",
    ),
    "qgis_styles": ("write_qgis_styles",),
    "tiles": (
        "MAX_ZOOM",
        "MVT_MEDIA_TYPE",
        "RISK_TILE_COLUMNS",
        "TileSource",
        "check_tile",
        "postgis_tile_sql",
        "tile_bounds",
    ),
    "road_tiles": ("RoadTileSource",),
    "tile_archive": ("default_max_zoom", "write_pmtiles"),
    "report": (
        "report_html",
        "write_report",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ._communities import CommunitySafetyLike
    from ._plans import DepotPlanLike, StationPlanLike
    from .community_figures import community_safety_figure, failed_sections_figure
    from .figures import (
        district_levels_figure,
        figure_png,
        response_time_figure,
        risk_figure,
        save_figure,
        tradeoff_figure,
    )
    from .interactive import (
        COMMUNITY_LAYERS,
        LAYER_NAMES,
        REGISTER_LAYERS,
        layer_names,
        read_map_layers,
        risk_map,
        write_map,
    )
    from .qgis_styles import write_qgis_styles
    from .register_figures import four_colour_figure, ranking_figure, register_trend_figure
    from .report import report_html, write_report
    from .road_tiles import RoadTileSource
    from .tile_archive import default_max_zoom, write_pmtiles
    from .tiles import (
        MAX_ZOOM,
        MVT_MEDIA_TYPE,
        RISK_TILE_COLUMNS,
        TileSource,
        check_tile,
        postgis_tile_sql,
        tile_bounds,
    )

__all__ = [
    "COMMUNITY_LAYERS",
    "LAYER_NAMES",
    "MAX_ZOOM",
    "MVT_MEDIA_TYPE",
    "REGISTER_LAYERS",
    "RISK_TILE_COLUMNS",
    "CommunitySafetyLike",
    "DepotPlanLike",
    "RoadTileSource",
    "StationPlanLike",
    "TileSource",
    "check_tile",
    "community_safety_figure",
    "default_max_zoom",
    "district_levels_figure",
    "failed_sections_figure",
    "figure_png",
    "four_colour_figure",
    "layer_names",
    "postgis_tile_sql",
    "ranking_figure",
    "read_map_layers",
    "register_trend_figure",
    "report_html",
    "response_time_figure",
    "risk_figure",
    "risk_map",
    "save_figure",
    "tile_bounds",
    "tradeoff_figure",
    "write_map",
    "write_pmtiles",
    "write_qgis_styles",
    "write_report",
]
