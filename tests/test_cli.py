"""The README's first command: run a sample on the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, clip_key, sample


def test_cli_runs_every_sample_on_the_local_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CSS_CALLBACK_KEYS", "LOCAL_SINK_DIR")}
    samples = sorted(str(p) for p in (ROOT / "samples").glob("*.json"))
    assert len(samples) == 17  # one per event type CSS sends
    for shape in ("apigw", "url", "direct"):
        run = subprocess.run(
            [sys.executable, str(ROOT / "index.py"), *samples, "--shape", shape],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert "dev key" in run.stderr
        if shape == "direct":  # a direct invocation has no URL, so no token: relay callbacks are refused
            assert run.returncode == 1 and run.stdout.count("HTTP 200") == 16, run.stderr
            assert "314_relay.json: refused (HTTP 401: a relay callback (314) is never signed" in run.stdout
        else:
            assert run.returncode == 0, run.stderr
            assert "dev token" in run.stderr
            assert run.stdout.count("HTTP 200") == 17
    cos = tmp_path / "out" / "cos"
    assert (cos / clip_key(sample(349))).is_file()
    for folder in ("streams", "alerts/push", "recordings", "alerts/quality", "snapshots", "moderation", "relay",
                   "transcripts", "summaries", "highlights", "reports/quality"):
        assert any((cos / folder).rglob("*.json")), folder
    assert (tmp_path / "out" / "cls" / "records.jsonl").read_text().count("\n") == 24
