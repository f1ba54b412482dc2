"""tools/test_ledger.py: stages run in order, failures are reported, after-nbval stages wait for nbval."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LEDGER = Path(__file__).resolve().parent.parent / "tools" / "test_ledger.py"


def run(tmp_path, *stages):
    out = tmp_path / "ledger.tsv"
    done = subprocess.run([sys.executable, str(LEDGER), "--out", str(out), *stages],
                          capture_output=True, text=True, timeout=60)
    return done, out.read_text().splitlines()


def test_all_stages_pass(tmp_path):
    done, rows = run(tmp_path, "first:10:true", "nbval:10:true", "later (after nbval):10:true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.split("\t")[0] for r in rows[1:]] == ["first", "nbval", "later (after nbval)"]
    assert all(r.endswith("passed") for r in rows[1:])
    assert "=== test ledger" in done.stdout and "total" in done.stdout


def test_a_failed_stage_fails_the_run_and_after_nbval_stages_are_not_run(tmp_path):
    done, rows = run(tmp_path, "unit:10:false", "nbval:10:exit 3", "later (after nbval):10:true")
    assert done.returncode == 1
    results = dict(r.split("\t")[0::3] for r in rows[1:])
    assert results == {"unit": "FAILED (exit 1)", "nbval": "FAILED (exit 3)",
                       "later (after nbval)": "not run (nbval failed)"}


def test_a_stage_over_budget_is_flagged_not_failed(tmp_path):
    done, rows = run(tmp_path, "slow:0:sleep 0.2")
    assert done.returncode == 0
    assert rows[1].endswith("passed, over budget")
