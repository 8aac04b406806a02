"""SCF entry point (``index.main_handler``) and the operator's command line (``python index.py``)."""

from __future__ import annotations

import sys

from cssai.entry import main_handler

__all__ = ["main_handler"]

if __name__ == "__main__":
    from cssai.ops.cli import main

    sys.exit(main(sys.argv[1:]))
