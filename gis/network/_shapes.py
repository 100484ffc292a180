"""The edges' lines for snapping: packed coordinates, their shapely lines and tree (private).

:class:`EdgeShapes` is what a snap needs of a :class:`gis.network.RoadGraph`
(:meth:`~gis.network.RoadGraph.edge_shapes`); it travels to Dask workers as its arrays only.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import shapely

__all__ = ["EdgeShapes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class EdgeShapes:
    """Shapely lines of the edges and their STRtree, made on first use, shared by re-weighted graphs.

    What a snap needs of a graph (:meth:`RoadGraph.edge_shapes`). It pickles as its packed
    coordinates and offsets only, never its lines or tree: a Dask worker that receives it once
    (:meth:`gis.executor.Executor.share`) makes them there, on first use, bit for bit the same.
    """

    def __init__(self, xy: FloatArray, offsets: IntArray) -> None:
        self.xy = xy
        self.offsets = offsets

    def __getstate__(self) -> dict[str, Any]:
        return {"xy": self.xy, "offsets": self.offsets}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.xy, self.offsets = state["xy"], state["offsets"]

    def take_lines(self, parent: EdgeShapes, edges: npt.NDArray[np.bool_]) -> None:
        """Use ``parent``'s lines of ``edges`` (a mask) as these lines, when ``parent`` has made them.

        For a subgraph (:meth:`RoadGraph.subgraph`): its packed coordinates are those of the
        parent's ``edges``, so the lines are the same (shapely geometries are immutable and
        shared); only the tree is built again, over them, as it would be over new lines.
        """
        if "geoms" in parent.__dict__ and "geoms" not in self.__dict__:
            self.__dict__["geoms"] = parent.__dict__["geoms"][edges]

    def release(self) -> None:
        """Drop the shapely lines and the tree (made again on next use, the same); the arrays stay.

        A province's 11 M lines and their tree are some 3.3 GB: ``riskplan run`` lets them go
        after the last stage that snaps (the plans), before the map and the report.
        """
        self.__dict__.pop("tree", None)
        self.__dict__.pop("geoms", None)

    @cached_property
    def geoms(self) -> npt.NDArray[np.object_]:
        """The LineString of every edge, in edge order."""
        import shapely

        counts = np.diff(self.offsets)
        geoms: npt.NDArray[np.object_] = shapely.linestrings(
            self.xy, indices=np.repeat(np.arange(len(counts)), counts)
        )
        return geoms

    @cached_property
    def tree(self) -> shapely.STRtree:
        """A shapely STRtree over :attr:`geoms`."""
        import shapely

        return shapely.STRtree(self.geoms)
