"""Dataset loaders: the real MSD subset summary file, and fixtures written in each true format.

- MSD per-track HDF5 files are written with h5py in the compound dtypes copied
  from the real summary file (rows copied from it too, so they are real songs);
- Lakh MIDI files are real MIDI written by pretty_midi;
- FMA's tracks.csv is written by pandas with its two header rows (and the
  index-name row), as the real file is; MP3s are encoded by libsndfile;
- GTZAN is a folder of short WAVs.
"""
import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pretty_midi
import pytest
import soundfile as sf

from musicgeo_utils import audio_datasets, dataset_base, lakh_midi, msd, render, uci_gom
from musicgeo_utils import datasets as ds

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "msd"
SUMMARY = FIXTURES / "subset_msd_summary_file.h5"


# --------------------------------------------------------------------------- MSD summary (real)


def test_real_subset_summary_file():
    dataset_base.verify_checksum(SUMMARY)
    songs = msd.load_msd_summary(SUMMARY)
    assert list(songs.columns) == msd.MSD_SONG_COLUMNS
    assert len(songs) == 10000 and songs["track_id"].is_unique
    assert songs["track_id"].str.fullmatch(r"TR[0-9A-Z]{16}").all()
    located = songs[songs["lat"].notna()]
    assert len(located) == 3742 and located["artist_id"].nunique() == 1412
    assert located["lat"].between(-90, 90).all() and located["lon"].between(-180, 180).all()
    assert songs["lon"].notna().sum() == 3742
    muse = songs.set_index("track_id").loc["TRACCUS128F92E1FEB"]
    assert (muse["artist_name"], muse["title"], muse["artist_location"]) == ("Muse", "Bedroom Acoustics", "UK")
    assert (muse["lat"], muse["lon"]) == (54.31407, -2.23001)


def test_summary_file_that_is_not_msd_is_a_clear_error(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("metadata/songs", data=np.zeros(2, dtype=[("title", "S8")]))
    with pytest.raises(msd.MSDFormatError, match=r"other.h5: metadata/songs has no field\(s\) artist_id"):
        msd.load_msd_summary(path)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(msd.MSDFormatError, match="text.h5: not a readable HDF5 file"):
        msd.load_msd_summary(tmp_path / "text.h5")


# --------------------------------------------------------------------------- Lakh MIDI + MSD


def real_rows(track_ids):
    """The real summary-file rows of these tracks, per table (metadata, analysis, musicbrainz)."""
    with h5py.File(SUMMARY, "r") as handle:
        ids = [t.decode() for t in handle["analysis/songs"]["track_id"]]
        index = [ids.index(t) for t in track_ids]
        return {table: handle[f"{table}/songs"][:][index] for table in ("metadata", "analysis", "musicbrainz")}


def write_track_h5(path: Path, rows: dict, i: int, drop=()) -> None:
    """One per-track MSD file: each table one row, in the real compound dtype (minus ``drop``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        for table, data in rows.items():
            row = data[i:i + 1]
            if drop and table == "metadata":
                keep = [n for n in row.dtype.names if n not in drop]
                row = np.array([tuple(row[0][n] for n in keep)],
                               dtype=[(n, row.dtype.fields[n][0]) for n in keep])
            handle.create_dataset(f"{table}/songs", data=row)


def write_midi(path: Path, tracks: dict, qpm: float = 100.0) -> None:
    """A real MIDI file: ``tracks`` maps (program, is_drum) to (pitch, start s, end s) rows."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    for (program, drum), notes in tracks.items():
        instrument = pretty_midi.Instrument(program=program, is_drum=drum)
        instrument.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in notes]
        midi.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))


QUARTER = 0.6  # seconds per quarter note at 100 qpm
#: A melody (violin) over a lower accompaniment (bass, with a chord) and drums.
MELODY = [(72 + i % 5, (1 + i) * QUARTER, (2 + i) * QUARTER) for i in range(20)]
BASS = [(40, i * QUARTER, (i + 1) * QUARTER) for i in range(20)] + [(43, QUARTER, 2 * QUARTER)]
DRUMS = [(36, i * QUARTER, i * QUARTER + 0.1) for i in range(20)]

