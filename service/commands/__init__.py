"""Subcommands of ``riskplan`` contributed by the analysis stages.

Each module defines ``register(subparsers)`` that adds its parser and sets
``func`` to a handler ``(argparse.Namespace) -> int`` returning the exit code.
"""
