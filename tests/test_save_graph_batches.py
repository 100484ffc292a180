"""`save_graph` writes the edges batch by batch (bounded memory at province size): the same file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from gis.network import _gpkg, graph_from_osm, load_graph, save_graph

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_city.osm.xml"


def test_edges_written_in_batches_equal_one_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    G = graph_from_osm(FIXTURE)
    # a column whose kind only the last batch decides (ints, then a float): float over all edges
    extra = np.array([None] * G.n_edges, dtype=object)
    extra[:3] = [1, 2, 3]
    extra[-1] = 0.5
    G = dataclasses.replace(G, edge_attrs={"extra_m": extra})
    one = save_graph(G, tmp_path / "one.gpkg")
    monkeypatch.setattr(_gpkg, "SAVE_BATCH_EDGES", 4)  # 19 edges: 5 batches
    many = save_graph(G, tmp_path / "many.gpkg")
    a = pyogrio.read_dataframe(one, layer="edges")
    b = pyogrio.read_dataframe(many, layer="edges")
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    assert pyogrio.read_info(one, layer="edges")["fields"].tolist() == (
        pyogrio.read_info(many, layer="edges")["fields"].tolist()
    )
    H1, H2 = load_graph(one), load_graph(many)
    assert H1.n_edges == H2.n_edges == G.n_edges
    assert np.array_equal(H1.geometry_xy, H2.geometry_xy)
    for name in ("length_m", "travel_time_s", "highway", "osmid", "extra_m"):
        assert pd.Series(H1.edge_attribute(name)).equals(pd.Series(H2.edge_attribute(name)))
