"""Flag parsing shared by the command-line tools of tfds_builders.

Each tool defines its flags on a private `FlagValues` rather than absl's
global one: the registry and the builders are imported by other programs
(ingestion, the meta-benchmark), which must not inherit flags such as
`--task` from a module they only read a table from.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import flags

from autocv import cli

FlagValues = flags.FlagValues

# Exit codes of the tools: 0 done, 1 a dataset failed, 2 bad input.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def parse(
    program: str,
    argv: list[str] | None,
    define: Callable[[FlagValues], None],
) -> FlagValues | None:
    """Parses `argv` (program name first) against the flags `define` adds.

    Prints the error for bad flags to stderr; --help prints the help and
    exits with status 0.

    Returns:
        The parsed flags, or None when the flags are bad and the program
        should exit with EXIT_BAD_INPUT.
    """
    values = FlagValues()
    define(values)
    argv = list(sys.argv if argv is None else argv)
    doc = f"usage: python -m {program} [flags]"
    if not cli.parse_flags(program, values, argv, doc=doc):
        sys.stderr.write("Try --help.\n")
        return None
    return values


# One logging setup for every program of the benchmark.
setup_logging = cli.setup_logging
