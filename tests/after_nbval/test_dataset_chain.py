"""``make report DATASET=gtzan`` on a tiny, format-true GTZAN copy: every notebook runs or says why not.

After nbval, so the melodies the copy is rendered from come from a warm cache
(``tools/make_tiny_datasets.py`` reads the folk profile's tunes). The run's
results go to ``data/results/gtzan/``, its reports to a temporary folder.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from musicgeo_utils import config

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_the_whole_chain_runs_on_a_tiny_gtzan_copy(tmp_path):
    env = {**os.environ, "MUSICGEO_REPORTS": str(tmp_path / "reports")}
    subprocess.run([sys.executable, "tools/make_tiny_datasets.py", str(tmp_path), "--datasets", "gtzan",
                    "--per-class", "8"], cwd=ROOT, env=env, check=True)
    out = tmp_path / "reports" / "gtzan" / "executed"
    subprocess.run([sys.executable, "-m", "musicgeo_utils.pipeline", "run", "--profile", "tiny", "--dataset", "gtzan",
                    "--data-root", str(tmp_path / "gtzan"), "--out", str(out), *NOTEBOOKS],
                   cwd=ROOT, env=env, check=True)
    page = tmp_path / "reports" / "gtzan" / "report.html"
    subprocess.run([sys.executable, "-m", "musicgeo_utils.report", str(out), str(page)], cwd=ROOT, env=env, check=True)

    seconds = json.loads((out / "timings.json").read_text())["seconds"]
    not_run = {name for name, value in seconds.items() if isinstance(value, str)}
    assert not_run == {"03_regression_baselines.ipynb", "06_geo_evaluation.ipynb"}, seconds
    assert "needs locations" in seconds["03_regression_baselines.ipynb"]
    # the sections GTZAN cannot feed say so in one line; the genre task and the map ran
    assert "skipped: dataset 'gtzan' has no scores (notes)" in _outputs(out / "02_feature_extraction.ipynb")
    trained = _outputs(out / "04_crnn_training.ipynb")
    assert "style CRNN (mel)" in trained and "validation macro-F1" in trained
    assert (tmp_path / "reports" / "gtzan" / "maps" / "music_map.html").is_file()
    assert (config.DATA_DIR / "results" / "gtzan" / "crnn-style-tiny-0.npz").is_file()
    assert "Not run:" in page.read_text(encoding="utf-8")
