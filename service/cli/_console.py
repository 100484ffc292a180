"""What the command line shows besides its results: exit codes, progress bars, written files.

Progress goes to stderr and is hidden when stderr is not a terminal (or with ``--quiet``);
results go to stdout.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from planning.names import DEFAULT_STANDARD

if TYPE_CHECKING:
    from ..workflow import PipelineResult

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "STANDARD_HELP",
    "Stages",
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
