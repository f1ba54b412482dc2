"""uci_gom: folder, file or loaded dataset; hints for missing files; sort by mean km; n_jobs; progress.

Every fixture is in the release's true layout: comma-separated, no header,
68 (or 116) features, then the latitude and longitude of the capital.
"""
import re

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from musicgeo_utils import config, datasets, geomethods, uci_gom

CAPITALS = {"Beijing": (39.91, 116.38), "Berlin": (52.5, 13.4), "Dublin": (53.33, -6.25), "Bamako": (12.65, -8.0)}
DEFAULT, CHROMA = uci_gom.UCI_GOM_FILES[False], uci_gom.UCI_GOM_FILES[True]


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def write_uci(path, counts=None, n_features=68, seed=0):
    """Tracks per capital (``counts``: name -> n), features clustered by capital, then lat, lon."""
    counts = counts or {name: 8 for name in CAPITALS}
    rng = np.random.default_rng(seed)
    coords = np.array([CAPITALS[name] for name, n in counts.items() for _ in range(n)])
    which = np.repeat(np.arange(len(counts)), list(counts.values()))
    X = rng.normal(0.0, 2.0, (len(counts), n_features))[which] + rng.normal(0.0, 1.0, (len(which), n_features))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([X, coords]), fmt="%.6f", delimiter=",")
    return path


class FixedPlace(geomethods.GeoMethod):
    """Predicts one place for every track: scores known in advance."""

    def __init__(self, name, lat, lon):
        self.name, self.lat, self.lon = name, lat, lon

    def _fit(self, X, lat, lon, regions, **params):
        pass

    def _predict(self, X, **params):
        return np.full(len(X), self.lat), np.full(len(X), self.lon)


def quick(**kw):
    """A fast evaluation: kNN only, 3 folds, few bootstrap resamples, silent."""
    return {"n_folds": 3, "seed": 0, "n_boot": 20, "methods": [geomethods.KNNGeo()], "progress": False, **kw}


# --------------------------------------------------------------------------- 1. folder, file or dataset


def test_evaluate_accepts_folder_file_and_loaded_dataset_alike(tmp_path):
    write_uci(tmp_path / DEFAULT)
    from_file = uci_gom.evaluate_uci_gom(tmp_path / DEFAULT, **quick())
    from_folder = uci_gom.evaluate_uci_gom(tmp_path, **quick())  # was IsADirectoryError
    from_dataset = uci_gom.evaluate_uci_gom(datasets.load_dataset("uci_gom", tmp_path), **quick())
    for table in (from_folder, from_dataset):
        pd.testing.assert_frame_equal(table, from_file)
    assert from_folder.attrs["file"] == str(tmp_path / DEFAULT) == from_dataset.attrs["file"]
    assert from_file.loc[0, "n"] == 32 and from_file.loc[0, "n_countries"] == 4


def test_a_folder_with_chroma_reads_the_116_feature_file(tmp_path):
    write_uci(tmp_path / DEFAULT, n_features=68, seed=1)
    write_uci(tmp_path / CHROMA, n_features=116, seed=2)
    assert uci_gom.uci_gom_file(tmp_path) == tmp_path / DEFAULT
    assert uci_gom.uci_gom_file(tmp_path, chroma=True) == tmp_path / CHROMA
    table = uci_gom.evaluate_uci_gom(tmp_path, chroma=True, **quick())
    assert table.attrs["file"] == str(tmp_path / CHROMA)
    data = datasets.load_dataset("uci_gom", tmp_path, chroma=True)
    assert data.features.shape == (32, 116)
    pd.testing.assert_frame_equal(uci_gom.evaluate_uci_gom(data, chroma=True, **quick()), table)
    # chroma=True on 68 features is an error, not a silent 68-feature run.
    with pytest.raises(ValueError, match="chroma=True, but .* has 68 features"):
        uci_gom.evaluate_uci_gom(tmp_path / DEFAULT, chroma=True, **quick())
    with pytest.raises(ValueError, match="chroma=True, but the dataset has 68 features"):
        uci_gom.evaluate_uci_gom(datasets.load_dataset("uci_gom", tmp_path), chroma=True, **quick())


