"""Layout of the synthetic demo city: zones, river, ring, railway, hills (private).

Everything here works in the local frame of ``gis/data/demo_city.toml``: metres from the
south-west corner of the study area. Functions of coordinates broadcast like numpy, so
``layout.zones(xs[None, :], ys[:, None])`` classifies a whole lattice cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Polygon, box

__all__ = [
    "EAST",
    "HILLS",
    "INDUSTRIAL",
    "INNER",
    "OLD_TOWN",
    "OUTER",
    "RIVER",
    "ZONES",
    "Grid",
    "Layout",
    "make_layout",
]

FloatArray = npt.NDArray[np.float64]

# Zone codes, in priority order where zones overlap (lower code wins on a segment).
ZONES: tuple[str, ...] = ("river", "hills", "industrial", "old_town", "east", "inner", "outer")
RIVER, HILLS, INDUSTRIAL, OLD_TOWN, EAST, INNER, OUTER = range(len(ZONES))

_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class Layout:
    """Geometry of the city in local metres; random phases are drawn once per seed."""

    width: float
    height: float
    river_x: float
    river_amp: tuple[float, ...]
    river_k: tuple[float, ...]
    river_phase: tuple[float, ...]
    river_half_width: float
    river_margin: float
    ring_centre: tuple[float, float]
    ring_radius: float
    rail_y: float
    rail_amp: float
    rail_k: float
    rail_phase: float
    hills_x: float
    hills_amp: float
    hills_k: float
    hills_phase: float
    hills_south: float
    hills_south_amp: float
    hills_south_k: float
    hills_south_phase: float
    old_centre: tuple[float, float]
    old_radii: tuple[float, float]
    old_wobble: float
    old_phase: float
    industrial: tuple[float, float, float, float]

    # --- river ---------------------------------------------------------------------------
    def river_centre_x(self, y: npt.ArrayLike) -> FloatArray:
        """Easting of the river centre line at northing ``y``."""
        y = np.asarray(y, dtype=np.float64)
        x = np.full(y.shape, self.river_x)
        for a, k, ph in zip(self.river_amp, self.river_k, self.river_phase, strict=True):
            x += a * np.sin(k * y + ph)
        return x

    def _river_slope(self, y: FloatArray) -> FloatArray:
        s = np.zeros(y.shape)
        for a, k, ph in zip(self.river_amp, self.river_k, self.river_phase, strict=True):
            s += a * k * np.cos(k * y + ph)
        return s

    def river_distance(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        """Approximate distance from the river centre line (exact for a straight river)."""
        y = np.asarray(y, dtype=np.float64)
        dx = np.abs(np.asarray(x, dtype=np.float64) - self.river_centre_x(y))
        return dx / np.sqrt(1.0 + self._river_slope(y) ** 2)

    def east_of_river(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return np.asarray(x, dtype=np.float64) > self.river_centre_x(y)

    def near_river(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """True where no road node may lie: the water plus the bank margin."""
        return self.river_distance(x, y) < self.river_half_width + self.river_margin

    # --- railway -------------------------------------------------------------------------
    def railway_y(self, x: npt.ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=np.float64)
        return self.rail_y + self.rail_amp * np.sin(self.rail_k * x + self.rail_phase)

    def north_of_railway(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        return np.asarray(y, dtype=np.float64) > self.railway_y(x)

    # --- zones ---------------------------------------------------------------------------
    def zones(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Zone code (index into :data:`ZONES`) of each point; broadcasts ``x`` and ``y``."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        shape = np.broadcast_shapes(x.shape, y.shape)
        z = np.full(shape, OUTER, dtype=np.int8)
        cx, cy = self.ring_centre
        z[np.broadcast_to((x - cx) ** 2 + (y - cy) ** 2 < self.ring_radius**2, shape)] = INNER
        z[np.broadcast_to(self.east_of_river(x, y), shape)] = EAST
        ox, oy = self.old_centre
        dx, dy = (x - ox) / self.old_radii[0], (y - oy) / self.old_radii[1]
        lobes = 1.0 + self.old_wobble * np.sin(3.0 * np.arctan2(dy, dx) + self.old_phase)
        z[np.broadcast_to(np.hypot(dx, dy) < lobes, shape)] = OLD_TOWN
        x0, x1, y0, y1 = self.industrial
        z[np.broadcast_to((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1), shape)] = INDUSTRIAL
        hills = (x < self.hills_x + self.hills_amp * np.sin(self.hills_k * y + self.hills_phase)) & (
            y
            > self.hills_south
            + self.hills_south_amp * np.sin(self.hills_south_k * x + self.hills_south_phase)
        )
        z[np.broadcast_to(hills, shape)] = HILLS
        z[np.broadcast_to(self.river_distance(x, y) < self.river_half_width, shape)] = RIVER
        return z

    # --- distances used for placing things -----------------------------------------------
    def industrial_distance(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        x0, x1, y0, y1 = self.industrial
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        dx = np.maximum(np.maximum(x0 - x, x - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - y, y - y1), 0.0)
        return np.hypot(dx, dy)

    def ring_distance(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        cx, cy = self.ring_centre
        return np.abs(np.hypot(np.asarray(x) - cx, np.asarray(y) - cy) - self.ring_radius)

    def edge_distance(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        return np.minimum(np.minimum(x, self.width - x), np.minimum(y, self.height - y))

    # --- geometries ----------------------------------------------------------------------
    def study_area(self) -> Polygon:
        return box(0.0, 0.0, self.width, self.height)

    def river_polygon(self) -> Polygon:
        ys = np.arange(-500.0, self.height + 500.0, 20.0)
        centre = LineString(np.column_stack([self.river_centre_x(ys), ys]))
        water = centre.buffer(self.river_half_width, cap_style="flat")
        return shapely.intersection(water, self.study_area())

    def land_parts(self) -> tuple[Polygon, Polygon]:
        """The land west and east of the river (the study area minus the water)."""
        land = shapely.difference(self.study_area(), self.river_polygon())
        parts = sorted(shapely.get_parts(land), key=lambda g: g.area, reverse=True)[:2]
        west, east = sorted(parts, key=lambda g: g.centroid.x)
        return west, east

    def ring_line(self, spacing: float = 50.0) -> LineString:
        n = max(int(_TWO_PI * self.ring_radius / spacing), 16)
        t = np.linspace(0.0, _TWO_PI, n + 1)
        t[-1] = 0.0
        cx, cy = self.ring_centre
        return LineString(
            np.column_stack([cx + self.ring_radius * np.cos(t), cy + self.ring_radius * np.sin(t)])
        )

    def railway_line(self) -> LineString:
        xs = np.linspace(0.0, self.width, 301)
        return LineString(np.column_stack([xs, self.railway_y(xs)]))


def make_layout(p: Mapping[str, Any], rng: np.random.Generator) -> Layout:
    """Build the :class:`Layout` from the demo-city parameters, drawing random phases."""
    city, river, ring, rail = p["city"], p["river"], p["ring"], p["railway"]
    hills, old, ind = p["hills"], p["old_town"], p["industrial_park"]

    def phase() -> float:
        return float(rng.uniform(0.0, _TWO_PI))

    amps = tuple(float(a) for a in river["amplitude_m"])
    return Layout(
        width=float(city["width_m"]),
        height=float(city["height_m"]),
        river_x=float(river["x_m"]),
        river_amp=amps,
        river_k=tuple(_TWO_PI / float(w) for w in river["wavelength_m"]),
        river_phase=tuple(phase() for _ in amps),
        river_half_width=float(river["half_width_m"]),
        river_margin=float(river["bank_margin_m"]),
        ring_centre=(float(ring["centre_m"][0]), float(ring["centre_m"][1])),
        ring_radius=float(ring["radius_m"]),
        rail_y=float(rail["y_m"]),
        rail_amp=float(rail["amplitude_m"]),
        rail_k=_TWO_PI / float(rail["wavelength_m"]),
        rail_phase=phase(),
        hills_x=float(hills["edge_x_m"]),
        hills_amp=float(hills["edge_amplitude_m"]),
        hills_k=_TWO_PI / float(hills["edge_wavelength_m"]),
        hills_phase=phase(),
        hills_south=float(hills["south_y_m"]),
        hills_south_amp=float(hills["south_amplitude_m"]),
        hills_south_k=_TWO_PI / float(hills["south_wavelength_m"]),
        hills_south_phase=phase(),
        old_centre=(float(old["centre_m"][0]), float(old["centre_m"][1])),
        old_radii=(float(old["radii_m"][0]), float(old["radii_m"][1])),
        old_wobble=float(old["wobble"]),
        old_phase=phase(),
        industrial=(
            float(ind["x_m"][0]),
            float(ind["x_m"][1]),
            float(ind["y_m"][0]),
            float(ind["y_m"][1]),
        ),
    )


@dataclass(frozen=True)
class Grid:
    """Regular sampling grid over the land: zone areas, population weights, random points."""

    xy: FloatArray  # (n, 2) cell centres, water excluded
    zone: npt.NDArray[np.int8]
    spacing: float

    @classmethod
    def build(cls, layout: Layout, spacing: float) -> Grid:
        xs = np.arange(spacing / 2.0, layout.width, spacing)
        ys = np.arange(spacing / 2.0, layout.height, spacing)
        zone = layout.zones(xs[None, :], ys[:, None])
        jj, ii = np.nonzero(zone != RIVER)
        return cls(np.column_stack([xs[ii], ys[jj]]), zone[jj, ii], spacing)

    @property
    def cell_area_km2(self) -> float:
        return self.spacing**2 / 1e6

    def sample(
        self,
        rng: np.random.Generator,
        weights: npt.NDArray[np.float64],
        n: int,
        layout: Layout,
    ) -> FloatArray:
        """Draw ``n`` points: a grid cell with probability ``weights``, then uniformly inside.

        Points that fall into the water are drawn again.
        """
        out = np.empty((n, 2))
        if n == 0:
            return out
        prob = weights / weights.sum()
        todo = np.arange(n)
        while todo.size:
            idx = rng.choice(len(self.xy), size=todo.size, p=prob)
            pts = self.xy[idx] + rng.uniform(-0.5, 0.5, size=(todo.size, 2)) * self.spacing
            out[todo] = pts
            todo = todo[layout.zones(pts[:, 0], pts[:, 1]) == RIVER]
        return out
