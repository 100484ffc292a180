"""The words of the risk scores (a unit's reasons, the hazard categories) in the output's language.

The language is the one set by :func:`gis.speech.speaking` around the computation (English outside
it, today's words byte for byte); every text comes from the glossary through :func:`gis.speech.say`
with a literal key, so a test can collect every key used and check it exists in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from gis.i18n import Lang
from gis.speech import current_lang, say, speaking

__all__ = ["category_word", "listing"]


def category_word(category: str) -> str:
    """A hazard category's name: its code in English (``fuel_gas``), the domain's term in Chinese.

    A category of a deployment's own keeps its code.

    Examples
    --------
    >>> category_word("mining")
    'mining'
    >>> with speaking("zh"):
    ...     category_word("mining"), category_word("flood"), category_word("my_own")
    ('矿山', '洪涝', 'my_own')
    """
    lang = current_lang()
    if lang == "en":
        return category
    return _category_words(lang).get(category, category)


def listing(items: Iterable[str]) -> str:
    """Items joined as the language lists them (``a, b`` / ``a、b``).

    Examples
    --------
    >>> with speaking("zh"):
    ...     listing(["H1", "H2"])
    'H1、H2'
    """
    return say("words_list_sep").join(items)


@lru_cache(maxsize=4)
def _category_words(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "hazardous_chemicals": say("category_hazardous_chemicals"),
            "mining": say("category_mining"),
            "metallurgy": say("category_metallurgy"),
            "dust_explosion": say("category_dust_explosion"),
            "fuel_gas": say("map_cat_fuel_gas"),
            "fireworks_explosives": say("map_cat_fireworks_explosives"),
            "warehouse_logistics": say("map_cat_warehouse_logistics"),
            "construction": say("category_construction"),
            "other": say("category_other"),
            "flood": say("flood"),
            "geological": say("geological_hazard"),
            "wildfire": say("risk_cat_wildfire"),
        }
