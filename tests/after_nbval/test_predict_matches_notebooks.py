"""`musicgeo-predict` on raw test audio answers what the notebooks saved (after nbval, in `make test`).

A fresh process, no cache to read (its data folder is an empty temporary one;
the bundle is passed explicitly), one test tune per style: the region model's
decoded point and country must be those that notebook 03 (or 04, when its
geographic CRNN or that CRNN's product with notebook 03's region classifier won
on validation) saved for the tune, and the style those
that notebook 04 saved. Coordinates agree to 1e-6 degrees (a few
centimetres): a model scoring one clip and the same model scoring the whole
test matrix may round the last bits of a dot product differently.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import config, georesults, manifest, novelty, predict

PROFILE, SEED = "small", 0


@pytest.fixture(scope="module")
def saved():
    bundle_path = predict.default_bundle_path(PROFILE)
    assert bundle_path.is_file(), f"{bundle_path} missing: notebook 04 did not run (nbval must run first)"
    bundle = predict.read_bundle(bundle_path)
    # notebook 03's classifier alone: its saved predictions; a CRNN or its product with that classifier: notebook 04's
    source = "baselines" if bundle.region.kind == "sklearn" and bundle.region_partner is None else "crnn-geo"
    regions, _, _ = georesults.load_baseline_results(config.data_path("results", f"{source}-{PROFILE}-{SEED}.parquet"))
    regions = regions[regions["method"] == bundle.region.name].set_index("tune_id")
    assert len(regions), f"no saved predictions of {bundle.region.name!r} in {source}-{PROFILE}-{SEED}.parquet"
    styles = pd.read_parquet(config.data_path("results", f"style-predictions-{PROFILE}-{SEED}.parquet")).set_index("tune_id")
    assert (styles["model"] == bundle.style.name).all()
    return bundle_path, regions, styles


def test_predict_in_a_fresh_process_answers_as_the_notebooks(saved, tmp_path):
    bundle_path, regions, styles = saved
    tunes, _ = manifest.profile_features(PROFILE, SEED)
    test = tunes[tunes["tune_id"].isin(regions.index) & tunes["tune_id"].isin(styles.index)]
    picked = test.sort_values("tune_id").groupby("style").head(1)
    assert len(picked) >= 5
    out = tmp_path / "answers.csv"
    env = {**os.environ, "MUSICGEO_DATA": str(tmp_path / "empty-data")}
    run = subprocess.run([sys.executable, "-m", "musicgeo_utils.predict", *picked["audio_path"], "--bundle",
                          str(bundle_path), "--csv", str(out), "--no-progress"],
                         capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not (tmp_path / "empty-data").exists() or not any((tmp_path / "empty-data").rglob("*.np*"))
    answers = pd.read_csv(out, keep_default_na=False).assign(tune_id=picked["tune_id"].to_numpy()).set_index("tune_id")
    expected = regions.loc[answers.index]
    np.testing.assert_allclose(answers["lat"], expected["pred_lat"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(answers["lon"], expected["pred_lon"], rtol=0, atol=1e-6)
    assert answers["country"].tolist() == expected["pred_country"].tolist()
    assert answers["style"].tolist() == styles.loc[answers.index, "style"].tolist()
    np.testing.assert_allclose(answers["style_probability"], styles.loc[answers.index, "probability"], rtol=1e-9)
    # notebook 04 calibrated the out-of-distribution check into the bundle, and predict ran it on every file
    assert predict.read_bundle(bundle_path).novelty is not None
    assert answers["novelty"].notna().all() and answers["novelty_reason"].isin(novelty.STATISTICS).all()
