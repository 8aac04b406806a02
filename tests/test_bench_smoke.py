"""The benchmark's pieces run on a tiny setting (figures come from `python -m bench`, not from here)."""

from __future__ import annotations

from bench import common, scaling, warm
from cssai import runtime


def test_warm_and_scaling_pieces_run() -> None:
    ours, floor = warm.compare(common.sample("349"), runs=2, per_run=3)
    assert ours.median > 0 and floor.median > 0 and ours.low <= ours.median <= ours.high
    took, peak = scaling.one(common.threshold_frames(50), runs=2)
    assert took.median > 0 and peak > 0
    runtime.reset()


def test_generated_events_have_the_requested_size() -> None:
    assert len(common.threshold_frames(7)["frames"]) == 7
    assert len(common.highlight_items(10)["items"]) == 10
    assert len(common.erasing_segments(50)["data"]["subtitle_tmp_res"]) == 50


def test_the_cpu_table_runs_against_servers_in_another_process() -> None:
    from bench import cpu

    text = cpu.table(runs=2, rtts=(0.0,))
    rows = [line for line in text.splitlines() if line.startswith("| 3")]
    assert len(rows) == 4 and all(" ms / " in row for row in rows)
    runtime.reset()


def test_the_share_table_runs_in_a_quota_or_says_it_cannot() -> None:
    """bench.share: figures only from a real 0.2-core quota; elsewhere one plain sentence and no figure."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    run = subprocess.run([sys.executable, "-m", "bench.share", "--runs", "1", "--rtt", "1"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False)
    if run.returncode == 0:
        assert "0.2 of a core" in run.stdout and "| cold: new process → first answer (349) |" in run.stdout
        assert "| warm, fresh event |" in run.stdout
    else:
        assert run.returncode == 1 and "no 0.2-core quota can be set here" in run.stderr and "|" not in run.stdout


def test_the_reconcile_table_runs_in_a_quota_or_says_it_cannot() -> None:
    """bench.reconcile: the timer's ticks with the live API in another process; figures only from a quota."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    run = subprocess.run([sys.executable, "-m", "bench.reconcile", "--runs", "1", "--streams", "3", "--rtt", "1",
                          "--pace", "8"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if run.returncode == 0:
        assert "| not due |" in run.stdout and "| steady run |" in run.stdout and "recovered 6" in run.stdout
    else:
        assert run.returncode == 1 and "no 0.2-core quota can be set here" in run.stderr and "|" not in run.stdout
