"""A run's dataset: what it offers, where its outputs go, its tunes, and the %%needs cell magic."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import config, runs


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path / "reports")
    return tmp_path


def test_the_folk_default_keeps_todays_paths_and_another_dataset_gets_its_own(folders):
    folk, gtzan = runs.Run(), runs.Run("gtzan", profile="tiny", seed=2)
    assert folk.results_path("style") == folders / "data" / "results" / "style-small-0.parquet"
    assert folk.models_dir() == folders / "data" / "models" / "small"
    assert folk.reports_path("maps", "m.html") == folders / "reports" / "maps" / "m.html"
    assert gtzan.results_path("crnn-style", ".npz") == folders / "data" / "results" / "gtzan" / "crnn-style-tiny-2.npz"
    assert gtzan.models_dir() == folders / "data" / "models" / "gtzan" / "tiny"
    assert gtzan.reports_dir("maps") == folders / "reports" / "gtzan" / "maps"


def test_offers_and_require_name_the_dataset_and_what_it_lacks():
    gtzan, fma = runs.Run("gtzan"), runs.Run("fma")
    assert runs.Run().offers("notes") and not gtzan.offers("locations") and fma.offers("locations")
    assert gtzan.label == "genre" and gtzan.missing("notes", "catalogue") == ["notes"]
    uci = runs.Run("uci_gom")
    assert uci.missing("audio", "locations") == ["audio"] and uci.label == "country"
    with pytest.raises(runs.NotOffered, match="needs audio, which dataset 'uci_gom' does not offer"):
        uci.require("audio", what="notebook 04")
    with pytest.raises(runs.NotOffered, match="notebook 03 needs locations and notes, which dataset 'gtzan'"):
        gtzan.require("locations", "notes", what="notebook 03")
    fma.require("locations")  # offered: no error
    with pytest.raises(ValueError, match="unknown capability"):
        gtzan.offers("lyrics")
    with pytest.raises(ValueError, match="no notebook chain"):
        runs.Run("million_song")
    with pytest.raises(ValueError, match="unknown profile"):
        runs.Run(profile="huge")


def _tracks(n_per=6):
    rows = [{"track_id": f"{g}.{i:05d}", "genre": g, "split": s, "audio_path": f"/x/{g}{i}.wav"}
            for g in ("blues", "jazz") for i, s in enumerate(["train", "train", "val", "test"] * n_per)]
    return pd.DataFrame(rows)


def test_audio_tunes_have_the_common_columns_and_sample_per_label_and_split():
    tunes = runs.audio_tunes(_tracks(), "gtzan", config.Profile("t", per_stratum=3, clip_seconds=5, epochs=1), seed=0)
    assert tunes.columns[:len(runs.TUNE_COLUMNS)].tolist() == runs.TUNE_COLUMNS
    counts = tunes.groupby(["style", "split"]).size()
    assert counts.to_dict() == {(g, s): 3 for g in ("blues", "jazz") for s in ("test", "train", "val")}
    assert tunes["lat"].isna().all() and (tunes["country"] == "").all()
    again = runs.audio_tunes(_tracks(), "gtzan", config.Profile("t", 3, 5, 1), seed=0)
    other = runs.audio_tunes(_tracks(), "gtzan", config.Profile("t", 3, 5, 1), seed=1)
    assert again.equals(tunes) and not other["tune_id"].equals(tunes["tune_id"])
    everything = runs.audio_tunes(_tracks(), "gtzan", config.Profile("t", None, 5, 1), seed=0)
    assert len(everything) == len(_tracks())
    with pytest.raises(ValueError, match="lack column.*genre"):
        runs.audio_tunes(_tracks().drop(columns="genre"), "gtzan", config.get_profile("tiny"), 0)


def test_needs_magic_runs_or_skips_a_cell_and_passes_errors_on(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    runs.use("gtzan", "", "tiny", 0)
    shell.run_cell("%%needs locations\nran = 'geo'")
    assert "ran" not in shell.user_ns
    assert "skipped: dataset 'gtzan' has no locations" in capsys.readouterr().out
    shell.run_cell("%%needs catalogue\nran = np_value = 41 + 1")
    assert shell.user_ns["ran"] == 42
    shell.run_cell("%%needs audio -notes\nwithout = 'scores'")
    assert shell.user_ns["without"] == "scores"
    runs.use("folk")
    shell.run_cell("%%needs audio -notes\nfolk_ran = True")
    assert "folk_ran" not in shell.user_ns
    assert "skipped: this cell is for datasets without notes; dataset 'folk' has them" in capsys.readouterr().out
    result = shell.run_cell("%%needs notes locations\n1 / 0")
    assert isinstance(result.error_in_exec, ZeroDivisionError)  # an error in the cell fails it
    np.testing.assert_equal(shell.user_ns["ran"], 42)


def test_located_keeps_the_rows_with_a_place_and_the_folk_table_as_it_is():
    tunes = pd.DataFrame({"tune_id": ["a", "b", "c"], "lat": [53.3, np.nan, 40.7], "lon": [-6.3, 2.0, -73.9]})
    assert runs.has_location(tunes).tolist() == [True, False, True]
    kept = runs.located(tunes)
    assert kept["tune_id"].tolist() == ["a", "c"] and kept.index.tolist() == [0, 1]
    everywhere = tunes.dropna()
    assert runs.located(everywhere) is everywhere  # every row located: the very table, nothing recomputed


def test_geo_tunes_are_the_folk_profile_or_the_located_items_with_features(monkeypatch):
    monkeypatch.setattr(runs.Run, "tunes", lambda self: "folk tunes")
    monkeypatch.setattr(runs.Run, "features", lambda self, located=False: (f"located={located}", None))
    assert runs.Run("folk", profile="tiny").geo_tunes() == "folk tunes"
    assert runs.Run("fma", profile="tiny").geo_tunes() == "located=True"


def test_gtzan_splits_side_by_side_from_what_each_run_wrote(folders):
    filtered = runs.Run("gtzan", "/data/gtzan", "tiny", 1)
    random = filtered.split_twin()
    assert random == runs.Run("gtzan_random", "/data/gtzan", "tiny", 1) and random.split_twin() == filtered
    assert runs.Run().split_twin() is None and runs.Run("fma").split_twin() is None
    with pytest.raises(ValueError, match="dataset 'folk' has no other split"):
        runs.compare_splits(runs.Run())
    pd.DataFrame({"model": ["style CRNN (mel)", "logistic regression (summary features, C=1)"],
                  "features": ["mel spectrogram", "summary features"],
                  "accuracy": [0.51, 0.55], "macro_f1": [0.49, 0.53], "n": [290, 290]}
                 ).to_parquet(filtered.results_path("style"))
    with pytest.raises(FileNotFoundError, match=r"dataset 'gtzan_random' yet; run `make report "
                                                r"DATASET=gtzan_random DATA_ROOT=/data/gtzan PROFILE=tiny SEED=1` first"):
        runs.compare_splits(filtered)
    pd.DataFrame({"model": ["style CRNN (mel)", "logistic regression (summary features, C=0.01)"],
                  "features": ["mel spectrogram", "whole score"],
                  "accuracy": [0.79, 0.9], "macro_f1": [0.78, 0.87], "n": [150, 150]}
                 ).to_parquet(random.results_path("style"))
    both = runs.compare_splits(filtered)
    assert list(both.columns.get_level_values(0).unique()) == ["filtered split", "random split"]
    assert both.loc["mel spectrogram", ("random split", "macro_f1")] == 0.78
    assert both.loc["mel spectrogram", ("filtered split", "n")] == 290
    assert both.loc["summary features", ("filtered split", "model")].endswith("C=1)")
    assert np.isnan(both.loc["summary features", ("random split", "accuracy")])
    assert np.isnan(both.loc["whole score", ("filtered split", "macro_f1")])
    assert list(runs.compare_splits(random).columns.get_level_values(0).unique()) == ["random split", "filtered split"]
    with pytest.raises(ValueError, match="missing column"):
        runs.compare_splits(filtered, columns=("model", "top_3_accuracy"))