def test_file_in_one_subfolder_of_an_unzipped_release_is_found(tmp_path):
    path = write_uci(tmp_path / "Geographical Original of Music" / DEFAULT)
    assert uci_gom.uci_gom_file(tmp_path) == path
    X, lat, lon = uci_gom.load_uci_gom(tmp_path)
    assert X.shape == (32, 68) and X.attrs["source"] == str(path)
    write_uci(tmp_path / "copy" / DEFAULT)
    with pytest.raises(ValueError, match="2 copies of default_features_1059_tracks.txt"):
        uci_gom.uci_gom_file(tmp_path)


def test_a_loaded_dataset_subset_is_evaluated_on_its_tracks(tmp_path):
    write_uci(tmp_path / DEFAULT)
    data = datasets.load_dataset("uci_gom", tmp_path)
    data.tracks = data.tracks[data.tracks["region"] != uci_gom.uci_gom_regions([12.65], [-8.0])[0]]
    table = uci_gom.evaluate_uci_gom(data, **quick())
    assert table.loc[0, "n"] == 24 and table.loc[0, "n_countries"] == 3
    with pytest.raises(ValueError, match="needs the UCI GOM dataset"):
        uci_gom.evaluate_uci_gom(datasets.Dataset("gtzan", tmp_path, data.tracks), **quick())


# --------------------------------------------------------------------------- 2. hints


def test_missing_folder_or_file_says_where_to_download_and_what_to_put_where(tmp_path):
    nowhere = tmp_path / "nowhere"
    for call in (lambda: datasets.load_dataset("uci_gom", nowhere), lambda: uci_gom.load_uci_gom(nowhere),
                 lambda: uci_gom.evaluate_uci_gom(nowhere, **quick())):
        with pytest.raises(FileNotFoundError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{nowhere}: UCI Geographical Original of Music folder not found; download")
        assert uci_gom.UCI_GOM_URL in message and f"put {DEFAULT} (68 features) in {nowhere}" in message
        assert f"{CHROMA} (116 features) is read with chroma=True" in message
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / DEFAULT}: UCI Geographical Original "
                                                          "of Music file not found; download")):
        uci_gom.evaluate_uci_gom(tmp_path / DEFAULT, **quick())
    # The folder exists and holds the other variant: say which chroma reads it.
    write_uci(tmp_path / DEFAULT)
    with pytest.raises(FileNotFoundError) as caught:
        datasets.load_dataset("uci_gom", tmp_path, chroma=True)
    assert str(caught.value).startswith(f"{tmp_path / CHROMA}: UCI Geographical Original of Music file not "
                                        f"found (it has {DEFAULT}: pass chroma=False to read that); download")
    assert f"put {CHROMA} (116 features) in {tmp_path}" in str(caught.value)


# --------------------------------------------------------------------------- 3. documented names


def test_docstrings_name_both_files_and_how_to_choose_the_chromatic_one():
    assert DEFAULT == "default_features_1059_tracks.txt"
    assert CHROMA == "default_plus_chromatic_features_1059_tracks.txt"
    for function in (uci_gom.uci_gom_file, uci_gom.load_uci_gom, uci_gom.load_uci_gom_dataset,
                     uci_gom.evaluate_uci_gom):
        doc = " ".join(function.__doc__.split())
        assert DEFAULT in doc and CHROMA in doc and "chroma=True" in doc, function.__name__
        assert "116" in doc and "68" in doc, function.__name__


# --------------------------------------------------------------------------- 4. sorted by mean km


