"""How sure is this red: the uncertainty ranges, the array re-scoring, Sobol indices and the analysis."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

import gis
from gis.demo import synthetic_survey
from gis.errors import InputError
from risk_models import assign_levels, load_weights, score_scenario
from risk_models.community_safety import score_communities
from risk_models.sensitivity import (
    Parameter,
    Rescorer,
    analyse_sensitivity,
    apply_parameters,
    uncertain_parameters,
)
from risk_models.sensitivity._saltelli import sobol_indices

SALib = pytest.importorskip("SALib", reason="SALib is not installed (the `sensitivity` extra)")


@pytest.fixture(scope="module")
def city() -> dict[str, Any]:
    return gis.demo_city(n_road_nodes=2000)


@pytest.fixture(scope="module")
def times(city: dict[str, Any]) -> pd.Series:
    """Response times per community: a spread of reached ones and two unreached."""
    ids = city["communities"]["id"].astype(str)
    t = np.random.default_rng(3).uniform(60.0, 900.0, len(ids))
    t[:2] = np.inf
    return pd.Series(t, index=ids.to_numpy())


@pytest.fixture(scope="module")
def safety(city: dict[str, Any]) -> pd.Series:
    survey = synthetic_survey(city["communities"], seed=7)
    return score_communities(survey, communities=city["communities"]).safety_score()


@pytest.fixture(scope="module")
def full(city: dict[str, Any], times: pd.Series, safety: pd.Series):
    """A result with every term: hazards, response times and a survey."""
    return score_scenario(city, learn=False, response_time_s=times, community_safety=safety)


def _params(result) -> list[Parameter]:
    cats = list(result.inputs.hazards["category"].unique())
    return uncertain_parameters(
        result.risk_weights,
        categories=cats,
        survey=result.inputs.safety_score is not None,
        response="response_time_s" in result.units,
    )[0]


# -- the ranges ------------------------------------------------------------------------------------


def test_every_range_of_the_shipped_table_expands_and_applies(full) -> None:
    params = _params(full)
    names = {p.name for p in params}
    assert "categories.mining.bandwidth_m" in names and "capacity.reference_s" in names
    assert "vulnerability.community_safety.weight" in names and "levels.breaks.2" in names
    for p in params:
        assert p.low < p.high and p.source
    mining = next(p for p in params if p.name == "categories.mining.weight")
    assert (mining.low, mining.high, mining.value) == (0.5, 1.5, 1.0)


def test_figures_that_cannot_change_a_score_are_held(city: dict[str, Any]) -> None:
    plain = score_scenario(city, learn=False)  # no response times, no survey
    params, notes = uncertain_parameters(plain.risk_weights, categories=["mining"])
    names = {p.name for p in params}
    assert not any(n.startswith("capacity.") for n in names)
    assert "vulnerability.community_safety.weight" not in names
    assert "categories.fuel_gas.weight" not in names
    assert any("capacity.reference_s" in n for n in notes)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"categories.nowhere.weight": {"kind": "relative", "range": [0.5, 1.5]}}, "not a number"),
        ({"kernel.name": {"kind": "absolute", "range": [1.0, 2.0]}}, "not a number"),
        ({"capacity.reference_s": {"range": [400.0, 300.0]}}, "two increasing numbers"),
        ({"capacity.reference_s": {"kind": "relative", "range": [0.0, 1.0]}}, "above 0"),
        ({"capacity.reference_s": {"kind": "percent"}}, "kind 'percent'"),
        ({"vulnerability.factor_min": {"range": [0.4, 1.8]}}, "overlap"),
        ({"levels.breaks.1": {"range": [50.0, 90.0]}}, "overlap"),
    ],
)
def test_bad_ranges_name_the_entry_and_the_fix(entry: dict, message: str) -> None:
    w = load_weights({"uncertainty": entry})
    with pytest.raises(InputError, match=message) as err:
        uncertain_parameters(w, categories=["mining"], survey=True, response=True)
    assert "[uncertainty]" in str(err.value) and "Fix:" in str(err.value)


def test_apply_parameters_copies_and_sets_the_figures() -> None:
    w = load_weights()
    params = [Parameter("categories.mining.weight", 0.5, 1.5, 1.0), Parameter("levels.breaks.0", 55, 65, 60)]
    out = apply_parameters(w, params, [1.2, 58.0])
    assert out["categories"]["mining"]["weight"] == 1.2 and out["levels"]["breaks"][0] == 58.0
    assert w["categories"]["mining"]["weight"] == 1.0 and w["levels"]["breaks"][0] == 60.0


# -- the array re-scoring --------------------------------------------------------------------------


@pytest.mark.parametrize("units", ["communities", "grid:1000"])
def test_rescorer_at_the_tables_values_gives_the_results_scores(city, times, safety, units: str) -> None:
    if units == "communities":
        res = score_scenario(city, learn=False, response_time_s=times, community_safety=safety)
    else:
        res = score_scenario(city, learn=False, units=units)
    params = _params(res)
    r = Rescorer(res, params)
    x = np.array([[p.value for p in params]])
    scores = r.scores(x)
    np.testing.assert_allclose(scores[0], res.units["score"].to_numpy(float), rtol=1e-12, atol=1e-300)
    codes = pd.Categorical(res.units["level"], categories=["blue", "yellow", "orange", "red"]).codes
    assert (r.levels(x, scores)[0] == codes).all()
    assert (r.ranks(scores)[0] == res.units["rank"].to_numpy()).all()
    np.testing.assert_allclose(r.percentiles(scores)[0], res.units["percentile"].to_numpy(float))


def test_rescorer_equals_score_scenario_under_other_figures(city, times, safety, full) -> None:
    """Every figure but the bandwidths moved at random: the arrays give score_scenario's answer."""
    params = [p for p in _params(full) if not p.name.endswith("bandwidth_m")]
    r = Rescorer(full, params)
    rng = np.random.default_rng(11)
    for _ in range(2):
        values = [rng.uniform(p.low, p.high) for p in params]
        slow = score_scenario(
            city,
            learn=False,
            response_time_s=times,
            community_safety=safety,
            risk_weights=apply_parameters(full.risk_weights, params, values),
        ).units
        x = np.array([values])
        scores = r.scores(x)[0]
        np.testing.assert_allclose(scores, slow["score"].to_numpy(float), rtol=1e-12, atol=1e-300)
        codes = pd.Categorical(slow["level"], categories=["blue", "yellow", "orange", "red"]).codes
        assert (r.levels(x, scores[None, :])[0] == codes).all()


