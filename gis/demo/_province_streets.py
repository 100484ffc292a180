"""The countryside's road lines, joined and sized to a node budget (private).

:func:`countryside_streets` draws the country roads once (:mod:`gis.demo._province_roads`),
then the places' street lattices at the density that gives the wanted number of graph nodes:
it builds them, joins every crossing of a road with another line at a shared vertex
(:func:`gis.demo._noding.node_crossings`; expressways pass over all but national roads),
counts the nodes as the network builder will, and builds once more at a corrected density
when the count is off by more than ``roads.node_tolerance``. Lines cut off from the network
(there should be none) are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ._noding import node_crossings
from ._province_cities import CityResult
from ._province_places import CLASSES, Places, Streets, build_lattices, lattice_sizes
from ._province_roads import build_country_roads

__all__ = ["Countryside", "count_nodes", "countryside_streets"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MOTORWAY, _TRUNK = CLASSES.index("motorway"), CLASSES.index("trunk")
# Classes on which fire stations, depots and candidate sites of the countryside may stand.
_RESOURCE_CLASSES = tuple(
    CLASSES.index(c) for c in ("trunk", "primary", "secondary", "tertiary", "unclassified")
)
# Slope of node count over lattice budget, measured: crossings add about 8 % to the lattice.
_SLOPE = 1.08


@dataclass(frozen=True)
class Countryside:
    """The countryside's lines (local metres, joined) and what is placed from them."""

    streets: Streets
    mines: FloatArray
    mine_field: IntArray
    n_nodes: int
    resource_nodes: FloatArray  # vertices of country roads and main streets


def _keys(xy: FloatArray) -> IntArray:
    """One key per 1 cm-rounded position (local metres, within +-670 km of the origin)."""
    cm = np.rint(xy * 100.0).astype(np.int64) + (1 << 26)
    _, key = np.unique(cm[:, 0] * (1 << 27) + cm[:, 1], return_inverse=True)
    return key.ravel().astype(np.int64)


def count_nodes(streets: Streets, key: IntArray | None = None) -> int:
    """Graph nodes as the network builder makes them: line ends and shared vertices (1 cm)."""
    key = _keys(streets.xy) if key is None else key
    node = np.bincount(key) > 1
    node[key[streets.offsets[:-1]]] = True
    node[key[streets.offsets[1:] - 1]] = True
    return int(node.sum())


def _apart(code: npt.NDArray[np.int8]) -> Any:
    def apart(a: IntArray, b: IntArray) -> BoolArray:
        ma, mb = code[a] == _MOTORWAY, code[b] == _MOTORWAY
        other = np.where(ma, code[b], code[a])
        return (ma ^ mb) & (other != _TRUNK)

    return apart


def _join(
    roads: Streets, places: Places, budget: float, pp: Mapping[str, Any], seed: Sequence[int]
) -> Streets:
    """The roads and the lattices for ``budget`` nodes, joined; the same for the same budget."""
    rng = np.random.default_rng(list(seed))
    k = lattice_sizes(places, pp, budget, rng) if budget > 0 else np.ones(len(places), np.int64)
    lattices = build_lattices(places, k, pp, rng)
    streets = Streets.concat([roads, lattices])
    joined, n_junctions = node_crossings(streets, streets.place < 0, apart=_apart(streets.code))
    logger.debug("countryside: %d lines, %d junctions at crossings", joined.n_lines, n_junctions)
    return joined


def _main_component(streets: Streets, gates: FloatArray) -> BoolArray:
    """Lines of the connected part holding the city gates (all country lines are two-way)."""
    both = _keys(np.concatenate([streets.xy, gates]))
    key, gate_key = both[: len(streets.xy)], both[len(streets.xy) :]
    gate_key = gate_key[np.isin(gate_key, key)]
    line = np.repeat(np.arange(streets.n_lines), np.diff(streets.offsets))
    same = line[1:] == line[:-1]
    n = int(both.max()) + 1
    g = sparse.coo_matrix((np.ones(int(same.sum()), np.int8), (key[:-1][same], key[1:][same])), shape=(n, n))
    _, labels = csgraph.connected_components(g, directed=False)
    main = np.bincount(labels[gate_key]).argmax() if gate_key.size else np.bincount(labels).argmax()
    if gate_key.size and (labels[gate_key] != main).any():  # pragma: no cover - a broken table
        logger.warning("countryside: %d city gates are cut off", int((labels[gate_key] != main).sum()))
    return labels[key[streets.offsets[:-1]]] == main


def countryside_streets(
    places: Places,
    cities: list[CityResult],
    pp: Mapping[str, Any],
    *,
    mountains: shapely.Geometry,
    n_nodes: int,
    rng: np.random.Generator,
    lattice_seed: Sequence[int],
) -> Countryside:
    """The countryside's joined lines with about ``n_nodes`` graph nodes (gates not counted)."""
    country = build_country_roads(places, cities, pp, mountains=mountains, rng=rng)
    gates = np.concatenate([c.gates for c in cities])
    tol = float(pp["roads"]["node_tolerance"])
    # Nodes without any lattice: the roads' ends and crossings (about 7,000).
    base = count_nodes(country.streets) - len(gates)
    budget = max((n_nodes - base) / _SLOPE, 0.0)
    joined = _join(country.streets, places, budget, pp, lattice_seed)
    count = count_nodes(joined) - len(gates)
    if abs(count / max(n_nodes, 1) - 1.0) > tol and budget > 0:
        slope = max((count - base) / budget, 0.5)
        budget = max(budget + (n_nodes - count) / slope, 0.0)
        joined = _join(country.streets, places, budget, pp, lattice_seed)
        count = count_nodes(joined) - len(gates)
    keep = _main_component(joined, gates)
    if not keep.all():
        logger.info("countryside: dropping %d lines cut off from the network", int((~keep).sum()))
        joined = joined.select(keep)
        count = count_nodes(joined) - len(gates)
    logger.info("countryside: %d lines, %d graph nodes (target %d)", joined.n_lines, count, n_nodes)
    vertices = np.repeat(np.isin(joined.code, _RESOURCE_CLASSES), np.diff(joined.offsets))
    nodes = np.unique(joined.xy[vertices], axis=0)
    return Countryside(joined, country.mines, country.mine_field, count, nodes)
