"""What the command line shows besides its results: exit codes, progress bars, written files.

Progress goes to stderr and is hidden when stderr is not a terminal (or with ``--quiet``);
results go to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from planning.names import DEFAULT_STANDARD

if TYPE_CHECKING:
    from gis.executor import Executor

    from ..workflow import PipelineResult

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "STANDARD_HELP",
    "Stages",
    "Tasks",
    "add_executor_options",
    "cli_executor",
    "print_run",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
#: After Ctrl-C, as a shell reports a process ended by SIGINT.
EXIT_INTERRUPTED = 130


class Stages:
    """A progress bar over named stages (on stderr, hidden when not a terminal).

    Call it with each stage's name as the stage starts; :meth:`close` when the last one ends.
    """

    def __init__(self, total: int, *, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="stage", disable=quiet or None, file=sys.stderr, leave=False)
        self.started = False

    def __call__(self, name: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_description(name)

    def close(self) -> None:
        """Count the last stage and remove the bar."""
        self.bar.update(1)
        self.bar.close()


class Tasks:
    """A progress bar over the tasks of a stage (executor tasks: tiles, chunks, cities).

    Call it as ``progress(done, total)`` (:data:`gis.executor.Progress`), in process or on Dask;
    a new stage starts again from ``(0, total)``. Sits under the :class:`Stages` bar.
    """

    def __init__(self, *, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=0, unit="task", disable=quiet or None, file=sys.stderr, leave=False, position=1)

    def __call__(self, done: int, total: int) -> None:
        if done == 0 or total != self.bar.total:
            self.bar.reset(total=total)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        """Remove the bar."""
        self.bar.close()


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--scheduler tcp://HOST:PORT``: where the stages that scale run."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        help="run the stages that scale on a local Dask cluster of N worker processes "
        '(needs `pip install "riskplan[scale]"`; default: in this process, without Dask)',
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run them on an existing Dask cluster (its scheduler's address, e.g. tcp://10.0.0.5:8786)",
    )


@contextmanager
def cli_executor(args: argparse.Namespace) -> Iterator[Executor | None]:
    """The executor of ``--workers`` / ``--scheduler`` (closed on exit), or None (in process).

    A scheduler that cannot be reached raises :class:`gis.InputError` naming it and the fix (exit 2).
    """
    if args.workers is None and args.scheduler is None:
        yield None  # the embedded default: in process, Dask never imported
        return
    from gis.executor import open_executor

    with open_executor(workers=args.workers, scheduler=args.scheduler) as ex:
        yield ex


def print_run(result: PipelineResult, heading: str) -> None:
    """List what a workflow run wrote, its notes and how long it took."""
    print(heading)
    for name, path in result.outputs.items():
        print(f"  {name:<10} {path.resolve()}")
    for note in result.notes:
        print(note)
    print(f"Done in {sum(result.timings_s.values()):.1f} s.")


#: The help of every ``--standard`` option: what a response profile is.
STANDARD_HELP = (
    f"response profile: turnout + travel time to reach a place (default {DEFAULT_STANDARD}: GB 51080, "
    "1 + 4 min; also nfpa-1710, cn-micro-135, or your own from a TOML of response_standards)"
)
