"""Response-time standards and station-district caps, read from ``planning/data/response_standards.toml``.

A response *profile* (the ``standard`` argument of the planning functions) is a
:class:`ResponseStandard`: how long the first engine may take, ``turnout_s`` (dispatch order
to leaving the station) plus ``travel_s`` on the road, with the travel allowed to a district's
edge and the share of places that must be reached. The shipped profiles are ``cn-gb51080``
(GB 51080-2015: 1 min + 4 min, the default), ``nfpa-1710`` (80 s + 240 s, full first alarm
480 s) and ``cn-micro-135`` (the "1-3-5" rule for micro stations, marked *check*). Custom
profiles come from ``response_standards=`` overrides (a mapping or a TOML file) or a plain mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gis.errors import InputError
from gis.tables import TableOverrides, load_table

from .names import DEFAULT_STANDARD

__all__ = ["ResponseStandard", "district_caps_km2", "response_standard", "standard_names"]

_TABLE = "response_standards"
_TIMES = ("turnout_s", "travel_s", "district_travel_s", "full_alarm_travel_s")


@dataclass(frozen=True)
class ResponseStandard:
    """One response-time profile.

    Attributes
    ----------
    name
        Profile name, such as ``cn-gb51080``.
    turnout_s
        Dispatch order to leaving the station.
    travel_s
        Travel allowed for the first engine.
    district_travel_s
        Travel allowed to the farthest edge of a station district.
    required_share
        Share of places (or incidents) that must be covered.
    full_alarm_travel_s
        Travel allowed for the full first alarm, when the profile has one.
    title, source
        What the profile is and where its figures come from.
    check
        True when the figures were read from secondary sources.
    """

    name: str
    turnout_s: float
    travel_s: float
    district_travel_s: float
    required_share: float = 1.0
    full_alarm_travel_s: float | None = None
    title: str = ""
    source: str = ""
    check: bool = False

    @property
    def response_s(self) -> float:
        """Turnout plus first-engine travel: the response-time standard."""
        return self.turnout_s + self.travel_s

    @property
    def full_alarm_response_s(self) -> float | None:
        """Turnout plus full-alarm travel, when the profile has one."""
        if self.full_alarm_travel_s is None:
            return None
        return self.turnout_s + self.full_alarm_travel_s


def standard_names(response_standards: TableOverrides = None) -> list[str]:
    """Names of the available profiles (shipped ones plus those in ``response_standards``).

    Examples
    --------
    >>> standard_names()
    ['cn-gb51080', 'cn-micro-135', 'nfpa-1710']
    """
    return sorted(load_table(_TABLE, response_standards, package="planning")["profiles"])


def response_standard(
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    *,
    response_standards: TableOverrides = None,
) -> ResponseStandard:
    """Return a validated response-time profile.

    Parameters
    ----------
    standard
        The response profile: a name (``cn-gb51080``, ``nfpa-1710``, ``cn-micro-135`` or one
        defined in ``response_standards``), a mapping with at least ``turnout_s`` and
        ``travel_s`` (a custom profile), or a :class:`ResponseStandard` (returned unchanged).
    response_standards
        Overrides of ``planning/data/response_standards.toml`` (a mapping or a TOML path), for example
        ``{"profiles": {"cn-gb51080": {"turnout_s": 90}}}``.

    Raises
    ------
    InputError
        For an unknown profile, or a time that is missing, negative or not a number; the
        message names the profile and the key.

    Examples
    --------
    >>> gb = response_standard("cn-gb51080")
    >>> gb.turnout_s, gb.travel_s, gb.response_s
    (60.0, 240.0, 300.0)
    >>> response_standard({"turnout_s": 30, "travel_s": 200}).response_s
    230.0
    >>> response_standard({"turnout_s": -5, "travel_s": 200})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: Response profile `custom`: `turnout_s` is -5, but times ...
    """
    if isinstance(standard, ResponseStandard):
        return standard
    if isinstance(standard, Mapping):
        return _build(str(standard.get("name", "custom")), standard)
    profiles = load_table(_TABLE, response_standards, package="planning")["profiles"]
    if standard not in profiles:
        msg = (
            f"Unknown response profile `{standard}`. Fix: use one of {sorted(profiles)}, or define "
            f"`[profiles.{standard}]` with `turnout_s` and `travel_s` in a `response_standards` TOML."
        )
        raise InputError(msg)
    return _build(standard, profiles[standard])


def _number(name: str, key: str, value: Any, *, required: bool) -> float | None:
    if value is None:
        if required:
            msg = f"Response profile `{name}` has no `{key}`. Fix: add `{key}` (seconds) to the profile."
            raise InputError(msg)
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if not math.isfinite(out) or out < 0:
        msg = (
            f"Response profile `{name}`: `{key}` is {value!r}, but times must be finite and "
            f"not negative (seconds). Fix: set `{key}` to 0 or more."
        )
        raise InputError(msg)
    return out


def _build(name: str, spec: Mapping[str, Any]) -> ResponseStandard:
    times = {
        key: _number(name, key, spec.get(key), required=key in {"turnout_s", "travel_s"}) for key in _TIMES
    }
    share = float(spec.get("required_share", 1.0))
    if not 0.0 < share <= 1.0:
        msg = f"Response profile `{name}`: `required_share` is {share}. Fix: use a share in (0, 1]."
        raise InputError(msg)
    travel = times["travel_s"]
    assert travel is not None and times["turnout_s"] is not None
    district = times["district_travel_s"]
    return ResponseStandard(
        name=name,
        turnout_s=times["turnout_s"],
        travel_s=travel,
        district_travel_s=travel if district is None else district,
        required_share=share,
        full_alarm_travel_s=times["full_alarm_travel_s"],
        title=str(spec.get("title", "")),
        source=str(spec.get("source", "")),
        check=bool(spec.get("check", False)),
    )


def district_caps_km2(response_standards: TableOverrides = None) -> dict[str, float]:
    """Largest station district by grade, km2 (GB 51080-2015 4.1.4; 建标152-2017).

    Grades without a cap (``micro``) are absent. ``response_standards`` (overrides of
    ``response_standards.toml``) replaces entries, as ``{"district_caps_km2": {"grade2": 5.0}}``.

    Examples
    --------
    >>> caps = district_caps_km2()
    >>> caps["grade1"], caps["grade2"], caps["small"], caps["suburban"]
    (7.0, 4.0, 2.0, 15.0)
    """
    table = load_table(_TABLE, response_standards, package="planning")["district_caps_km2"]
    caps: dict[str, float] = {}
    for grade, value in table.items():
        if grade == "source":
            continue
        cap = _number("district_caps_km2", grade, value, required=True)
        assert cap is not None
        if cap == 0:
            msg = f"`district_caps_km2.{grade}` is 0. Fix: give a positive area in km2."
            raise InputError(msg)
        caps[grade] = cap
    return caps
