"""The deploy's settings file (``.env``) for the operator's commands, as the deploy reads it.

``scf deploy`` reads ``.env`` beside serverless.yml; the operator's commands (doctor, setup, streams,
replay, report, send) read the same file when it exists, or the one ``--env-file`` names, with
python-dotenv (the parser the dotenv format is defined by). The process environment wins over the
file, and each command says which file it read.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = Path(".env")


class EnvFileError(Exception):
    """The file cannot be read, or the parser is not installed (one line for the operator)."""


def load(path: str | None) -> tuple[Path, int] | None:
    """Put the file's variables that the environment does not already set into it.

    Returns (the file, how many variables it set), or None when no file was named and ``.env`` is absent.
    """
    file = Path(path) if path else DEFAULT
    if not file.is_file():
        if path:
            raise EnvFileError(f"--env-file {path}: no such file")
        return None
    try:
        from dotenv import dotenv_values
    except ImportError:
        raise EnvFileError(f"reading {file} needs python-dotenv: .venv/bin/pip install -r requirements-ops.txt") \
            from None
    try:
        values = dotenv_values(file)
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read {file}: {exc}") from None
    added = 0
    for name, value in values.items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
            added += 1
    return file, added
