r"""Runs submissions over the whole meta-dataset and writes the leaderboard.

    python run_benchmark.py --code_dir=starter_kit --datasets=all \
        --root=~/autocv_data --output_dir=runs/starter

See meta_benchmark/cli.py for the flags and docs/meta_benchmark.md.
"""

import sys

from meta_benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main())
