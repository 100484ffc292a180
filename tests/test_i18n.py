"""Chinese and English (issue 20): the glossary, the language setting, dates, division codes, CJK figures."""

from __future__ import annotations

import io
import logging
import warnings
from datetime import date

import pytest

from gis.errors import InputError
from gis.i18n import (
    LANGS,
    check_division_code,
    default_lang,
    format_date,
    format_month,
    load_glossary,
    parse_accept_language,
    resolve_lang,
)

#: The domain's own words the issue names, which the glossary must hold as they are.
DOMAIN = {
    "risk_point": "风险点",
    "hidden_danger": "隐患",
    "cancel_number": "销号",
    "listed_supervision": "挂牌督办",
    "fire_station_district": "消防站辖区",
    "response_time": "响应时间",
    "level_red": "重大风险",
    "level_orange": "较大风险",
    "level_yellow": "一般风险",
    "level_blue": "低风险",
    "relief_depot": "应急物资储备库",
    "four_colour_map": "安全风险四色分布图",
}


def test_every_entry_has_both_languages_and_the_same_placeholders() -> None:
    g = load_glossary()
    for kind, table in (("terms", g.terms), ("texts", g.texts)):
        assert table, kind
        for key, entry in table.items():
            assert set(entry) == set(LANGS), key
            assert all(entry[lang].strip() for lang in LANGS), key
    for key, zh in DOMAIN.items():
        assert g.term(key, "zh") == zh
    assert "GB 51080" in g.term("standard_gb51080", "en") and "NFPA 1710" in g.term("standard_nfpa1710", "en")
    assert g.text("share_covered", "zh", share="90%", minutes=5) == "90%的居民在5分钟内可达"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"terms": {"x": {"zh": "甲"}}}, "no text in en"),
        ({"texts": {"x": {"zh": "{a}人", "en": "{b} people"}}}, "placeholders"),
    ],
)
def test_a_bad_override_names_the_entry_and_the_fix(override: dict, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        load_glossary(override)
    assert "Fix:" in str(err.value)


def test_missing_keys_and_languages_are_clear_errors() -> None:
    g = load_glossary()
    with pytest.raises(InputError, match="no term `nowhere`"):
        g.term("nowhere", "zh")
    with pytest.raises(InputError, match="Language `fr`"):
        g.term("risk_point", "fr")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"needs \['minutes'\]"):
        g.text("minutes", "en")


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5,zh;q=0.4", "en"),
        ("de", None),
        ("zh;q=0, en;q=0.1", "en"),
        ("*", None),
        ("", None),
        (None, None),
        ("zh;q=abc, en", "en"),
    ],
)
def test_accept_language(header: str | None, lang: str | None) -> None:
    assert parse_accept_language(header) == lang


def test_the_language_follows_the_choice_then_the_browser_then_the_place() -> None:
    taiyuan, manhattan = (112.4, 37.7, 112.7, 38.0), (-74.02, 40.70, -73.93, 40.88)
    assert default_lang(taiyuan) == "zh" and default_lang(manhattan) == "en" and default_lang(None) == "en"
    assert resolve_lang(bounds_wgs84=taiyuan) == "zh"
    assert resolve_lang(accept_language="en-US", bounds_wgs84=taiyuan) == "en"
    assert resolve_lang("ZH", accept_language="en-US", bounds_wgs84=manhattan) == "zh"
    with pytest.raises(InputError, match="use one of zh, en"):
        resolve_lang("fr")


def test_dates_and_division_codes_follow_chinese_conventions() -> None:
    assert format_month(2026, 12, "zh") == "2026年12月" and format_month(2026, 1, "en") == "January 2026"
    assert format_date(date(2026, 3, 9), "zh") == "2026年3月9日"
    assert check_division_code("140105005001") == "140105005001"
    assert check_division_code(140105005001.0) == "140105005001"  # read from a spreadsheet
    with pytest.raises(InputError, match="not 12 digits"):
        check_division_code("14010500500A", where="communities row 2")
    with pytest.raises(InputError, match="`99`, not a province"):
        check_division_code("990105005001")


def test_a_chinese_figure_draws_every_glyph_when_a_cjk_font_is_installed() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from maps.fonts import cjk_font, figure_font

    if cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk, which .ci/run installs)")
    lang, rc = figure_font("zh")
    assert lang == "zh"
    g = load_glossary()
    with warnings.catch_warnings(record=True) as caught, plt.rc_context(rc):
        warnings.simplefilter("always")
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_title(g.term("four_colour_map", "zh"))
        ax.bar([g.term(f"level_{c}", "zh") for c in ("blue", "yellow", "orange", "red")], [4, 3, -2, 1])
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


def test_without_a_cjk_font_a_figure_falls_back_to_english_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import maps.fonts

    monkeypatch.setattr(maps.fonts, "cjk_font", lambda: None)
    with caplog.at_level(logging.WARNING, logger="maps.fonts"):
        assert maps.fonts.figure_font("zh") == ("en", {})
    assert "fonts-noto-cjk" in caplog.text