GOOD, SECOND = "TRACCUS128F92E1FEB", "TRACCVS12903D014F8"      # Muse (UK), Enthroned (Belgium)
NO_LOCATION, NO_FIELDS = "TRACCVZ128F4291A8A", "TRACCMH128F428E4CD"  # Mastodon (NaN), Los Chichos
NO_MIDI, BAD_H5 = "TRACCSW128F148C7C3", "TRACCWJ12903CC5BA9"


@pytest.fixture
def lmd_root(tmp_path):
    """An lmd_matched / lmd_matched_h5 / match_scores.json tree with one fault per track."""
    ids = [GOOD, SECOND, NO_LOCATION, NO_FIELDS, NO_MIDI]
    rows = real_rows(ids)
    best, worse = "a" * 32, "b" * 32
    scores = {GOOD: {worse: 0.61, best: 0.83}, SECOND: {"c" * 32: 0.7}, NO_LOCATION: {"d" * 32: 0.9},
              NO_FIELDS: {"e" * 32: 0.9}, NO_MIDI: {"f" * 32: 0.9}, BAD_H5: {"0" * 32: 0.9}}
    (tmp_path / "match_scores.json").write_text(json.dumps(scores))
    write_midi(lakh_midi.lmd_midi_path(tmp_path, GOOD, best),
               {(40, False): MELODY, (32, False): BASS, (0, True): DRUMS})
    write_midi(lakh_midi.lmd_midi_path(tmp_path, GOOD, worse), {(0, False): BASS})
    write_midi(lakh_midi.lmd_midi_path(tmp_path, SECOND, "c" * 32), {(0, True): DRUMS})  # drums only: no notes
    for track_id, md5 in ((NO_LOCATION, "d"), (NO_FIELDS, "e"), (BAD_H5, "0")):
        write_midi(lakh_midi.lmd_midi_path(tmp_path, track_id, md5 * 32), {(0, False): BASS})
    for i, track_id in enumerate(ids):
        write_track_h5(lakh_midi.lmd_h5_path(tmp_path, track_id), rows, i,
                       drop=("artist_latitude", "artist_longitude") if track_id == NO_FIELDS else ())
    bad = lakh_midi.lmd_h5_path(tmp_path, BAD_H5)
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # an HDF5 signature, then nothing
    return tmp_path


def test_lmd_paths_follow_the_track_id():
    # The 3rd, 4th and 5th characters (msd_id[2], [3], [4] in the LMD tutorial's msd_id_to_dirs).
    assert lakh_midi.msd_id_dirs("TRABCDE128F425B14B") == Path("A/B/C")
    assert lakh_midi.lmd_midi_path("/r", "TRAAAGR128F425B14B", "1d9d") == \
        Path("/r/lmd_matched/A/A/A/TRAAAGR128F425B14B/1d9d.mid")
    assert lakh_midi.lmd_h5_path("/r", "TRAAAGR128F425B14B") == Path("/r/lmd_matched_h5/A/A/A/TRAAAGR128F425B14B.h5")
    with pytest.raises(ValueError, match="not an MSD track id"):
        lakh_midi.msd_id_dirs("TRAAAG")


