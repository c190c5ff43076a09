"""What every command-line program of the benchmark does the same way.

Flags are parsed into a fresh `FlagValues` per call of `main(argv)`, so tests
can call a program's main many times in one process; a user's mistake is one
line on stderr, never a traceback; logging is set up once, here.
"""

from __future__ import annotations

import logging
import sys
from typing import Sequence

from absl import flags

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def usage_error(program: str, message: str) -> None:
    """Writes one line naming the program and what is wrong."""
    sys.stderr.write(f"{program}: {message}\n")


HELP_FLAGS = ("-h", "--help", "-help", "--helpfull")


def parse_flags(
    program: str,
    values: flags.FlagValues,
    argv: Sequence[str],
    required: Sequence[str] = (),
    doc: str = "",
) -> bool:
    """Parses `argv` (program name first) into `values`.

    `--help` prints `doc` and the flags, then exits with code 0.

    Returns:
        True when the flags are usable; False after writing one line saying
        which flag is wrong.
    """
    if any(arg in HELP_FLAGS for arg in argv[1:]):
        sys.stdout.write(f"{doc.strip()}\n\nFlags:\n{values.get_help()}\n")
        raise SystemExit(0)
    try:
        values(list(argv))
    except flags.Error as e:
        usage_error(program, str(e))
        return False
    for name in required:
        if not values[name].value:
            usage_error(program, f"--{name} is required")
            return False
    return True


def setup_logging() -> None:
    """Logs INFO and above to stderr with timestamps and module names."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
