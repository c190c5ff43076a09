"""Flag parsing shared by the command-line tools of tfds_builders.

Each tool defines its flags on a private `FlagValues` rather than absl's
global one: the registry and the builders are imported by other programs
(ingestion, the meta-benchmark), which must not inherit flags such as
`--task` from a module they only read a table from.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from absl import flags

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
    if any(a in ("--help", "-h", "--helpfull") for a in argv[1:]):
        sys.stderr.write(f"usage: python -m {program} [flags]\n\n")
        sys.stderr.write(values.get_help() + "\n")
        raise SystemExit(0)
    try:
        values(argv)
    except flags.Error as e:
        sys.stderr.write(f"{program}: {e}\nTry --help.\n")
        return None
    return values


def setup_logging() -> None:
    """One logging setup for a tool's run: INFO and above, on stderr."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