@pytest.mark.parametrize("units", ["communities", "grid:1000"])
def test_bandwidths_are_rescored_exactly(city: dict[str, Any], units: str) -> None:
    """Mining's and fuel gas's bandwidths anywhere in their ranges: score_scenario's hazard.

    The smallest bandwidth of the table (which spaces the sample lattice) stays put, so both
    sides use the same lattice.
    """
    res = score_scenario(city, learn=False, units=units)
    names = ("categories.mining.bandwidth_m", "categories.fuel_gas.bandwidth_m")
    params = [p for p in _params(res) if p.name in names]
    r = Rescorer(res, params)
    rng = np.random.default_rng(2)
    for _ in range(2):
        values = [rng.uniform(p.low, p.high) for p in params]
        exact = score_scenario(city, learn=False, units=units,
                               risk_weights=apply_parameters(res.risk_weights, params, values))  # fmt: skip
        want = exact.units["hazard"].to_numpy(float)
        got = r._hazard(np.array([values]))[0]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * want.max())
        np.testing.assert_allclose(r.scores(np.array([values]))[0], exact.units["score"], rtol=1e-9,
                                   atol=1e-12 * exact.units["score"].max())  # fmt: skip


def test_level_breaks_follow_assign_levels(full) -> None:
    params = [p for p in _params(full) if p.name.startswith("levels.")]
    r = Rescorer(full, params)
    x = np.array([[57.0, 88.0, 94.0]])
    scores = r.scores(x)
    w = apply_parameters(full.risk_weights, params, x[0])
    want = assign_levels(full.units["score"], risk_weights=w)["level"]
    codes = pd.Categorical(want, categories=["blue", "yellow", "orange", "red"]).codes
    assert (r.levels(x, scores)[0] == codes).all()


# -- Sobol indices -----------------------------------------------------------------------------------