def test_lmd_msd_keeps_best_match_with_location_and_counts_the_rest(lmd_root):
    data = ds.load_dataset("lmd_msd", lmd_root)
    tracks = data.tracks.set_index("track_id")
    assert sorted(tracks.index) == [GOOD, SECOND]
    good = tracks.loc[GOOD]
    assert (good["md5"], good["match_score"], good["n_matches"]) == ("a" * 32, 0.83, 2)
    assert (good["artist"], good["title"], good["lat"], good["lon"]) == ("Muse", "Bedroom Acoustics", 54.31407, -2.23001)
    assert tracks.loc[SECOND, "artist"] == "Enthroned"
    assert len(data.skips) == 4 and data.info == {"matched_tracks": 6, "kept": 2}
    reasons = dict(zip(data.skips["item"].map(lambda s: Path(s).stem), data.skips["reason"]))
    assert reasons[NO_LOCATION].startswith("no artist location: artist_latitude/artist_longitude are NaN")
    assert "has no field(s) artist_latitude, artist_longitude" in reasons[NO_FIELDS]
    assert f"{NO_FIELDS}.h5" in reasons[NO_FIELDS]
    assert reasons["f" * 32].startswith("MIDI file missing") and NO_MIDI in reasons["f" * 32]
    assert "not a readable HDF5 file" in reasons[BAD_H5]


def test_lmd_notes_take_the_melody_in_quarter_notes_and_render(lmd_root):
    data = ds.load_dataset("lmd_msd", lmd_root)
    bad_midi = lmd_root / "broken.mid"
    bad_midi.write_bytes(b"MThd not really")
    tracks = pd.concat([data.tracks, pd.DataFrame({"tune_id": ["broken"], "midi_path": [str(bad_midi)]})])
    notes, skips = lakh_midi.lmd_notes(tracks)
    assert list(notes.columns) == ["tune_id", "pitch", "onset", "duration"]
    melody = notes[notes["tune_id"] == GOOD]
    # The violin (highest median pitch), not the bass or drums; 0.6 s = one quarter at 100 qpm;
    # its first note (at 0.6 s) becomes onset 0.
    assert melody["pitch"].tolist() == [p for p, _, _ in MELODY]
    np.testing.assert_allclose(melody["onset"], np.arange(20), atol=1e-3)
    np.testing.assert_allclose(melody["duration"], 1.0, atol=1e-3)
    assert sorted(skips["item"].map(lambda s: Path(s).name)) == ["broken.mid", "c" * 32 + ".mid"]
    reasons = " | ".join(skips["reason"])
    assert "no notes" in reasons and "unreadable MIDI" in reasons
    # "all" keeps every non-drum note, top note of each chord: the bass's chord note (43) loses to 72+.
    everything, _ = lakh_midi.lmd_notes(data.tracks, melody="all")
    assert len(everything[everything["tune_id"] == GOOD]) == 21
    rendered = render.render_many(data.tracks, notes, render.RenderParams(clip_seconds=2.0), seed=0, n_jobs=1)
    assert rendered.set_index("tune_id").loc[GOOD, "status"] == "rendered"


def test_match_scores_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="match_scores.json: no such file"):
        lakh_midi.read_match_scores(tmp_path / "match_scores.json")
    (tmp_path / "match_scores.json").write_text("{not json")
    with pytest.raises(ValueError, match="match_scores.json: not valid JSON"):
        lakh_midi.read_match_scores(tmp_path / "match_scores.json")


# --------------------------------------------------------------------------- GTZAN