def test_table_is_sorted_by_mean_km_with_the_balanced_median_kept(tmp_path):
    # Most tracks from Beijing: always answering Beijing has the lower mean, always
    # answering Berlin the lower balanced median (three of four capitals are European/African).
    write_uci(tmp_path / DEFAULT, counts={"Beijing": 30, "Berlin": 4, "Dublin": 4, "Bamako": 4})
    methods = [FixedPlace("at Berlin", *CAPITALS["Berlin"]), FixedPlace("at Beijing", *CAPITALS["Beijing"])]
    table = uci_gom.evaluate_uci_gom(tmp_path, **quick(methods=methods))
    by = table.set_index("method")
    assert by.loc["at Berlin", "balanced_median_km"] < by.loc["at Beijing", "balanced_median_km"]
    assert list(table["method"]) == ["at Beijing", "at Berlin"]
    assert list(table.columns[:3]) == ["method", "mean_km", "balanced_median_km"]
    assert {"median_km", "country_accuracy", "fold_mean_km_mean", "params", "mean_km_ci_low"} <= set(table)
    assert table.attrs["sorted_by"] == "mean_km" and table.attrs["zhou_2014_mean_km"] == 3113.0
    summary = uci_gom.uci_gom_summary_table(table)
    assert list(summary.index) == ["at Beijing", "at Berlin"]
    assert summary.columns[0] == "mean km (Zhou et al. 2014: 3,113)"
    assert summary.columns[1] == "balanced median km (mean of country medians)"
    assert summary.iloc[0, 0].split()[0] == f"{round(by.loc['at Beijing', 'mean_km'] / 10) * 10:.0f}"


# --------------------------------------------------------------------------- 5. n_jobs and progress


def test_n_jobs_follows_config_unless_given(tmp_path, monkeypatch):
    write_uci(tmp_path / DEFAULT)
    monkeypatch.setenv("MUSICGEO_JOBS", "3")
    assert config.n_jobs() == 3
    seen = []

    def few_methods(seed, n_jobs):  # the default methods, but only one: a fast run
        seen.append(n_jobs)
        return [geomethods.KNNGeo()]

    monkeypatch.setattr(uci_gom, "default_methods", few_methods)
    table = uci_gom.evaluate_uci_gom(tmp_path, **{**quick(), "methods": None})
    assert seen == [3] and table.attrs["n_jobs"] == 3
    uci_gom.evaluate_uci_gom(tmp_path, **{**quick(), "methods": None}, n_jobs=1)
    assert seen == [3, 1]
    # Given methods that leave n_jobs to the config get the run's n_jobs; their own is kept.
    forest, own = (geomethods.RandomForestUnitVector(leaf_sizes=(5,), n_estimators=3),
                   geomethods.RandomForestUnitVector(leaf_sizes=(5,), n_estimators=3, n_jobs=2))
    wrapped = geomethods.OnFeatureSubsets(geomethods.RegionClassifier("forest", leaf_sizes=(5,), n_estimators=3),
                                          {"all": np.arange(68)})
    uci_gom.evaluate_uci_gom(tmp_path, **quick(methods=[forest, own, wrapped]), n_jobs=1)
    assert (forest.n_jobs, own.n_jobs, wrapped.method.n_jobs) == (1, 2, 1)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="n_jobs must be a whole number >= 1"):
            uci_gom.evaluate_uci_gom(tmp_path, **quick(), n_jobs=bad)


def test_progress_reports_a_line_per_method_with_seconds(tmp_path, capsys):
    write_uci(tmp_path / DEFAULT)
    methods = [FixedPlace("at Berlin", *CAPITALS["Berlin"]), geomethods.KNNGeo()]
    lines = []
    table = uci_gom.evaluate_uci_gom(tmp_path, **quick(methods=methods, progress=lines.append), n_jobs=1)
    assert lines[0].startswith(f"UCI GOM: {tmp_path / DEFAULT}: 32 tracks x 68 features, 4 countries; "
                               "2 methods x 3 folds, n_jobs=1")
    assert re.fullmatch(r"  \[1/2\] at Berlin: mean [\d,]+ km; \d+\.\d s elapsed \(total \d+\.\d s elapsed\)",
                        lines[1])
    assert lines[2].startswith("  [2/2] k nearest neighbours: mean ") and len(lines) == 3
    assert set(table.attrs["seconds"]) == {"at Berlin", "k nearest neighbours"}
    assert capsys.readouterr().err == ""  # a callback replaces the printing
    uci_gom.evaluate_uci_gom(tmp_path, **quick(progress=True))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[1].startswith("  [1/1] k nearest neighbours: mean ")
    uci_gom.evaluate_uci_gom(tmp_path, **quick(progress=False))
    assert capsys.readouterr().err == ""
