"""Leaflet and its plugins, shipped in ``maps/static`` and inlined so maps need no network.

The vendored files (``maps/static/vendor``, each with its LICENSE) are Leaflet 1.9.4,
Leaflet.markercluster 1.5.3 and leaflet.fullscreen 5.3.3 from the npm registry. Images that
the CSS refers to are inlined as data URIs. Leaflet.VectorGrid 1.3.0 (npm, bundled build) is
vendored there too, for the web page's vector tile layers (:mod:`maps.tiles`); the
self-contained maps do not inline it.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources

__all__ = ["VENDOR", "inline_css", "inline_js"]

# (package, file) in load order.
VENDOR: dict[str, tuple[str, ...]] = {
    "js": (
        "leaflet/leaflet.js",
        "leaflet.markercluster/leaflet.markercluster.js",
        "leaflet.fullscreen/Control.FullScreen.umd.js",
    ),
    "css": (
        "leaflet/leaflet.css",
        "leaflet.markercluster/MarkerCluster.css",
        "leaflet.markercluster/MarkerCluster.Default.css",
        "leaflet.fullscreen/Control.FullScreen.css",
    ),
}
_URL = re.compile(r"url\((['\"]?)(images/[^)'\"]+)\1\)")


def _read(relative: str) -> str:
    return resources.files("maps").joinpath("static", relative).read_text(encoding="utf-8")


def _data_uri(folder: str, match: re.Match[str]) -> str:
    data = resources.files("maps").joinpath("static", folder, match.group(2)).read_bytes()
    return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"


def _script_safe(text: str) -> str:
    """Text that cannot close the ``<script>``/``<style>`` element it is inlined into."""
    return re.sub(r"</(script|style)", r"<\\/\1", text, flags=re.IGNORECASE)


@functools.cache
def inline_js() -> str:
    """All JavaScript a map needs (vendor libraries, then ``riskplan_map.js``), script-safe.

    Examples
    --------
    >>> js = inline_js()
    >>> "L.markerClusterGroup" in js and "riskplan" in js
    True
    """
    parts = [f"/* {name} */\n{_read('vendor/' + name)}" for name in VENDOR["js"]]
    parts.append(_read("riskplan_map.js"))
    return _script_safe("\n;\n".join(parts))


@functools.cache
def inline_css() -> str:
    """All CSS a map needs, images inlined as data URIs.

    Examples
    --------
    >>> css = inline_css()
    >>> "url(images/" in css, "data:image/png;base64," in css
    (False, True)
    """
    parts = []
    for name in VENDOR["css"]:
        folder = "vendor/" + name.rsplit("/", 1)[0]
        text = _URL.sub(functools.partial(_data_uri, folder), _read("vendor/" + name))
        parts.append(f"/* {name} */\n{text}")
    parts.append(_read("riskplan_map.css"))
    return _script_safe("\n".join(parts))
