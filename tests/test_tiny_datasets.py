"""tools/make_tiny_datasets.py: tiny GTZAN, FMA and Lakh MIDI/MSD copies that the real loaders read.

The tool runs in-process on one small real collection (miscFolk, 185 tunes, a cold
parse of a few seconds) with 4 clips per class and 3-second clips, twice with the
same seed (once serial, once in two processes: the files must be byte-identical).
"""
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgeo_utils import audio_datasets, config, lakh_midi, msd, runs
from musicgeo_utils import datasets as ds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
try:
    import make_tiny_datasets as tiny
finally:
    sys.path.remove(str(ROOT / "tools"))

PER_CLASS = 4
ARGS = ["--per-class", str(PER_CLASS), "--collections", "miscFolk", "--clip-seconds", "3"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two runs with seed 0 (serial, then two processes) and their output folders."""
    first, second = tmp_path_factory.mktemp("tiny-a"), tmp_path_factory.mktemp("tiny-b")
    assert tiny.main([str(first), "--seed", "0", "--jobs", "1", *ARGS]) == 0
    assert tiny.main([str(second), "--seed", "0", "--jobs", "2", *ARGS]) == 0
    return first, second


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_gtzan_both_splits_give_every_genre_train_val_test(made):
    root = made[0] / "gtzan"
    data = ds.load_dataset("gtzan", root)  # the fault-filtered split, the default
    assert data.skips.empty and "fault-filtered" in data.info["split"]
    counts = data.tracks.groupby(["genre", "split"]).size().unstack()
    assert sorted(counts.index) == list(audio_datasets.GTZAN_GENRES)
    assert counts.to_dict("list") == {"test": [1] * 10, "train": [2] * 10, "val": [1] * 10}
    # Every file id is in the filtered lists, with the split the list gives it.
    filtered = audio_datasets.gtzan_filtered_split()
    assert (data.tracks["split"] == data.tracks["track_id"].map(filtered)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random split warns that it is not artist-filtered
        random = ds.load_dataset("gtzan", root, split="random", seed=5)
    assert (random.tracks.groupby("genre")["split"].nunique() == 3).all() and len(random.tracks) == 40
    info = sf.info(data.tracks["audio_path"].iloc[0])
    assert (info.samplerate, info.channels, info.subtype, info.format) == (22050, 1, "PCM_16", "WAV")
    assert (data.tracks["duration_s"] == 3.0).all()


def spectral_centroid(path: str) -> float:
    audio, rate = sf.read(path, dtype="float32")
    power = np.abs(np.fft.rfft(audio)) ** 2
    return float((np.fft.rfftfreq(len(audio), 1 / rate) * power).sum() / power.sum())


def test_gtzan_genres_are_audibly_different(made):
    """Synth bass two octaves down (hip-hop) sits far below the violin family (classical)."""
    data = ds.load_dataset("gtzan", made[0] / "gtzan")
    centroid = {g: [spectral_centroid(p) for p in rows["audio_path"]] for g, rows in data.tracks.groupby("genre")}
    assert max(centroid["hiphop"]) < min(centroid["classical"])
    provenance = pd.read_csv(made[0] / "gtzan" / tiny.PROVENANCE)
    for genre, rows in provenance.groupby("label"):
        style = tiny.GTZAN_STYLES[genre]
        assert set(rows["program"]) <= set(style.programs)
        assert rows["qpm"].between(*style.qpm).all()
    assert provenance["tune_id"].is_unique and provenance["tune_id"].str.startswith("miscFolk/").all()


def test_fma_tracks_csv_genres_splits_and_locations(made):
    root = made[0] / "fma"
    data = ds.load_dataset("fma", root)
    assert data.skips.empty
    counts = data.tracks.groupby(["genre", "split"]).size().unstack()
    assert sorted(counts.index) == sorted(tiny.FMA_STYLES)
    assert counts.to_dict("list") == {"test": [1] * 8, "train": [2] * 8, "val": [1] * 8}
    # One train artist per genre has no location: kept, counted.
    assert data.info["without_location"] == 8 and data.tracks["lat"].isna().sum() == 8
    located = data.tracks.dropna(subset=["lat"])
    for genre, rows in located.groupby("genre"):
        _, lat, lon = tiny.FMA_SCENES[genre]
        assert (rows["lat"] - lat).abs().max() < 1 and (rows["lon"] - lon).abs().max() < 2
    # Artists are split-pure, as in FMA's official split.
    assert (data.tracks.groupby("artist")["split"].nunique() == 1).all()
    raw = pd.read_csv(root / "fma_metadata" / "tracks.csv", header=[0, 1], index_col=0)
    assert list(raw.columns) == tiny.FMA_TRACKS_COLUMNS and len(raw.columns) == 52
    assert raw.index.name == "track_id" and len(raw) == 32 + 12  # + metadata-only medium/large rows
    assert sorted(raw[("set", "subset")].unique()) == ["large", "medium", "small"]
    genres = pd.read_csv(root / "fma_metadata" / "genres.csv")
    assert list(genres.columns) == ["genre_id", "#tracks", "parent", "title", "top_level"]
    info = sf.info(data.tracks["audio_path"].iloc[0])
    assert (info.format, info.samplerate, info.channels) == ("MP3", 44100, 1)
    assert Path(data.tracks["audio_path"].iloc[0]).relative_to(root).parts[0] == "fma_small"


def test_lmd_msd_has_real_msd_ids_and_locations(made):
    root = made[0] / "lmd_msd"
    data = ds.load_dataset("lmd_msd", root)
    summary = msd.load_msd_summary(tiny.MSD_SUMMARY).set_index("track_id")
    tracks = data.tracks.set_index("track_id")
    assert len(tracks) == 2 * PER_CLASS  # miscFolk has US and GB tunes only
    real = summary.loc[tracks.index]
    assert (real["lat"] == tracks["lat"]).all() and (real["lon"] == tracks["lon"]).all()
    assert (real["artist_name"] == tracks["artist"]).all() and (real["title"] == tracks["title"]).all()
    # The real track without a location is skipped by the loader, as most LMD tracks are.
    assert data.info == {"matched_tracks": 2 * PER_CLASS + 1, "kept": 2 * PER_CLASS}
    assert data.skips["reason"].str.startswith("no artist location").all() and len(data.skips) == 1
    assert summary.loc[data.skips["item"].iloc[0], "lat"] != summary.loc[data.skips["item"].iloc[0], "lat"]
    scores = json.loads((root / "match_scores.json").read_text())
    assert set(scores) == set(tracks.index) | set(data.skips["item"])
    assert (tracks["n_matches"] == 2).any()  # some tracks match a second, lower-scoring MIDI
    for track_id, row in tracks.iterrows():
        midi = Path(row["midi_path"])
        assert midi == lakh_midi.lmd_midi_path(root, track_id, row["md5"])
        assert hashlib.md5(midi.read_bytes()).hexdigest() == row["md5"]  # named by its md5, as in the LMD
    # Each melody is a folk tune of the artist's country.
    provenance = pd.read_csv(root / tiny.PROVENANCE).drop_duplicates("track_id").set_index("track_id")
    countries = provenance.loc[tracks.index, "country_code"]
    assert sorted(countries.unique()) == ["GB", "US"] and countries.value_counts().eq(PER_CLASS).all()
    collections = provenance.loc[tracks.index, "tune_id"].str.split("/").str[1]
    assert (collections[countries == "US"] == "americanfifeopus").all()
    assert (collections[countries == "GB"] == "northumbrianminstrelsyopus").all()
    notes, skips = lakh_midi.lmd_notes(data.tracks)
    assert skips.empty and set(notes["tune_id"]) == set(tracks.index)
    melodies = tiny.load_melodies(0, collections=["miscFolk"])
    first = tracks.index[0]
    tune = melodies.notes[provenance.loc[first, "tune_id"]]
    assert notes.loc[notes["tune_id"] == first, "pitch"].tolist() == tune[:, 0].astype(int).tolist()


def test_the_notebooks_read_the_lakh_copy_rendered_and_gtzan_with_either_split(made, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")  # rendered clips and features go here
    lmd = runs.Run("lmd_msd", str(made[0] / "lmd_msd"), "tiny", 0)
    tracks = lmd.load().tracks
    assert tracks.groupby("artist_id")["split"].nunique().max() == 1  # no artist in two splits
    assert set(tracks["country"]) == {"United States", "United Kingdom"} and set(tracks["split"]) == {
        "train", "val", "test"}
    tunes, feats = lmd.features(n_jobs=1, located=True)
    assert feats.skips.empty and feats.summary.index.tolist() == tunes["tune_id"].tolist() == sorted(tracks["track_id"])
    assert tunes["audio_path"].str.startswith(str(tmp_path / "data" / "audio" / "midi")).all()
    assert (tunes["style"] == tunes["country"]).all()  # the label the style notebooks learn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random split warns that it is not artist-filtered
        random = runs.Run("gtzan_random", str(made[0] / "gtzan"), "tiny", 5).load()
    filtered = runs.Run("gtzan", str(made[0] / "gtzan"), "tiny", 5).load()
    assert random.info["split"].startswith("random") and "fault-filtered" in filtered.info["split"]
    assert sorted(random.tracks["track_id"]) == sorted(filtered.tracks["track_id"])
    assert not random.tracks.set_index("track_id")["split"].equals(filtered.tracks.set_index("track_id")["split"])


def test_same_seed_same_bytes_other_seed_other_files(made, tmp_path):
    first, second = (digests(folder) for folder in made)
    assert first == second and len(first) > 100
    assert tiny.main([str(tmp_path), "--seed", "1", "--jobs", "1", "--datasets", "gtzan", *ARGS]) == 0
    other = digests(tmp_path)
    assert sorted(k for k in other if k.startswith("gtzan/genres")) != \
        sorted(k for k in first if k.startswith("gtzan/genres"))


def test_rerun_replaces_only_its_own_output(tmp_path, capsys):
    foreign = tmp_path / "gtzan"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("real data")
    assert tiny.main([str(tmp_path), "--datasets", "gtzan", "--jobs", "1", *ARGS]) == 1
    assert f"{foreign}: exists and was not written by this tool" in capsys.readouterr().err
    assert (foreign / "mine.txt").read_text() == "real data" and len(list(tmp_path.iterdir())) == 1
    assert tiny.main([str(tmp_path), "--datasets", "gtzan", "--jobs", "1", "--per-class", "2",
                      "--collections", "miscFolk"]) == 1
    assert "--per-class must be 4-40" in capsys.readouterr().err


def test_bad_msd_summary_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "summary.h5"
    bad.write_text("not hdf5")
    assert tiny.main([str(tmp_path / "out"), "--datasets", "lmd_msd", "--msd-summary", str(bad), *ARGS]) == 1
    assert "summary.h5: not a readable HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "out" / "lmd_msd").exists()
    assert not any(p.name.startswith(".lmd_msd.partial") for p in (tmp_path / "out").iterdir())
