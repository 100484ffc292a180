"""``python -m service.cli``: the same as the ``riskplan`` command."""

import sys

from . import main

__all__: list[str] = []

sys.exit(main())
