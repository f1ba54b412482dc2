"""Dataset loaders: the packaged MSD files, and UCI GOM fixtures in the true format."""
import ast
import shutil
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from musicgeo_utils import audio_datasets, dataset_base, datasets, geomethods, lakh_midi, msd, uci_gom

# A few capitals (degrees) as in the UCI file, which gives each track its country's capital.
CAPITALS = {"Beijing": (39.91, 116.38), "Berlin": (52.5, 13.4), "Dublin": (53.33, -6.25), "Bamako": (12.65, -8.0)}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny fits: thread start-up on a shared 2-core machine costs more than it saves."""
    with threadpool_limits(1):
        yield


# --------------------------------------------------------------------------- MSD


def test_full_msd_artist_list_has_13849_artists():
    frame = msd.load_msd_artist_locations()
    assert len(frame) == 13849 and frame["artist_id"].nunique() == 13849
    assert frame.attrs["layout"] == "full" and frame.attrs["n_skipped"] == 0
    assert list(frame.columns) == msd.MSD_COLUMNS and frame["track_id"].isna().all()
    assert frame["lat"].between(-90, 90).all() and frame["lon"].between(-180, 180).all()
    first = frame.iloc[0]
    assert (first["artist_id"], first["lat"], first["lon"]) == ("ARZGXZG1187B9B56B6", -16.96595, -61.14804)
    assert (first["artist_name"], first["location"]) == ("Endless Blue", "Santa Cruz")
    assert not frame["location"].str.match(r"^\s|.*\s$").any()  # 48 padded location texts, stripped


def test_subset_msd_artist_list_has_track_ids():
    frame = msd.load_msd_artist_locations(msd.MSD_SUBSET_ARTIST_LOCATIONS)
    assert len(frame) == 1402 and frame.attrs["layout"] == "subset"
    assert frame["track_id"].str.fullmatch(r"TR[0-9A-Z]{16}").all() and frame["location"].isna().all()
    assert tuple(frame.iloc[0][["artist_id", "track_id", "artist_name"]]) == \
        ("AR00A6H1187FB5402A", "TRAKWGL12903CB8529", "The Meatmen")


def test_packaged_files_match_their_checksums():
    for name in ("artist_location.txt", "subset_artist_location.txt", "LICENSE", "README"):
        dataset_base.verify_checksum(msd.MSD_DIR / name)


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    copy = tmp_path / "artist_location.txt"
    shutil.copy(msd.MSD_ARTIST_LOCATIONS, copy)
    shutil.copy(msd.MSD_DIR / "SHA256SUMS", tmp_path / "SHA256SUMS")
    assert len(msd.load_msd_artist_locations(copy)) == 13849
    with open(copy, "a") as handle:
        handle.write("\nAR00000000000000000<SEP>1<SEP>2<SEP>x<SEP>y")
    with pytest.raises(ValueError, match="artist_location.txt: SHA-256 mismatch"):
        msd.load_msd_artist_locations(copy)


def test_malformed_msd_lines_are_skipped_counted_and_reported(tmp_path):
    path = tmp_path / "subset_artist_location.txt"
    good = "AR00A6H1187FB5402A<SEP>42.73383<SEP>-84.59334<SEP>TRAKWGL12903CB8529<SEP>The Meatmen"
    lines = [good,
             "AR00MBZ1187B9B5DB1<SEP>north<SEP>-90.05202<SEP>TRAFCPP128F426EC01<SEP>Memphis Minnie",
             "AR01IP11187B9AF5D2<SEP>28.33268<SEP>-80.73486<SEP>Call To Preserve",
             "AR01VU31187B997DA0<SEP>143.0026<SEP>-83.7826<SEP>TRAKZMB128F427B44F<SEP>Grand Funk",
             good.replace("AR00A6H", "AR00A6J")]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"AR01W2D1187FB5912F<SEP>\xff\n")
    with pytest.warns(UserWarning, match="skipped 4 malformed line"):
        frame = msd.load_msd_artist_locations(path)
    assert len(frame) == 2 and frame.attrs["n_skipped"] == 4
    skips = msd.skips_table(frame)
    assert skips["line"].tolist() == [2, 3, 4, 6]
    reasons = " | ".join(skips["reason"])
    for expected in ("not numbers", "4 fields instead of 5", "out of range", "UTF-8"):
        assert expected in reasons


# --------------------------------------------------------------------------- UCI


def write_uci_fixture(path, n=60, n_features=68, seed=0):
    """``n`` tracks in the UCI layout: features clustered by capital, then its lat, lon."""
    rng = np.random.default_rng(seed)
    capitals = np.array(list(CAPITALS.values()))
    which = np.arange(n) % len(capitals)
    centres = rng.normal(0.0, 2.0, (len(capitals), n_features))
    X = centres[which] + rng.normal(0.0, 1.0, (n, n_features))
    np.savetxt(path, np.column_stack([X, capitals[which]]), fmt="%.6f", delimiter=",")
    return X, capitals[which]


def test_load_uci_gom_reads_the_true_layout(tmp_path):
    for n_features in uci_gom.UCI_GOM_FEATURE_COUNTS:
        path = tmp_path / f"gom_{n_features}.txt"
        X_true, coords = write_uci_fixture(path, n_features=n_features)
        X, lat, lon = uci_gom.load_uci_gom(path)
        assert X.shape == (60, n_features) and X.columns[0] == "feature_001"
        assert np.allclose(X.to_numpy(), X_true, atol=1e-6)
        assert np.allclose(np.c_[lat, lon], coords)
    regions = uci_gom.uci_gom_regions(lat, lon)
    assert len(set(regions)) == len(CAPITALS) and regions[0] == "39.9100,116.3800"


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows.__setitem__(4, rows[4] + ",1.0"), r"line 5: 71 columns, but the file's first line has 70"),
    (lambda rows: rows.__setitem__(6, ",".join([rows[6].split(",")[0], "abc", *rows[6].split(",")[2:]])),
     r"line 7, column 2: 'abc' is not a number"),
    (lambda rows: rows.__setitem__(2, ",".join(rows[2].split(",")[:-2] + ["95.0", "0.0"])),
     r"line 3: latitude/longitude 95.0, 0.0 out of range"),
    (lambda rows: rows.__setitem__(0, ",".join(rows[0].split(",")[1:])), r"line 1: 69 columns"),
])
def test_malformed_uci_file_names_file_and_line(tmp_path, edit, message):
    path = tmp_path / "default_features_1059_tracks.txt"
    write_uci_fixture(path)
    rows = path.read_text().splitlines()
    edit(rows)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="default_features_1059_tracks.txt, " + message):
        uci_gom.load_uci_gom(path)


def test_evaluate_uci_gom_cross_validates_every_method(tmp_path):
    path = tmp_path / "default_features_1059_tracks.txt"
    write_uci_fixture(path)
    table = uci_gom.evaluate_uci_gom(path, n_folds=3, seed=0, n_boot=50,
                                     methods=geomethods.default_methods(seed=0, n_jobs=1, n_estimators=10))
    assert len(table) == 8 and (table["n"] == 60).all() and (table["n_countries"] == 4).all()
    assert table["mean_km"].is_monotonic_increasing  # the figure compared with Zhou et al.
    by_method = table.set_index("method")
    # The features identify the capital, so classifying beats predicting one place for all.
    assert by_method.loc["region classifier (logistic regression)", "mean_km"] < \
        by_method.loc["constant: spherical mean", "mean_km"] / 2
    assert by_method.loc["region classifier (logistic regression)", "country_accuracy"] > 0.8
    assert table["params"].str.count(r"\{").eq(3).all()  # chosen per fold
    assert table["fold_mean_km_std"].notna().all()
    again = uci_gom.evaluate_uci_gom(path, n_folds=3, seed=0, n_boot=50, methods=[geomethods.KNNGeo()])
    assert again.loc[0, "mean_km"] == by_method.loc["k nearest neighbours", "mean_km"]



def test_datasets_re_exports_every_public_loader_name():
    """The notebooks call ``datasets.<name>``; the loaders now live one concept a module."""
    for module in (dataset_base, msd, lakh_midi, audio_datasets, uci_gom):
        tree = ast.parse(Path(module.__file__).read_text())
        defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        defined += [target.id for n in tree.body if isinstance(n, ast.Assign) for target in n.targets]
        defined += [n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)]
        for name in (n for n in defined if not n.startswith("_")):
            assert getattr(datasets, name, None) is getattr(module, name), f"datasets.{name}"
