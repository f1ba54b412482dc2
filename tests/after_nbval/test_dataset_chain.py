"""``make report DATASET=...`` on tiny, format-true copies: every notebook runs or says why not.

After nbval, so the melodies the GTZAN copy is rendered from come from a warm
cache (``tools/make_tiny_datasets.py`` reads the folk profile's tunes). A run's
results go to ``data/results/<dataset>/``, its reports to a temporary folder.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from musicgeo_utils import config, uci_gom

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _outputs(path: Path, cell_id: str | None = None) -> str:
    """The text outputs of a notebook's code cells (of the one with ``cell_id``, if given)."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" and cell_id in (None, c.get("id"))
                     for o in c.outputs)


def _chain(tmp_path: Path, dataset: str, data_root: Path) -> tuple[Path, dict, str]:
    """Run every notebook on ``dataset`` (profile tiny) and build its report: (executed dir, timings, page)."""
    env = {**os.environ, "MUSICGEO_REPORTS": str(tmp_path / "reports")}
    out = tmp_path / "reports" / dataset / "executed"
    subprocess.run([sys.executable, "-m", "musicgeo_utils.pipeline", "run", "--profile", "tiny", "--dataset", dataset,
                    "--data-root", str(data_root), "--out", str(out), *NOTEBOOKS], cwd=ROOT, env=env, check=True)
    page = tmp_path / "reports" / dataset / "report.html"
    subprocess.run([sys.executable, "-m", "musicgeo_utils.report", str(out), str(page)], cwd=ROOT, env=env, check=True)
    return out, json.loads((out / "timings.json").read_text())["seconds"], page.read_text(encoding="utf-8")


def _not_run(seconds: dict) -> set[str]:
    return {name for name, value in seconds.items() if isinstance(value, str)}


@pytest.mark.xdist_group("gtzan-chain")  # the two chains on different workers (make after-nbval: -n 2)
def test_the_whole_chain_runs_on_a_tiny_gtzan_copy(tmp_path):
    subprocess.run([sys.executable, "tools/make_tiny_datasets.py", str(tmp_path), "--datasets", "gtzan",
                    "--per-class", "8"], cwd=ROOT, check=True)
    out, seconds, page = _chain(tmp_path, "gtzan", tmp_path / "gtzan")
    assert _not_run(seconds) == {"03_regression_baselines.ipynb", "06_geo_evaluation.ipynb"}, seconds
    assert "needs locations" in seconds["03_regression_baselines.ipynb"]
    # the sections GTZAN cannot feed say so in one line; the genre task and the map ran
    assert "skipped: dataset 'gtzan' has no scores (notes)" in _outputs(out / "02_feature_extraction.ipynb")
    trained = _outputs(out / "04_crnn_training.ipynb")
    assert "style CRNN (mel)" in trained and "validation_macro_f1" in trained  # the style choice's table
    # the random split beside it: its table when gtzan_random has run in this data folder, else how to run it
    splits = _outputs(out / "04_crnn_training.ipynb", cell_id="gtzan-splits")
    assert "run `make report DATASET=gtzan_random" in splits or "random split" in splits, splits
    assert (tmp_path / "reports" / "gtzan" / "maps" / "music_map.html").is_file()
    assert (config.DATA_DIR / "results" / "gtzan" / "crnn-style-tiny-0.npz").is_file()
    assert "Not run:" in page


@pytest.mark.xdist_group("uci-chain")
def test_uci_gom_runs_the_geographic_baselines_on_its_published_features(tmp_path):
    # The release's layout (comma-separated, 68 features, then the capital's lat, lon), features
    # drawn around one centre per capital so that the place is learnable: 20 tracks each.
    capitals = np.array([(39.91, 116.38), (52.5, 13.4), (53.33, -6.25), (12.65, -8.0), (-12.05, -77.05),
                         (35.68, 139.69), (30.05, 31.25), (28.6, 77.2), (37.98, 23.73), (-1.28, 36.82)])
    rng, which = np.random.default_rng(0), np.repeat(np.arange(len(capitals)), 20)
    X = rng.normal(0, 1, (len(capitals), 68))[which] + rng.normal(0, 1, (len(which), 68))
    np.savetxt(tmp_path / uci_gom.UCI_GOM_FILES[False], np.column_stack([X, capitals[which]]), fmt="%.6f",
               delimiter=",")
    out, seconds, page = _chain(tmp_path, "uci_gom", tmp_path)
    assert _not_run(seconds) == {"02_feature_extraction.ipynb", "04_crnn_training.ipynb", "05_embedding.ipynb",
                                 "06_geo_evaluation.ipynb"}, seconds
    assert "needs audio" in seconds["04_crnn_training.ipynb"]
    assert "profile 'tiny': 200 tunes, 10 countries" in _outputs(out / "01_data_matching.ipynb")
    baselines = _outputs(out / "03_regression_baselines.ipynb")
    assert "X: 200 clips x 68 standardised features" in baselines
    assert "200 tracks x 68 features, 10 countries; 8 methods x 10 folds" in baselines  # the peer check ran
    assert (config.DATA_DIR / "results" / "uci_gom" / "baselines-tiny-0.parquet").is_file()
    assert "Not run:" in page
