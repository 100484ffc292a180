"""The words of the plans (notes, reasons, violation messages) in the output's language.

The language is the one set by :func:`gis.speech.speaking` around the planning (English outside it,
today's words byte for byte); every text comes from the glossary through :func:`gis.speech.say` with
a literal key, so a test can collect every key used in ``planning`` and check both languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gis.speech import current_lang, say, speaking

__all__ = [
    "depot_lines",
    "distance_word",
    "grade_word",
    "highway_word",
    "norm_source",
    "off_road_rule",
    "place_counts",
    "place_word",
    "quota_word",
    "second_beyond_rule",
    "tier_word",
    "unmet_lines",
    "weight_word",
]


def distance_word(distance: str) -> str:
    """A plan's distance (``network`` / ``euclidean``): its code in English, 路网 / 直线 in Chinese.

    Examples
    --------
    >>> from gis.speech import speaking
    >>> distance_word("network")
    'network'
    >>> with speaking("zh"):
    ...     distance_word("network")
    '路网'
    """
    if current_lang() == "en":
        return distance
    if distance == "network":
        return say("plan_distance_network")
    if distance == "euclidean":
        return say("plan_distance_euclidean")
    return distance


def off_road_rule() -> str:
    """:data:`planning.response.OFF_ROAD_RULE` in the output's language.

    Examples
    --------
    >>> from planning.response import OFF_ROAD_RULE
    >>> off_road_rule() == OFF_ROAD_RULE
    True
    """
    return say("plan_off_road_rule")


def second_beyond_rule() -> str:
    """:data:`planning.response.SECOND_BEYOND_RULE` in the output's language.

    Examples
    --------
    >>> from planning.response import SECOND_BEYOND_RULE
    >>> second_beyond_rule() == SECOND_BEYOND_RULE
    True
    """
    return say("plan_second_beyond_rule")


def place_counts(counts: Mapping[str, int]) -> str:
    """``3 communities, 1 hazards`` (``3个社区、1个危险源``): the non-zero counts by layer.

    A layer other than communities, hazards and area units keeps its name.

    Examples
    --------
    >>> place_counts({"communities": 3, "hazards": 1, "area_units": 0})
    '3 communities, 1 hazards'
    """
    words = []
    for layer, n in counts.items():
        if not n:
            continue
        if layer == "communities":
            words.append(say("plan_n_communities", count=n))
        elif layer == "hazards":
            words.append(say("plan_n_hazards", count=n))
        elif layer == "area_units":
            words.append(say("plan_n_area_units", count=n))
        else:
            words.append(say("plan_n_layer", count=n, layer=layer))
    return say("words_list_sep").join(words)


def tier_word(tier: str) -> str:
    """A depot tier (``city``): its code in English, the tier's name in Chinese (市级).

    A tier of a deployment's own keeps its code.

    Examples
    --------
    >>> tier_word("county")
    'county'
    """
    if current_lang() == "en":
        return tier
    names = {
        "province": say("depot_tier_province"),
        "city": say("depot_tier_city"),
        "county": say("depot_tier_county"),
        "township": say("depot_tier_township"),
    }
    return names.get(tier, tier)


def quota_word(column: str) -> str:
    """A demonstration quota's column (``district``): its name in English, 区 / 街道 / 社区类型 in Chinese.

    Examples
    --------
    >>> quota_word("street")
    'street'
    """
    if current_lang() == "en":
        return column
    names = {
        "district": say("plan_quota_district"),
        "street": say("plan_quota_street"),
        "community_type": say("plan_quota_community_type"),
    }
    return names.get(column, column)


# the shipped tables' sources a plan's notes cite (literal glossary keys: the words test collects them)
_SOURCES: dict[str, Callable[[], str]] = {
    "relocation": lambda: say("plan_source_relocation"),
    "relocation_flood": lambda: say("plan_source_relocation_flood"),
    "depot_tiers": lambda: say("plan_source_depot_tiers"),
    "depot_network": lambda: say("plan_source_depot_network"),
}


def norm_source(section: str, text: str) -> str:
    """The ``source`` of a ``planning_norms.toml`` table, cited in a plan's notes, in the output's language.

    The shipped table's source has its words in the glossary; a deployment's own source (an
    override) is cited as given.

    Examples
    --------
    >>> norm_source("relocation", "our bureau's 2025 rates")
    "our bureau's 2025 rates"
    """
    words = _SOURCES.get(section)
    if words is None:
        return text
    with speaking("en"):
        shipped = words()
    return words() if text == shipped else text


def highway_word(highway: str) -> str:
    """An OSM road class (``primary``): the code in English, the road's grade in Chinese (主干路).

    Examples
    --------
    >>> with speaking("zh"):
    ...     highway_word("primary"), highway_word("living_street")
    ('主干路', 'living_street')
    """
    if current_lang() == "en":
        return highway
    names = {
        "motorway": say("plan_highway_motorway"),
        "trunk": say("plan_highway_trunk"),
        "primary": say("plan_highway_primary"),
        "secondary": say("plan_highway_secondary"),
        "tertiary": say("plan_highway_tertiary"),
    }
    return names.get(highway.removesuffix("_link"), highway)


def grade_word(grade: object) -> str:
    """A fire station's grade (``grade1``): the code in English, its name in Chinese (一级普通消防站).

    Examples
    --------
    >>> with speaking("zh"):
    ...     grade_word("small"), grade_word("special")
    ('小型普通消防站', '特勤消防站')
    """
    if current_lang() == "en":
        return str(grade)
    names = {
        "grade1": say("plan_grade1_station"),
        "grade2": say("plan_grade2_station"),
        "small": say("plan_small_station"),
        "suburban": say("plan_suburban_station"),
        "special": say("special_duty_station"),
    }
    return names.get(str(grade), str(grade))


def place_word(layer: str) -> str:
    """A coverage layer's name (``communities``): the name in English, 社区 / 危险源 / 评估单元 in Chinese.

    Examples
    --------
    >>> with speaking("zh"):
    ...     place_word("hazards"), place_word("cells")
    ('危险源', 'cells')
    """
    if current_lang() == "en":
        return layer
    names = {
        "communities": say("plan_layer_communities"),
        "hazards": say("plan_layer_hazards"),
        "area_units": say("plan_layer_area_units"),
    }
    return names.get(layer, layer)


def unmet_lines(communities: Any) -> list[str]:
    """A depot plan's report lines of the unmet demand, by its reason (``capacity`` / ``time``).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"unmet_people": [5.0, 0.0], "unmet_reason": ["time", ""]})
    >>> unmet_lines(c)
    ['  unmet (time): 1 communities, 5 people']
    """
    lines = []
    unmet = communities[communities["unmet_people"] > 0]
    for reason, g in unmet.groupby("unmet_reason"):
        if reason == "capacity":
            why = say("plan_unmet_capacity")
        elif reason == "time":
            why = say("plan_unmet_time")
        else:
            why = str(reason)
        people = f"{g['unmet_people'].sum():,.0f}"
        lines.append(say("plan_unmet_line", reason=why, count=len(g), people=people))
    return lines


def depot_lines(table: Any) -> list[str]:
    """A depot plan's report line per depot (of :meth:`planning.depots.DepotPlan.table`)."""
    lines = []
    for d, row in table.iterrows():
        if row["people_assigned"] > 0 and np.isfinite(row["max_travel_h"]):
            hours, limit = f"{row['max_travel_h']:.2f}", f"{row['delivery_limit_h']:g}"
            delivery = say("plan_depot_delivery", hours=hours, limit=limit)
        else:
            delivery = say("plan_depot_serves_none")
        lines.append(
            say(
                "plan_depot_line", depot=d, name=row.get("name", ""), tier=tier_word(str(row["tier"])),
                assigned=f"{row['people_assigned']:,.0f}", capacity=f"{row['capacity_people']:,.0f}",
                delivery=delivery, short=row["shortfall"] or say("plan_depot_short_nothing"),
            )
        )  # fmt: skip
    return lines


def weight_word(weight: str) -> str:
    """What a coverage share weighs (``population``, ``count``, ``area_km2``), in the output's language.

    Examples
    --------
    >>> with speaking("zh"):
    ...     weight_word("population"), weight_word("area_km2")
    ('人口', '面积')
    """
    if weight == "population":
        return say("plan_cov_population")
    if current_lang() == "en":
        return weight
    if weight == "count":
        return say("plan_cov_count")
    if weight == "area_km2":
        return say("plan_cov_area")
    return weight
