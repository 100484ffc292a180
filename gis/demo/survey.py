"""A synthetic community safety survey of the demo city (labelled synthetic, seeded).

:func:`synthetic_survey` draws one survey row per community (and, with ``resurvey_share``, a
second survey months later for some of them) from the made-up distributions of
``gis/data/demo_survey.toml``: old towns fail gas, elevator and wiring items more, new
high-rises fail e-bike charging. The columns are the item ids of the shipped scoring standard
(``risk_models/data/community_safety.toml``), read by
:func:`risk_models.community_safety.check_survey`; the ``data_source`` column says the rows are
synthetic, and so does every output made from them. The demo city itself is not changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError
from ..tables import TableOverrides, load_table
from ..validate import index_by_id

__all__ = ["SYNTHETIC_SOURCE", "load_survey_params", "synthetic_survey", "write_synthetic_survey"]

#: The ``data_source`` of every synthetic survey row.
SYNTHETIC_SOURCE = "synthetic survey (riskplan demo city, not measured)"
_TYPES = ("old_town", "mixed", "new_highrise", "resettlement")
_DISTS = ("yes_no", "normal", "uniform", "poisson", "percent")
#: Items that are n/a in a community with little piped gas (share_gas_supply below 0.3).
_GAS_ITEMS = ("gas_pipe_age", "gas_alarm_valve")


def load_survey_params(demo_survey: TableOverrides = None) -> dict[str, Any]:
    """The synthetic survey's distributions (``gis/data/demo_survey.toml``) merged with overrides, checked.

    Examples
    --------
    >>> p = load_survey_params({"old_town": {"bottled_lpg": {"p_yes": 0.9}}})
    >>> p["old_town"]["bottled_lpg"]["p_yes"], p["types"]["old_town_min_pre2000"]
    (0.9, 0.6)
    """
    p = load_table("demo_survey", demo_survey)
    items = list(p["old_town"])
    for kind in _TYPES:
        if set(p.get(kind, {})) != set(items):
            msg = (
                f"demo_survey.toml: type `{kind}` has items {sorted(p.get(kind, {}))}, not {sorted(items)}. "
                "Fix: give every type the same items."
            )
            raise InputError(msg)
        for item, d in p[kind].items():
            if d.get("dist") not in _DISTS:
                msg = (
                    f"demo_survey.toml: `{kind}.{item}.dist` is {d.get('dist')!r}. "
                    f"Fix: use one of {list(_DISTS)}."
                )
                raise InputError(msg)
    return p


def _types(
    communities: gpd.GeoDataFrame, p: Mapping[str, Any], rng: np.random.Generator
) -> npt.NDArray[np.object_]:
    t = p["types"]
    pre = (
        communities.get("share_built_pre2000", pd.Series(0.4, index=communities.index))
        .astype(float)
        .to_numpy()
    )
    district = communities.get("district", pd.Series("", index=communities.index)).astype(str).to_numpy()
    out = np.full(len(communities), "mixed", dtype=object)
    out[pre >= float(t["old_town_min_pre2000"])] = "old_town"
    new = pre <= float(t["new_max_pre2000"])
    out[new] = "new_highrise"
    resettle = (
        (out != "old_town")
        & np.isin(district, list(t["resettlement_districts"]))
        & (rng.random(len(out)) < float(t["resettlement_share"]))
    )
    out[resettle] = "resettlement"
    return out


def _draw(d: Mapping[str, Any], n: int, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    """``n`` values of one item's distribution, as texts or numbers; n/a as "n/a"."""
    dist = d["dist"]
    if dist == "yes_no":
        values: npt.NDArray[Any] = np.where(rng.random(n) < float(d["p_yes"]), "yes", "no").astype(object)
    elif dist == "poisson":
        values = rng.poisson(float(d["mean"]), n).astype(float)
    elif dist == "percent":
        m, c = np.clip(float(d["mean"]) / 100.0, 0.01, 0.99), float(d["concentration"])
        values = np.round(100.0 * rng.beta(m * c, (1 - m) * c, n), 1)
    elif dist == "uniform":
        values = np.round(rng.uniform(float(d["low"]), float(d["high"]), n), int(d.get("digits", 1)))
    else:
        values = np.clip(rng.normal(float(d["mean"]), float(d["sd"]), n), float(d["low"]), float(d["high"]))
        values = np.round(values, int(d.get("digits", 1)))
    out = values.astype(object)
    na = rng.random(n) < float(d.get("p_na", 0.0))
    out[na] = "n/a"
    return out


