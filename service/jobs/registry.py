"""What a job kind is, and the registry of the kinds one app can run.

A *job kind* is a function ``(scenario, params, progress, cancel) -> result``:

* ``scenario`` is the loaded :class:`gis.Scenario`;
* ``params`` the JSON parameters, already checked by the kind's ``check_params``;
* ``progress(fraction, message="")`` reports progress (0..1); it raises
  :class:`JobCancelled` once cancellation was asked for, so a job that reports progress
  regularly stops by itself;
* ``cancel`` is a :class:`threading.Event`, set when the job should stop;
* the result is a JSON-serialisable mapping, or a :class:`JobOutput` that adds
  GeoDataFrames (served as GeoJSON by the API).

The built-in kinds are in :mod:`service.jobs.kinds`; adding one is one call there (or in a
plugin named by ``RISKPLAN_JOB_PLUGINS=module:function`` / ``riskplan serve --job-plugin``)::

    registry.register("placement", run_placement, description="...", check_params=check)
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd

from gis import InputError, Scenario

__all__ = [
    "JobCancelled",
    "JobFunction",
    "JobKind",
    "JobOutput",
    "JobRegistry",
    "ParamsCheck",
    "Progress",
    "default_registry",
    "load_plugins",
]

Progress = Callable[..., None]


class JobCancelled(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised inside a job (by ``progress``) once it should stop."""


@dataclass(frozen=True)
class JobOutput:
    """What a job returns: JSON data plus optional layers (stored as a GeoPackage)."""

    data: Mapping[str, Any]
    layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)


JobFunction = Callable[
    [Scenario, Mapping[str, Any], Progress, threading.Event], "JobOutput | Mapping[str, Any]"
]
ParamsCheck = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job.

    ``params_schema`` is the JSON Schema of its parameters, published in the OpenAPI schema
    (``None``: any object); it must accept exactly what ``check_params`` accepts.
    """

    name: str
    func: JobFunction
    description: str
    check_params: ParamsCheck | None = None
    params_schema: Mapping[str, Any] | None = None


class JobRegistry:
    """The job kinds one app can run (each app has its own registry; nothing is global).

    Examples
    --------
    >>> registry = JobRegistry()
    >>> registry.register("noop", lambda sc, params, progress, cancel: {}, description="does nothing")
    >>> [k.name for k in registry.kinds()]
    ['noop']
    """

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        name: str,
        func: JobFunction,
        *,
        description: str,
        check_params: ParamsCheck | None = None,
        params_schema: Mapping[str, Any] | None = None,
    ) -> None:
        """Add the job kind ``name``.

        ``check_params`` validates and normalises parameters, and ``params_schema`` (JSON
        Schema) documents them.
        """
        if name in self._kinds:
            msg = f"Job kind `{name}` is registered twice. Fix: give the new kind another name."
            raise ValueError(msg)
        self._kinds[name] = JobKind(name, func, description, check_params, params_schema)

    def get(self, name: str) -> JobKind:
        """The kind ``name``, or an :class:`InputError` listing the known kinds."""
        try:
            return self._kinds[name]
        except KeyError:
            msg = f"Unknown job kind `{name}`. Fix: use one of {sorted(self._kinds)}."
            raise InputError(
                msg, key="unknown_job_kind", values={"kind": name, "kinds": sorted(self._kinds)}
            ) from None

    def kinds(self) -> list[JobKind]:
        """Every kind, by name."""
        return [self._kinds[n] for n in sorted(self._kinds)]


def load_plugins(registry: JobRegistry, specs: Sequence[str]) -> None:
    """Call each ``module:function`` in ``specs`` with ``registry`` so it can register kinds."""
    for spec in specs:
        module_name, _, func_name = spec.partition(":")
        try:
            hook = getattr(importlib.import_module(module_name), func_name or "register")
        except (ImportError, AttributeError) as exc:
            msg = f"Job plugin `{spec}` cannot be loaded ({exc}). Fix: give `module:function`."
            raise InputError(msg) from None
        hook(registry)


def default_registry(plugins: Sequence[str] = ()) -> JobRegistry:
    """A fresh registry with the built-in kinds (``kinds``, ``reliability``), then the plugins'."""
    from . import kinds, reliability

    registry = JobRegistry()
    kinds.register_builtin(registry)
    reliability.register_reliability(registry)
    load_plugins(registry, plugins)
    return registry