def _ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7.0 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_equal_salib_and_the_analytic_ishigami_values() -> None:
    from SALib.analyze import sobol as sa
    from SALib.sample import sobol as ss

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    x = ss.sample(problem, 2**13, calc_second_order=False, seed=4)
    y = _ishigami(x)
    s1, st = sobol_indices(np.c_[y, 2.0 * y + 1.0], 3)
    ref = sa.analyze(problem, y, calc_second_order=False, seed=4)
    for col in range(2):  # an affine change of the output changes no index
        np.testing.assert_allclose(s1[:, col], ref["S1"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(st[:, col], ref["ST"], rtol=1e-10, atol=1e-12)
    # the analytic values (a = 7, b = 0.1): S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244
    np.testing.assert_allclose(s1[:, 0], [0.3139, 0.4424, 0.0], atol=0.03)
    np.testing.assert_allclose(st[:, 0], [0.5576, 0.4424, 0.2437], atol=0.03)


def test_sobol_indices_of_a_constant_output_are_zero() -> None:
    s1, st = sobol_indices(np.ones((5 * 8, 2)), 3)
    assert not s1.any() and not st.any()
    with pytest.raises(ValueError, match="Saltelli"):
        sobol_indices(np.ones(7), 3)


# -- the analysis ------------------------------------------------------------------------------------


def test_level_probabilities_sum_to_one_and_bands_hold_the_map(full) -> None:
    sens = analyse_sensitivity(full, n_samples=1500, seed=2)
    u = sens.units
    p = u[["p_blue", "p_yellow", "p_orange", "p_red"]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert ((p >= 0) & (p <= 1)).all()
    assert (u["score_p05"] <= u["score_p50"]).all() and (u["score_p50"] <= u["score_p95"]).all()
    assert (u["rank_p05"] <= u["rank_p95"]).all()
    assert (u["uncertain"] == (u["level_probability"] < 0.7)).all()
    assert list(u.index) == list(full.units.index) and u.crs == full.units.crs
    table = sens.parameters
    assert table["sobol"].any() and table.loc[table["sobol"], "ST"].notna().all()
    assert table.loc[~table["sobol"], "ST"].isna().all()
    assert sens.summary()[0].startswith(f"{len(u)} units")


def test_same_seed_same_answer(full) -> None:
    a = analyse_sensitivity(full, n_samples=600, seed=5)
    b = analyse_sensitivity(full, n_samples=600, seed=5)
    pd.testing.assert_frame_equal(a.units.drop(columns="geometry"), b.units.drop(columns="geometry"))
    pd.testing.assert_frame_equal(a.parameters, b.parameters)


def test_without_uncertain_figures_the_map_is_certain(full) -> None:
    w = dict(full.risk_weights)
    w["uncertainty"] = {}
    sens = analyse_sensitivity(dataclasses.replace(full, risk_weights=w), n_samples=600)
    assert sens.n_evaluations == 0 and not sens.units["uncertain"].any()
    assert (sens.units["level_likely"] == sens.units["level"]).all()
    assert (sens.units["level_probability"] == 1.0).all()
    assert any("as certain as its inputs" in n for n in sens.notes)


def test_the_result_is_written_as_layers(full, tmp_path) -> None:
    import pyogrio

    sens = analyse_sensitivity(full, n_samples=600, seed=1)
    out = sens.write(tmp_path / "u.gpkg")
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"risk_uncertainty", "sensitivity_parameters", "sensitivity_notes"} <= layers
    back = pyogrio.read_dataframe(out, layer="risk_uncertainty")
    assert set(back["level"]) <= {"blue", "yellow", "orange", "red"}


def test_mapclassify_levels_are_refused_with_the_fix(full) -> None:
    w = dict(full.risk_weights)
    w["levels"] = {**w["levels"], "method": "NaturalBreaks"}
    with pytest.raises(InputError, match="percentile"):
        analyse_sensitivity(dataclasses.replace(full, risk_weights=w), n_samples=600)


def test_cli_risk_writes_the_uncertainty_beside_the_map(tmp_path, capsys) -> None:
    import pyogrio

    from gis import write_demo_scenario
    from service.cli import main

    gpkg = write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)
    out = tmp_path / "r.gpkg"
    args = ["risk", str(gpkg), "--out", str(out), "--no-learn", "--standard", "none"]
    assert main([*args, "--uncertainty", "300", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "risk_uncertainty" in text and "Figures that move the map most" in text
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"risk_units", "risk_uncertainty", "sensitivity_parameters", "sensitivity_notes"} <= layers
    styles = pyogrio.read_dataframe(out, layer="layer_styles")
    assert {"risk_units", "risk_uncertainty"} <= set(styles["f_table_name"])  # QGIS opens them in colour
    bad = tmp_path / "bad.toml"
    bad.write_text('[uncertainty."capacity.reference_s"]\nkind = "absolute"\nrange = [400.0, 300.0]\n')
    again = tmp_path / "again.gpkg"
    assert main([*args[:3], str(again), *args[4:], "--uncertainty", "300", "--risk-weights", str(bad)]) == 2
    assert "capacity.reference_s" in capsys.readouterr().err and not again.exists()