@pytest.fixture
def gtzan_root(tmp_path):
    rng = np.random.default_rng(0)
    for genre in ("blues", "jazz"):
        for i in range(10):
            path = tmp_path / "genres" / genre / f"{genre}.{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, 0.1 * rng.standard_normal(2205).astype(np.float32), 22050)
    (tmp_path / "genres" / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (tmp_path / "genres" / "jazz" / "jazz.00055.wav").write_bytes(b"")
    (tmp_path / "genres" / "blues" / "notes.txt").write_text("not audio")
    return tmp_path


def test_gtzan_reads_headers_and_counts_faults(gtzan_root):
    with pytest.warns(UserWarning, match="not artist-filtered"):
        data = ds.load_dataset("gtzan", gtzan_root, seed=3, split="random")
    assert len(data.tracks) == 20 and data.tracks["genre"].value_counts().to_dict() == {"blues": 10, "jazz": 10}
    first = data.tracks.iloc[0]
    assert (first["track_id"], first["sample_rate"], first["duration_s"]) == ("blues.00000", 22050, 0.1)
    reasons = dict(zip(data.skips["item"].map(lambda s: Path(s).name), data.skips["reason"]))
    assert set(reasons) == {"jazz.00054.wav", "jazz.00055.wav", "notes.txt"}
    assert reasons["jazz.00054.wav"].startswith("unreadable audio") and "known fault" in reasons["jazz.00054.wav"]
    assert reasons["jazz.00055.wav"].startswith("empty audio file (0 bytes)")
    assert reasons["notes.txt"].startswith("not a GTZAN file name")
    # Seeded, stratified: 10 per genre -> 2 test, 2 val, 6 train; the same seed gives the same split.
    counts = data.tracks.groupby(["genre", "split"]).size().unstack()
    assert counts.loc["blues"].to_dict() == {"test": 2, "train": 6, "val": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = audio_datasets.load_gtzan(gtzan_root, seed=3, split="random")
        other = audio_datasets.load_gtzan(gtzan_root, seed=4, split="random")
    assert again.tracks["split"].tolist() == data.tracks["split"].tolist()
    assert other.tracks["split"].tolist() != data.tracks["split"].tolist()


def test_gtzan_filtered_split_is_the_published_one():
    split = audio_datasets.gtzan_filtered_split()
    assert split.value_counts().to_dict() == {"train": 443, "test": 290, "val": 197}
    genres = split.index.str.split(".").str[0]
    assert sorted(set(genres)) == list(audio_datasets.GTZAN_GENRES)
    # Spot checks against torchaudio's lists; 70 excerpts (e.g. Sturm's repeated country.00008) are in none.
    assert (split["blues.00000"], split["blues.00012"], split["blues.00029"]) == ("val", "test", "train")
    assert (split["jazz.00054"], split["reggae.00099"], split["rock.00090"]) == ("train", "val", "test")
    assert "country.00008" not in split.index and "jazz.00033" not in split.index
    assert split.groupby(genres).size().to_dict() == {
        "blues": 100, "classical": 99, "country": 98, "disco": 93, "hiphop": 92, "jazz": 87, "metal": 91,
        "pop": 84, "reggae": 86, "rock": 100}


def test_gtzan_filtered_keeps_listed_files_and_counts_the_rest(gtzan_root):
    # Listed in the filtered split: blues.00000-00009 (val), jazz.00000/00001 (train), 00002-00009 (val).
    # Unlisted: jazz.00033 and country.00008.
    for name in ("jazz/jazz.00033.wav", "country/country.00008.wav"):
        path = gtzan_root / "genres" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.zeros(2205, dtype=np.float32), 22050)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the filtered split needs no warning
        data = ds.load_dataset("gtzan", gtzan_root, seed=3)
    assert "fault-filtered" in data.info["split"]
    assert set(data.tracks["track_id"]) == {f"{g}.{i:05d}" for g in ("blues", "jazz") for i in range(10)}
    by_id = data.tracks.set_index("track_id")["split"]
    assert by_id["jazz.00001"] == "train" and by_id["blues.00003"] == "val" and by_id.notna().all()
    reasons = dict(zip(data.skips["item"].map(lambda s: Path(s).name), data.skips["reason"]))
    assert reasons["jazz.00033.wav"].startswith("not in the fault-filtered split")
    assert reasons["country.00008.wav"].startswith("not in the fault-filtered split")
    # A listed but broken file is still an audio skip (jazz.00054 is in the filtered train list).
    assert reasons["jazz.00054.wav"].startswith("unreadable audio")
    assert data.skip_counts()["not in the fault-filtered split"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        everything = audio_datasets.load_gtzan(gtzan_root, seed=3, split="random")
    assert len(everything.tracks) == len(data.tracks) + 2
    with pytest.raises(ValueError, match="split must be one of"):
        audio_datasets.load_gtzan(gtzan_root, split="artist")


def test_gtzan_split_file(gtzan_root, tmp_path):
    split = tmp_path / "filtered.csv"
    pd.DataFrame({"track_id": ["blues.00000", "jazz.00001"], "split": ["test", "train"]}).to_csv(split, index=False)
    data = audio_datasets.load_gtzan(gtzan_root, split_file=split)
    by_id = data.tracks.set_index("track_id")["split"]
    assert by_id["blues.00000"] == "test" and by_id["jazz.00001"] == "train" and by_id.isna().sum() == 18
    pd.DataFrame({"track_id": ["blues.00000"]}).to_csv(split, index=False)
    with pytest.raises(ValueError, match=r"filtered.csv: missing column\(s\) \['split'\]"):
        audio_datasets.load_gtzan(gtzan_root, split_file=split)
    pd.DataFrame({"track_id": ["blues.00000"], "split": ["training"]}).to_csv(split, index=False)
    with pytest.raises(ValueError, match=r"filtered.csv: split must be one of .*'training'"):
        audio_datasets.load_gtzan(gtzan_root, split_file=split)
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no such split file"):
        audio_datasets.load_gtzan(gtzan_root, split_file=tmp_path / "nowhere.csv")
    with pytest.raises(ValueError, match="either split='random' or split_file"):
        audio_datasets.load_gtzan(gtzan_root, split="random", split_file=split)


# --------------------------------------------------------------------------- FMA


def write_tracks_csv(path: Path, rows: list[tuple], drop=None) -> None:
    """``tracks.csv`` as FMA ships it: two header rows, then the index name row."""
    columns = pd.MultiIndex.from_tuples([("album", "title"), ("artist", "latitude"), ("artist", "longitude"),
                                         ("artist", "name"), ("set", "split"), ("set", "subset"),
                                         ("track", "genre_top"), ("track", "title")])
    frame = pd.DataFrame([r[1:] for r in rows], index=pd.Index([r[0] for r in rows], name="track_id"),
                         columns=columns)
    if drop:
        frame = frame.drop(columns=[drop])
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)


FMA_ROWS = [  # id, album, artist latitude, longitude, artist, split, subset, genre_top, title
    (2, "AWOL", 40.058324, -74.405661, "AWOL", "training", "small", "Hip-Hop", "Food"),
    (3, "AWOL", 40.058324, -74.405661, "AWOL", "training", "medium", "Hip-Hop", "Electric Ave"),
    (5, "AWOL", 40.058324, -74.405661, "AWOL", "validation", "small", "Hip-Hop", "This World"),
    (10, "Constant Hitmaker", 39.952335, -75.163789, "Kurt Vile", "test", "small", "Pop", "Freeway"),
    (140, "Make Believe", None, None, "Alec K. Redfearn", "training", "small", "Folk", "Queen Of The Wires"),
    (141, "Make Believe", None, None, "Alec K. Redfearn", "training", "small", None, "Ohio"),
    (99134, "x", None, None, "y", "training", "small", "Rock", "no audio"),
    (150, "z", None, None, "Nowhere Band", "test", "small", "Rock", "no place"),
    (151, "z", 123.0, 12.0, "Off The Map", "test", "small", "Rock", "bad place"),
]


@pytest.fixture
def fma_root(tmp_path):
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv", FMA_ROWS)
    audio = tmp_path / "fma_small"
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(22050) / 44100)).astype(np.float32)
    for track_id in (2, 141, 150, 151):
        path = audio_datasets.fma_audio_path(audio, track_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone, 44100, format="MP3")
    audio_datasets.fma_audio_path(audio, 10).parent.mkdir(parents=True, exist_ok=True)
    audio_datasets.fma_audio_path(audio, 10).write_bytes(b"")
    audio_datasets.fma_audio_path(audio, 140).write_bytes(bytes(range(256)) * 8)  # not an MP3 stream
    return tmp_path