def _resurvey(
    first: pd.DataFrame, items: list[str], p: Mapping[str, Any], rng: np.random.Generator, share: float
) -> pd.DataFrame:
    """A later survey of a share of the communities: some failures mended, a few new ones."""
    r = p["resurvey"]
    chosen = np.sort(rng.choice(len(first), size=round(share * len(first)), replace=False))
    again = first.iloc[chosen].copy()
    again["survey_date"] = (
        pd.to_datetime(again["survey_date"]) + pd.DateOffset(months=int(r["months_later"]))
    ).dt.strftime("%Y-%m-%d")
    fix, new = float(r["fix_probability"]), float(r["new_failure_probability"])
    for item in items:
        col = again[item].to_numpy(object)
        kinds = [p[t][item] for t in again["community_type"]]
        fresh = np.array([_draw(k, 1, rng)[0] for k in kinds], dtype=object)
        mend = rng.random(len(col)) < fix
        spoil = rng.random(len(col)) < new
        # a mended item takes a fresh draw of a better-kept estate (new high-rise), a spoiled one a
        # fresh draw of its own type; n/a stays n/a (an elevator is not built in six months)
        better = np.array([_draw(p["new_highrise"][item], 1, rng)[0] for _ in range(len(col))], dtype=object)
        keep_na = col == "n/a"
        col = np.where(mend & ~keep_na & (better != "n/a"), better, col)
        col = np.where(spoil & ~mend & ~keep_na & (fresh != "n/a"), fresh, col)
        again[item] = col
    return again


def synthetic_survey(
    communities: gpd.GeoDataFrame,
    *,
    seed: int = 42,
    survey_date: str = "2024-05-15",
    resurvey_share: float = 0.0,
    demo_survey: TableOverrides = None,
) -> pd.DataFrame:
    """A synthetic community safety survey of the communities (one row each, labelled synthetic).

    Parameters
    ----------
    communities
        The demo city's communities (indexed by id; ``share_built_pre2000``, ``district``,
        ``share_gas_supply`` and ``name`` are used where present).
    seed
        Random seed; the same seed, communities and parameters give the same survey.
    survey_date
        The date of the (first) survey.
    resurvey_share
        Share of the communities surveyed again ``[resurvey] months_later`` months later, with
        some failures mended and a few new ones (0: one survey only).
    demo_survey
        Overrides of ``gis/data/demo_survey.toml``.

    Returns
    -------
    pandas.DataFrame
        ``community_id``, ``survey_date``, ``community_name``, ``district``, ``community_type``,
        ``surveyor``, ``data_source`` (synthetic) and one column per item of the shipped standard
        (numbers, "yes" / "no", "n/a"); ``attrs["synthetic"]`` is True.

    Examples
    --------
    >>> survey = synthetic_survey(city["communities"], seed=1, resurvey_share=0.2)
    >>> len(survey), survey["data_source"].str.contains("synthetic").all()
    (180, np.True_)
    >>> lpg = survey.groupby("community_type")["bottled_lpg"].apply(lambda s: (s == "yes").mean())
    >>> bool(lpg["old_town"] > lpg["new_highrise"])
    True
    """
    if not 0.0 <= resurvey_share <= 1.0:
        msg = f"`resurvey_share` is {resurvey_share}. Fix: give a share in 0..1."
        raise InputError(msg)
    p = load_survey_params(demo_survey)
    comm = index_by_id(communities)
    rng = np.random.default_rng([int(seed), 16])
    kinds = _types(comm, p, rng)
    items = list(p["old_town"])
    out = pd.DataFrame(
        {
            "community_id": comm.index.astype(str),
            "survey_date": survey_date,
            "community_name": comm["name"].astype(str).to_numpy()
            if "name" in comm
            else comm.index.astype(str),
            "district": comm["district"].astype(str).to_numpy() if "district" in comm else None,
            "community_type": kinds,
            "surveyor": "synthetic",
            "data_source": SYNTHETIC_SOURCE,
        }
    )
    for item in items:
        col = np.empty(len(comm), dtype=object)
        for kind in _TYPES:
            sel = kinds == kind
            if sel.any():
                col[sel] = _draw(p[kind][item], int(sel.sum()), rng)
        out[item] = col
    if "share_gas_supply" in comm:
        no_gas = comm["share_gas_supply"].astype(float).to_numpy() < 0.3
        for item in _GAS_ITEMS:
            if item in out:
                out.loc[no_gas, item] = "n/a"
    if resurvey_share > 0:
        out = pd.concat([out, _resurvey(out, items, p, rng, resurvey_share)], ignore_index=True)
    out.attrs["synthetic"] = True
    return out


def write_synthetic_survey(path: str | Path, communities: gpd.GeoDataFrame, **kwargs: Any) -> Path:
    """Write :func:`synthetic_survey` as a UTF-8 CSV (atomically); keywords go to it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_synthetic_survey(pathlib.Path(tempfile.mkdtemp()) / "survey.csv", city["communities"])
    >>> out.read_text(encoding="utf-8-sig").splitlines()[0][:40]
    'community_id,survey_date,community_name,'
    """
    path = Path(path)
    frame = synthetic_survey(communities, **kwargs)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    return path
