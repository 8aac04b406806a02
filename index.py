"""SCF entry point (``index.main_handler``) and the operator's command line (``python index.py``)."""

from __future__ import annotations

import sys

if __name__ != "__main__":  # SCF imports this module and calls main_handler
    from cssai.entry import main_handler

    __all__ = ["main_handler"]
else:
    try:
        from cssai.ops.cli import main
    except ModuleNotFoundError as missing:  # a bare interpreter: one line, not a traceback
        sys.exit(f"python index.py: the module {missing.name!r} is not installed for {sys.executable}: run "
                 "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt, then .venv/bin/python index.py")
    sys.exit(main(sys.argv[1:]))
