"""One Dask LocalCluster of 2 worker processes per test module, through riskplan's own seam."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def two_workers() -> Iterator[object]:
    """A :class:`gis.executor.DaskExecutor` on 2 worker processes, 1 thread each; skips without Dask.

    Use it in one module-scoped fixture per test module.
    """
    pytest.importorskip(
        "distributed", reason='Dask tests need dask[distributed]: pip install "riskplan[scale]"'
    )
    from gis.executor import open_executor

    with pytest.MonkeyPatch.context() as mp:
        # worker processes import riskplan from this checkout, like the test process does
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        mp.setenv("PYTHONPATH", os.pathsep.join([str(REPO), *paths]))
        with open_executor(workers=2) as ex:
            yield ex