def test_fma_small_with_official_split_and_counted_skips(fma_root):
    assert audio_datasets.fma_audio_path("/a", 2) == Path("/a/000/000002.mp3")
    data = ds.load_dataset("fma", fma_root, subset="small")
    assert data.tracks[["track_id", "title", "artist", "genre", "split"]].values.tolist() == \
        [["000002", "Food", "AWOL", "Hip-Hop", "train"], ["000150", "no place", "Nowhere Band", "Rock", "test"],
         ["000151", "bad place", "Off The Map", "Rock", "test"]]
    # The artist's location is read; tracks without one are kept and counted, not dropped.
    located = data.tracks.set_index("track_id")
    assert (located.loc["000002", "lat"], located.loc["000002", "lon"]) == (40.058324, -74.405661)
    assert located.loc[["000150", "000151"], ["lat", "lon"]].isna().all().all()
    assert data.info["without_location"] == 2 and data.info["invalid_location"] == 1
    reasons = dict(zip(data.skips["item"], data.skips["reason"]))
    assert set(reasons) == {"000005", "000010", "000140", "000141", "099134"}  # 000003 is medium only
    assert reasons["000005"].startswith("audio file missing")
    assert reasons["000010"].startswith("empty audio file (0 bytes)")
    assert reasons["000140"].startswith("unreadable audio")
    assert reasons["000141"] == "no genre_top for track 000141"
    assert reasons["099134"].startswith("known fault in fma_small: no audio")
    medium = audio_datasets.load_fma(fma_root, subset="medium", check_audio=False)
    assert "000003" in set(medium.skips["item"])  # medium includes small, its audio is elsewhere


