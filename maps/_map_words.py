"""The interactive map's own words: layer names in the layer control and the page script's words."""

from __future__ import annotations

from gis.i18n import Lang

from .words import speaking, tr

__all__ = ["LAYER_NAMES", "layer_keys", "layer_names", "runtime_words"]


def layer_keys() -> dict[str, str]:
    """Layer id -> its name in the layer control, in the output's language."""
    return {
        "context": tr("map_layer_context"),
        "units": tr("map_layer_units"),
        "uncertain": tr("map_layer_uncertain"),
        "change": tr("map_layer_change"),
        "isochrones": tr("map_layer_isochrones"),
        "districts": tr("map_layer_districts"),
        "uncovered": tr("map_layer_uncovered"),
        "communities": tr("map_layer_communities"),
        "community_safety": tr("map_layer_community_safety"),
        "upgrades": tr("map_layer_upgrades"),
        "demonstration": tr("map_layer_demonstration"),
        "depot_links": tr("map_layer_depot_links"),
        "hazard_areas": tr("map_layer_hazard_areas"),
        "hazards": tr("map_layer_hazards"),
        "risk_areas": tr("map_layer_risk_areas"),
        "risk_points": tr("map_layer_risk_points"),
        "register": tr("map_layer_register"),
        "register_closed": tr("map_layer_register_closed"),
        "stations": tr("map_layer_stations"),
        "station_workload": tr("map_layer_station_workload"),
        "proposed": tr("map_layer_proposed"),
        "depots": tr("map_layer_depots"),
        "flood": tr("map_layer_flood"),
        "flood_roads": tr("map_layer_flood_roads"),
    }


def layer_names(lang: Lang = "en") -> dict[str, str]:
    """Layer id -> its name in the layer control in ``lang``.

    Examples
    --------
    >>> layer_names("zh")["districts"]
    '消防站辖区'
    """
    with speaking(lang):
        return layer_keys()


#: Layer id -> name in the layer control, in English (:func:`layer_names` for a language).
LAYER_NAMES: dict[str, str] = layer_names("en")


def runtime_words() -> dict[str, str]:
    """The words the map's script writes itself (tooltip values, the full-screen button)."""
    return {
        "notReached": tr("map_js_not_reached"),
        "yes": tr("map_js_yes"),
        "no": tr("map_js_no"),
        "median": tr("map_js_median"),
        "sec": tr("map_js_sec"),
        "min": tr("map_js_min"),
        "fullScreen": tr("map_js_full_screen"),
        "exitFullScreen": tr("map_js_exit_full_screen"),
        "locale": tr("map_js_locale"),
    }
