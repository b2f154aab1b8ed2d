"""``python -m yolov11``: the CLI (yolov11/cli/)."""

import sys

from yolov11.cli.main import build_parser, main, run_command

__all__ = ["build_parser", "main", "run_command"]

if __name__ == "__main__":
    sys.exit(main())
