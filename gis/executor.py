"""Where work runs: in this process (the default) or on a Dask cluster, behind one seam.

:func:`open_executor` turns the user's choice into an :class:`Executor`: nothing (or
``workers=1``) runs every task here, in order, without importing Dask; ``workers=N`` starts a
``dask.distributed`` LocalCluster of N worker processes (one thread each) and closes it on exit;
``scheduler="tcp://HOST:8786"`` connects to an existing cluster; ``client=`` wraps a
``distributed.Client`` the caller owns (it is left open). :func:`as_executor` gives the
functions that accept ``executor=`` (an Executor, a Client or None) the same object.

An Executor does two things. :meth:`Executor.share` sends a big input (a road graph, a source
table) to every worker once (``client.scatter(obj, broadcast=True)``) and returns a handle that
tasks take as an argument, never the object itself per task; :meth:`Executor.share_each` sends
part ``i`` of a split input to worker ``i`` only, and ``run(..., pin=)`` runs a task where its
part is held. :meth:`Executor.run` runs
``fn(*shared, *task)`` for every task and yields ``(task number, result)`` as they complete,
feeding ``progress(done, total)``; a failing task cancels the rest and re-raises its own
exception (same type, so an :class:`~gis.errors.InputError` stays one) with a note naming the task.

Dask is an optional extra: ``pip install "riskplan[scale]"``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .errors import InputError, MissingDependencyError

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "Progress",
    "as_executor",
    "open_executor",
    "peak_rss_mb",
]

log = logging.getLogger(__name__)

#: Dask's environment of worker processes, set before they start.
_PRE_SPAWN = "distributed.nanny.pre-spawn-environ"

#: ``progress(done, total)``: called after each task completes (and once with ``(0, total)``).
Progress = Callable[[int, int], None]


class Executor:
    """Runs tasks somewhere: the interface of :class:`InProcessExecutor` and :class:`DaskExecutor`."""

    #: Worker processes the tasks spread over (1 in process).
    n_workers: int = 1
    #: How many objects :meth:`share` has sent (each to every worker once; a :meth:`share_each` counts one).
    n_shared: int = 0

    def share(self, obj: Any, *, keep: bool = False) -> Any:
        """A handle on ``obj`` for task arguments: ``obj`` itself in process, a future on Dask.

        ``keep``: hold it on the workers for the executor's life and hand out the same handle
        when the same object is shared again (the road graph's edges, used by every stage).
        """
        raise NotImplementedError

    def held(self, obj: Any) -> Any:
        """The handle of ``obj`` if it was shared with ``keep=True``, else None (always None in process)."""
        return None

    def on_each_worker(self, fn: Callable[..., Any], *shared: Any) -> list[Any]:
        """Run ``fn(*shared)`` once on every worker (here: once), such as building an index there."""
        raise NotImplementedError

    def share_each(self, parts: Sequence[Any], *, keep_for: Any, meta: Any = None) -> list[Any]:
        """Handles on ``parts``, part ``i`` held by worker ``i`` only (``i`` modulo the workers).

        For data split between the workers (each worker's share of the road lines) rather than
        copied to all. Kept for the executor's life under ``keep_for``: :meth:`held` then gives
        ``(handles, meta)``; tasks on a part run where it is held (``run(..., pin=)``). In
        process: the parts themselves, nothing kept.
        """
        raise NotImplementedError

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: tuple[Any, ...] = (),
        progress: Progress | None = None,
        name: str | None = None,
        pin: Sequence[Any] | None = None,
        priority: int = 0,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*shared, *tasks[i]))`` for every task, in the order they complete.

        ``pin[i]``: a handle of :meth:`share_each`; task ``i`` runs on the worker holding it.
        ``priority``: tasks of a higher priority run first where several wait (Dask's own).
        """
        raise NotImplementedError


def _begin(
    fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], name: str | None, progress: Progress | None
) -> tuple[int, str]:
    """``(total, label)`` of a run, after reporting ``progress(0, total)``."""
    total = len(tasks)
    if progress is not None:
        progress(0, total)
    return total, name or str(getattr(fn, "__name__", "task"))


def _note(exc: BaseException, i: int, total: int, name: str, where: str) -> None:
    exc.add_note(f"(in task {i + 1} of {total} of `{name}`, {where})")


class InProcessExecutor(Executor):
    """Every task in this process, one after the other, in order: no Dask needed.

    Examples
    --------
    >>> ex = InProcessExecutor()
    >>> sorted(ex.run(pow, [(2, 3), (3, 2)]))
    [(0, 8), (1, 9)]
    """

    def share(self, obj: Any, *, keep: bool = False) -> Any:
        """``obj`` itself (nothing to send)."""
        self.n_shared += 1
        return obj

    def on_each_worker(self, fn: Callable[..., Any], *shared: Any) -> list[Any]:
        """``[fn(*shared)]``: this process is the one worker."""
        return [fn(*shared)]

    def share_each(self, parts: Sequence[Any], *, keep_for: Any, meta: Any = None) -> list[Any]:
        """The parts themselves (nothing to send, nothing kept)."""
        self.n_shared += 1  # one object, split between the workers
        return list(parts)

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: tuple[Any, ...] = (),
        progress: Progress | None = None,
        name: str | None = None,
        pin: Sequence[Any] | None = None,
        priority: int = 0,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*shared, *tasks[i]))`` in task order (``pin`` has nothing to choose here)."""
        total, label = _begin(fn, tasks, name, progress)
        for i, task in enumerate(tasks):
            try:
                out = fn(*shared, *task)
            except Exception as exc:
                _note(exc, i, total, label, "in process")
                raise
            if progress is not None:
                progress(i + 1, total)
            yield i, out

    def __repr__(self) -> str:
        return "InProcessExecutor()"


class DaskExecutor(Executor):
    """Tasks as Dask futures on a ``distributed.Client``; build it with :func:`open_executor`.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    max_in_flight
        Tasks submitted ahead of the results collected (default 2 per worker thread, at least 4):
        bounds the results waiting on the workers, so a reduction keeps its memory bound.
    """

    def __init__(self, client: Any, *, max_in_flight: int | None = None) -> None:
        self.client = client
        threads = sum(client.nthreads().values()) or 1
        self.n_workers = len(client.nthreads()) or 1
        self.max_in_flight = max_in_flight or max(4, 2 * threads)
        self.n_shared = 0
        self._shared: dict[int, tuple[Any, Any]] = {}
        self._holder: dict[str, str] = {}  # key of a share_each future -> address of its worker
        self._broadcast: set[str] = set()  # keys of the futures shared to all workers (not held)

    def share(self, obj: Any, *, keep: bool = False) -> Any:
        """Scatter ``obj`` to every worker once and return its future (pass it in ``shared=``).

        With ``keep``, the future is held and sharing the same object again returns it: the road
        graph's edges go to the workers once per executor, whatever the number of stages.
        """
        handle = self.held(obj)
        if handle is not None:
            return handle
        self.n_shared += 1
        future = self.client.scatter(obj, broadcast=True, hash=False)
        self._broadcast.add(future.key)
        if keep:
            self._shared[id(obj)] = (obj, future)  # the object is held, so its id is not reused
        return future

    def held(self, obj: Any) -> Any:
        """The future of ``obj`` if it was shared with ``keep=True``, else None."""
        kept = self._shared.get(id(obj))
        return kept[1] if kept is not None and kept[0] is obj else None

    def on_each_worker(self, fn: Callable[..., Any], *shared: Any) -> list[Any]:
        """Run ``fn(*shared)`` once on every worker, pinned to it, and return the results."""
        futures = [
            self.client.submit(fn, *shared, workers=[w], allow_other_workers=False, pure=False)
            for w in self.client.nthreads()
        ]
        return list(self.client.gather(futures))

    def share_each(self, parts: Sequence[Any], *, keep_for: Any, meta: Any = None) -> list[Any]:
        """Scatter part ``i`` to worker ``i`` only (workers in address order), kept under ``keep_for``."""
        kept = self.held(keep_for)
        if kept is not None:
            return list(kept[0])
        workers = sorted(self.client.nthreads())
        futures = []
        for i, part in enumerate(parts):
            where = workers[i % len(workers)]
            [future] = self.client.scatter([part], workers=[where], hash=False)
            self._holder[future.key] = where
            futures.append(future)
        self.n_shared += 1  # one object, split between the workers
        self._shared[id(keep_for)] = (keep_for, (futures, meta))
        return list(futures)

    def run(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: tuple[Any, ...] = (),
        progress: Progress | None = None,
        name: str | None = None,
        pin: Sequence[Any] | None = None,
        priority: int = 0,
    ) -> Iterator[tuple[int, Any]]:
        """Submit the tasks (at most ``max_in_flight`` ahead) and yield results as they complete.

        A pinned task (``pin[i]``, a :meth:`share_each` handle) runs on the worker holding it
        and is never moved (its part is not copied to another worker).
        """
        from distributed import as_completed

        total, label = _begin(fn, tasks, name, progress)
        if total == 0:
            return
        self._rebroadcast(shared)
        token = uuid.uuid4().hex[:8]
        live: dict[str, tuple[int, Any]] = {}
        pending = iter(enumerate(tasks))

        def submit(i: int, task: tuple[Any, ...]) -> Any:
            where: dict[str, Any] = {}
            if pin is not None and pin[i] is not None:
                where = {"workers": [self._holder[pin[i].key]], "allow_other_workers": False}
            fut = self.client.submit(
                fn, *shared, *task, key=f"{label}-{token}-{i}", pure=False, priority=priority, **where
            )
            live[fut.key] = (i, fut)
            return fut

        stream = as_completed([submit(i, t) for i, t in _take(pending, self.max_in_flight)])
        done = 0
        try:
            for fut in stream:
                i, _ = live.pop(fut.key)
                if fut.status == "error":
                    exc = fut.exception()
                    _note(exc, i, total, label, f"on the Dask cluster at {self.client.scheduler.address}")
                    raise exc.with_traceback(fut.traceback())
                out = fut.result()
                for j, t in _take(pending, 1):
                    stream.add(submit(j, t))
                done += 1
                if progress is not None:
                    progress(done, total)
                yield i, out
        finally:
            if live:  # a task failed or the caller stopped early: cancel what is queued or running
                self.client.cancel([f for _, f in live.values()], force=True)
                stream.clear()

    def _rebroadcast(self, shared: tuple[Any, ...]) -> None:
        """Put every broadcast input of a stage back on every worker before its tasks go out.

        A scheduler's Active Memory Manager (on by default in Dask) drops the "superfluous"
        replicas of data no task waits for within seconds: a graph shared with ``keep`` loses
        its copy on all workers but one between two stages, and each task landing elsewhere
        would then fetch it from that worker. Clusters :func:`open_executor` starts run without
        it; on a cluster the user gives, the copies are made again here (one scheduler call
        when nothing is missing).
        """
        futures = [f for f in shared if getattr(f, "key", None) in self._broadcast]
        if not futures:
            return
        n = len(self.client.nthreads())
        holders = self.client.who_has(futures)
        short = [f for f in futures if len(holders.get(f.key, ())) < n]
        if short:
            log.debug("copying %d shared input(s) back to all %d workers", len(short), n)
            self.client.replicate(short, n=n)

    def worker_peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory of every worker process so far, in MB (Linux ``VmHWM``)."""
        return dict(self.client.run(peak_rss_mb))

    def worker_cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by every worker process (``time.process_time``)."""
        import time

        return dict(self.client.run(time.process_time))

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client.scheduler.address}, {self.n_workers} workers)"


def _take(it: Iterator[tuple[int, Any]], n: int) -> Iterable[tuple[int, Any]]:
    for _ in range(n):
        nxt = next(it, None)
        if nxt is None:
            return
        yield nxt


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` (reset at exec, true for a worker), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError("dask[distributed]", "scale", purpose="run on Dask") from exc
    return distributed


@contextmanager
def open_executor(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    connect_timeout_s: float = 10.0,
    memory_limit: str | float = "auto",
) -> Iterator[Executor]:
    """The executor the user asked for, closed (cluster and all) when the block ends.

    Parameters
    ----------
    workers
        None or 1: in this process (no Dask import). N >= 2: a LocalCluster of N worker
        processes with one thread each, started here and closed on exit, even when a task fails.
    scheduler
        Address of a running Dask scheduler, such as ``tcp://10.0.0.5:8786``.
    client
        A ``distributed.Client`` the caller owns (left open on exit).
    connect_timeout_s
        Seconds to wait for ``scheduler``.
    memory_limit
        Memory limit of each LocalCluster worker (Dask's ``"auto"``: the machine's memory / N).

    Raises
    ------
    InputError
        For more than one choice, a bad ``workers`` count or a scheduler that cannot be reached.
    MissingDependencyError
        When Dask is asked for but not installed.

    Examples
    --------
    >>> with open_executor() as ex:
    ...     [r for _, r in ex.run(abs, [(-1,), (-2,)])]
    [1, 2]
    """
    given = [
        n for n, v in (("workers", workers), ("scheduler", scheduler), ("client", client)) if v is not None
    ]
    if len(given) > 1:
        msg = f"Both {' and '.join(f'`{g}`' for g in given)} were given. Fix: choose one place to run."
        raise InputError(msg)
    if client is not None:
        yield DaskExecutor(client)
        return
    if scheduler:
        with _connect(scheduler, connect_timeout_s) as c:
            yield DaskExecutor(c)
        return
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        msg = f"`workers` is {workers!r}. Fix: give a whole number of worker processes >= 1 (1 = in process)."
        raise InputError(msg)
    if workers is None or workers == 1:
        yield InProcessExecutor()
        return
    distributed = _distributed()
    import dask

    log.info("starting a Dask LocalCluster of %d worker processes", workers)
    with (
        # Dask starts its workers with one BLAS / OpenMP thread each (kept: no oversubscription)
        # and MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap threshold at 128 KiB:
        # every array above it is then mapped and faulted in afresh. Measured on 256 kernel
        # density tiles: 0.05-0.12 s of system CPU in a plain process, 2.8-3.0 s in one started
        # with that setting. The workers get glibc's defaults instead, as this process has.
        dask.config.set(
            {
                f"{_PRE_SPAWN}.MALLOC_TRIM_THRESHOLD_": None,
                # the Active Memory Manager would drop the copies of the graph that `share`
                # broadcast to every worker (see DaskExecutor._rebroadcast)
                "distributed.scheduler.active-memory-manager.start": False,
            }
        ),
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with a cluster already running
            memory_limit=memory_limit,
            silence_logs=logging.WARNING,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield DaskExecutor(c)


@contextmanager
def _connect(address: str, timeout_s: float) -> Iterator[Any]:
    distributed = _distributed()
    fix = (
        "Fix: start a scheduler there (`dask scheduler`, default port 8786) and workers "
        "(`dask worker tcp://HOST:8786`), check the host and port, or use `workers=N` for a local cluster."
    )
    if not isinstance(address, str) or "://" not in address or address.rsplit(":", 1)[-1] == "":
        msg = f"`scheduler` is {address!r}, not a Dask scheduler address like `tcp://HOST:8786`. {fix}"
        raise InputError(msg)
    try:
        c = distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        msg = f"Cannot reach the Dask scheduler at `{address}` within {timeout_s:g} s ({exc}). {fix}"
        raise InputError(msg) from exc
    try:
        yield c
    finally:
        c.close()


def as_executor(executor: Executor | Any | None) -> Executor:
    """``executor`` as an :class:`Executor`: None runs in process, a ``distributed.Client`` on its cluster.

    Examples
    --------
    >>> as_executor(None)
    InProcessExecutor()
    """
    if executor is None:
        return InProcessExecutor()
    if isinstance(executor, Executor):
        return executor
    if type(executor).__name__ == "Client" and hasattr(executor, "scatter"):
        return DaskExecutor(executor)
    msg = (
        f"`executor` is a {type(executor).__name__}. Fix: pass None (in process), a `distributed.Client`, "
        "or an executor from `gis.executor.open_executor(workers=N)`."
    )
    raise InputError(msg)
