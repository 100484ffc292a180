"""Doctest set-up shared by every package: one demo city for all the examples.

The examples of the public functions run on ``city``, the synthetic demo city
``gis.demo_city(n_road_nodes=2000)``: built once per test session, handed to each doctest
as a fresh copy (so an example that changes a layer changes nothing for the next one).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def _demo_city() -> dict[str, Any]:
    from gis import demo_city

    return demo_city(n_road_nodes=2000)


@pytest.fixture(autouse=True)
def _doctest_city(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    if isinstance(request.node, pytest.DoctestItem) and "city" in request.node.dtest.docstring:
        city = request.getfixturevalue("_demo_city")
        doctest_namespace["city"] = {name: layer.copy() for name, layer in city.items()}
