"""What the command line shows besides its results: exit codes, progress bars, written files.

Progress goes to stderr and is hidden when stderr is not a terminal (or with ``--quiet``);
results go to stdout. The language of what a command prints (``--lang zh|en``, :func:`add_lang_option`
and :func:`cli_lang`) and its words (:func:`say`) come from the glossary through :mod:`gis.i18n`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gis import InputError
from gis.i18n import LANG_ENV, LANGS, Lang, load_glossary, resolve_lang
from planning.names import DEFAULT_STANDARD

if TYPE_CHECKING:
    from gis import Scenario
    from gis.executor import Executor

    from ..workflow import PipelineResult

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "LANG_ENV",
    "STANDARD_HELP",
    "Stages",
    "Tasks",
    "add_executor_options",
    "add_lang_option",
    "cli_executor",
    "cli_lang",
    "error_text",
    "print_run",
    "say",
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


def print_run(result: PipelineResult, heading: str, **values: object) -> None:
    """List what a workflow run wrote, its notes and how long it took, in the run's language.

    ``heading`` is the key of the glossary's heading (``cli_<heading>``) with its ``values``
    (``folder`` is filled in); the language is the one the run drew its outputs in
    (``result.lang``), so the summary says what the map and the report say.
    """
    lang: Lang = getattr(result, "lang", None) or resolve_lang()
    print(say(heading, lang, folder=result.out_dir.resolve(), **values))
    for name, path in result.outputs.items():
        print(f"  {name:<10} {path.resolve()}")
    for note in result.notes:
        print(note)
    print(say("run_done", lang, seconds=f"{sum(result.timings_s.values()):.1f}"))


def add_lang_option(p: argparse.ArgumentParser) -> None:
    """``--lang zh|en``: the language of what the subcommand prints (summaries and errors)."""
    p.add_argument(
        "--lang",
        choices=LANGS,
        default=None,
        help=f"language of the summary and messages: zh or en (default: ${LANG_ENV}, else the "
        "scenario's `[scenario] lang`, else its place: Chinese in China; else English)",
    )


def cli_lang(
    args: argparse.Namespace,
    scenario: Scenario | None = None,
    *,
    bounds_wgs84: tuple[float, float, float, float] | None = None,
) -> Lang:
    """A command's language, by the one rule of :func:`gis.i18n.resolve_lang`.

    ``--lang``, else ``$RISKPLAN_LANG``, else the scenario TOML's ``[scenario] lang``, else the
    scenario's place (Chinese in China: the synthetic demo city lies in Shanxi), else English.
    ``bounds_wgs84`` gives the place of a scenario not loaded (``riskplan init``). A bad
    ``$RISKPLAN_LANG`` is an :class:`gis.InputError` (exit 2).
    """
    return resolve_lang(getattr(args, "lang", None), scenario=scenario, bounds_wgs84=bounds_wgs84)


def say(key: str, lang: Lang, **values: object) -> str:
    """The glossary's text ``key`` in ``lang`` (``texts.cli_<key>``), its placeholders filled."""
    return load_glossary().text(f"cli_{key}", lang, **values)


def error_text(exc: InputError, lang: Lang) -> str:
    """What the CLI prints for a bad input: ``error: ...`` in ``lang`` (the message's keyed form)."""
    text = exc.text(lang) if hasattr(exc, "text") else str(exc)
    return say("error", lang, message=text)


#: The help of every ``--standard`` option: what a response profile is.
STANDARD_HELP = (
    f"response profile: turnout + travel time to reach a place (default {DEFAULT_STANDARD}: GB 51080, "
    "1 + 4 min; also nfpa-1710, cn-micro-135, or your own from a TOML of response_standards)"
)