def test_fma_csv_missing_column_names_file_and_column(tmp_path):
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv", FMA_ROWS, drop=("track", "genre_top"))
    with pytest.raises(ValueError, match=r"tracks.csv: missing column\(s\) track/genre_top"):
        audio_datasets.load_fma(tmp_path)
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv", FMA_ROWS, drop=("artist", "latitude"))
    with pytest.raises(ValueError, match=r"tracks.csv: missing column\(s\) artist/latitude"):
        audio_datasets.load_fma(tmp_path)


# --------------------------------------------------------------------------- UCI, interface, downloads


def test_uci_gom_through_the_interface(tmp_path):
    rng = np.random.default_rng(1)
    lines = [",".join(f"{v:.4f}" for v in [*rng.normal(size=68), lat, lon])
             for lat, lon in [(52.5, 13.4), (39.91, 116.38), (52.5, 13.4)]]
    (tmp_path / uci_gom.UCI_GOM_FILES[False]).write_text("\n".join(lines) + "\n")
    data = ds.load_dataset("uci_gom", tmp_path)
    assert data.features.shape == (3, 68) and list(data.tracks["track_id"]) == ["uci-0001", "uci-0002", "uci-0003"]
    assert data.tracks["lat"].tolist() == [52.5, 39.91, 52.5] and data.tracks["region"].nunique() == 2


def test_unknown_dataset_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'msd'"):
        ds.load_dataset("msd")
    with pytest.raises(FileNotFoundError, match="Lakh MIDI folder not found"):
        ds.load_dataset("lmd_msd", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no GTZAN"):
        ds.load_dataset("gtzan", tmp_path)


def test_download_refuses_unverifiable_files_before_any_network():
    with pytest.raises(ValueError, match="lmd_msd: no published checksum"):
        ds.download("lmd_msd", "/nonexistent/never-created")
    assert not Path("/nonexistent/never-created").exists()
    with pytest.raises(ValueError, match="no download for 'uci_gom'"):
        ds.download("uci_gom")
    assert all(digest for _, _, digest in ds.DOWNLOADS["fma"])


def test_folk_wraps_the_manifest():
    """One small real collection (185 tunes), so the cold parse takes seconds."""
    data = ds.load_dataset("folk", collections=["miscFolk"])
    assert data.tracks["track_id"].equals(data.tracks["tune_id"]) and len(data.tracks) == 185
    assert {"lat", "lon", "split"} <= set(data.tracks.columns) and list(data.skips.columns) == dataset_base.SKIP_COLUMNS
