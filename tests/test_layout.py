"""The layout the README describes: the function's path never imports the operator's tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CHILD = """
import json, sys
import index
from cssai.ops import events  # only to build the event; dropped from the check below
body = json.load(open(sys.argv[1]))
event = events.wrap(events.signed(body, "layout-key"), "url")
for name in [m for m in sys.modules if m.startswith("cssai.ops")]:
    del sys.modules[name]
answer = index.main_handler(event, None)
print(json.dumps({"status": answer["statusCode"], "ops": sorted(m for m in sys.modules if m.startswith("cssai.ops"))}))
"""


def test_handling_a_callback_imports_nothing_from_the_operators_tools(tmp_path: Path) -> None:
    env = {**os.environ, "CSS_CALLBACK_KEYS": "layout-key", "LOCAL_SINK_DIR": str(tmp_path / "out")}
    run = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "samples" / "349_smart_highlight.json")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "ops": []}


def test_index_does_not_import_the_cli() -> None:
    source = (ROOT / "index.py").read_text(encoding="utf-8")
    assert "from cssai.entry import main_handler" in source
    cli = (ROOT / "cssai" / "ops" / "cli.py").read_text(encoding="utf-8")
    assert "import index" not in cli  # no cycle: the CLI calls cssai.entry
