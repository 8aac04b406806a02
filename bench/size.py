"""Deployable size: the SCF package (deploy/build.sh) beside one with the full tencentcloud SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT

CACHE = ROOT / "bench" / ".cache"


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def package_mb() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        subprocess.run(["bash", str(ROOT / "deploy" / "build.sh"), str(out)], check=True, capture_output=True,
                       env={**os.environ, "CHECK_DEPLOY_ENV": "0"})
        return tree_bytes(out) / 1e6


def full_sdk_mb() -> float:
    """The full tencentcloud-sdk-python installed alone (cached: it is a large download)."""
    target = CACHE / "full-sdk"
    if not (target / ".complete").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
             "tencentcloud-sdk-python"],
            check=True, capture_output=True,
        )
        (target / ".complete").write_text("")
    return tree_bytes(target) / 1e6
