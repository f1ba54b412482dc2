"""Audio genre datasets: GTZAN and the Free Music Archive (FMA), read without decoding.

Every audio file's header is checked (:func:`audio_problem`); missing,
empty, unreadable and known-bad files are counted skips. GTZAN has no
official split: the default is the fault-filtered, artist-conditional split
shipped in ``data/gtzan/`` (:data:`GTZAN_FILTERED_SPLIT`), or else a seeded
random split (:func:`split_by_seed`) or a split file (see
:data:`GTZAN_CAVEAT`). FMA's official split is kept, and its artists'
latitude/longitude are read (tracks without a location are kept and counted).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .config import PACKAGE_DATA
from .dataset_base import Dataset, _require_dir, _Skips, default_root, verify_checksum


# =========================================================================== audio headers


def audio_problem(path: str | Path) -> str | None:
    """Why an audio file cannot be used, from its size and header, or ``None``.

    Checks (cheap, no decoding): the file exists, is not empty, and
    ``soundfile.info`` reads a header with at least one frame.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        return f"audio file missing: {path}"
    if path.stat().st_size == 0:
        return f"empty audio file (0 bytes): {path}"
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, ValueError, TypeError) as err:  # LibsndfileError is a RuntimeError
        return f"unreadable audio: {path} ({err})"
    if info.frames <= 0:
        return f"audio file has no samples: {path}"
    return None


def _audio_info(path: Path) -> tuple[float, int]:
    import soundfile

    info = soundfile.info(str(path))
    return info.frames / info.samplerate, int(info.samplerate)


# =========================================================================== GTZAN

#: The ten GTZAN genres (Tzanetakis & Cook 2002).
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                "reggae", "rock")
_GTZAN_NAME = re.compile(r"(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(wav|au)")
#: Files known to be broken in widely used copies (checked again by header anyway).
GTZAN_KNOWN_FAULTS = {
    "jazz.00054.wav": "unreadable in the Kaggle 'genres_original' copy of GTZAN",
}
GTZAN_CAVEAT = (
    "GTZAN has known faults (Sturm 2013, 'The GTZAN dataset: its contents, its faults, their "
    "effects on evaluation'): exact and near repetitions, mislabelings, distortions, and many "
    "excerpts by the same artists, so a random split puts one artist on both sides and inflates "
    "accuracy. The fault-filtered, artist-conditional split (Kereliuk, Sturm & Larsen 2015; "
    "443 train / 197 val / 290 test) is the default (split='filtered'); it leaves out 70 faulty "
    "excerpts.")
#: The fault-filtered, artist-conditional GTZAN split (``track_id,split``; 443 train, 197 val,
#: 290 test), as listed in torchaudio's ``datasets/gtzan.py``: see ``data/gtzan/README.md``.
GTZAN_FILTERED_SPLIT = PACKAGE_DATA / "gtzan" / "filtered_split.csv"
#: Split values accepted in a GTZAN split file.
GTZAN_SPLIT_NAMES = ("train", "val", "test")
#: Skip reason of a file left out by the fault-filtered split.
GTZAN_NOT_FILTERED = "not in the fault-filtered split"


def _gtzan_folder(root: Path) -> Path:
    """``genres/`` (the original tarball) or ``genres_original/`` (the Kaggle copy), or root."""
    for candidate in (root / "genres", root / "genres_original", root / "Data" / "genres_original"):
        if candidate.is_dir():
            return candidate
    if any((root / genre).is_dir() for genre in GTZAN_GENRES):
        return root
    raise FileNotFoundError(f"{root}: no GTZAN 'genres/<genre>/<genre>.000NN.wav' folder found")


def _gtzan_row(path: Path, genre_dir: str) -> tuple[dict | None, str | None]:
    match = _GTZAN_NAME.fullmatch(path.name)
    if not match:
        return None, f"not a GTZAN file name (<genre>.000NN.wav): {path}"
    if match["genre"] != genre_dir:
        return None, f"file name genre {match['genre']!r} differs from its folder {genre_dir!r}: {path}"
    problem = audio_problem(path)
    if problem:
        known = GTZAN_KNOWN_FAULTS.get(path.name)
        return None, f"{problem}" + (f" (known fault: {known})" if known else "")
    seconds, rate = _audio_info(path)
    track_id = path.name.rsplit(".", 1)[0]
    return {"track_id": track_id, "tune_id": track_id, "title": track_id, "artist": None,
            "genre": genre_dir, "audio_path": str(path), "duration_s": round(seconds, 3),
            "sample_rate": rate}, None


def split_by_seed(labels: pd.Series, seed: int, val_fraction: float = 0.15,
                  test_fraction: float = 0.15) -> np.ndarray:
    """A seeded random ``train``/``val``/``test`` label per row, stratified by ``labels``.

    Used where a dataset has no official split; it is NOT artist-filtered.
    """
    rng = np.random.default_rng(seed)
    split = np.empty(len(labels), dtype=object)
    for _, index in sorted(pd.Series(np.arange(len(labels))).groupby(labels.to_numpy()).groups.items()):
        order = rng.permutation(np.asarray(index))
        n_test, n_val = round(len(order) * test_fraction), round(len(order) * val_fraction)
        split[order[:n_test]] = "test"
        split[order[n_test:n_test + n_val]] = "val"
        split[order[n_test + n_val:]] = "train"
    return split


def read_gtzan_split(split_file: str | Path) -> pd.Series:
    """A GTZAN split file (CSV ``track_id, split``) as a Series: track id -> split.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the file when it is
    missing, lacks a column, lists a track twice or holds a split other than
    ``train``/``val``/``test``.
    """
    split_file = Path(split_file)
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file}: no such split file (CSV with track_id, split)")
    table = pd.read_csv(split_file, dtype=str)
    missing = [c for c in ("track_id", "split") if c not in table.columns]
    if missing:
        raise ValueError(f"{split_file}: missing column(s) {missing}; need track_id, split")
    repeated = table.loc[table["track_id"].duplicated(), "track_id"].unique()
    if len(repeated):
        raise ValueError(f"{split_file}: track id(s) listed twice: {list(repeated[:5])}")
    unknown = sorted(set(table["split"].dropna()) - set(GTZAN_SPLIT_NAMES))
    if unknown or table["split"].isna().any():
        raise ValueError(f"{split_file}: split must be one of {GTZAN_SPLIT_NAMES}, "
                         f"found {unknown or ['(empty)']}")
    return table.set_index("track_id")["split"]


def _split_from_file(tracks: pd.DataFrame, split_file: Path) -> np.ndarray:
    """Splits read from a CSV with ``track_id`` and ``split`` columns; unlisted -> ``None``."""
    return tracks["track_id"].map(read_gtzan_split(split_file)).to_numpy(dtype=object)


def gtzan_filtered_split() -> pd.Series:
    """The shipped fault-filtered split (:data:`GTZAN_FILTERED_SPLIT`), checksum-verified."""
    verify_checksum(GTZAN_FILTERED_SPLIT)
    return read_gtzan_split(GTZAN_FILTERED_SPLIT)


#: Values of ``load_gtzan(split=...)``.
GTZAN_SPLITS = ("filtered", "random")


def load_gtzan(root: str | Path | None = None, seed: int = 0, split: str = "filtered",
               split_file: str | Path | None = None) -> Dataset:
    """GTZAN: ``genres/<genre>/<genre>.000NN.wav`` (10 genres x 100, 30 s, 22,050 Hz mono).

    Every file's header is read with ``soundfile.info``: a missing, empty or
    unreadable file, or one with a name that does not fit, is a counted skip.
    ``tracks`` columns: ``track_id`` (``blues.00000``), ``title``, ``artist``
    (unknown: GTZAN ships no artist names), ``genre``, ``audio_path``,
    ``duration_s`` (seconds), ``sample_rate`` (Hz), ``split``.

    ``split``: ``"filtered"`` (default) keeps only the files of the
    fault-filtered, artist-conditional split (:data:`GTZAN_FILTERED_SPLIT`,
    Kereliuk, Sturm & Larsen 2015: 443 train / 197 val / 290 test of the
    1,000 files); any other file is a counted skip with the reason ``not in
    the fault-filtered split``. ``"random"``: every readable file, split
    seeded by ``seed`` and stratified by genre (a warning says it is not
    artist-filtered: see :data:`GTZAN_CAVEAT`). ``split_file`` (CSV
    ``track_id, split``) replaces both: every readable file is kept and files
    it does not list get ``split`` ``None``.
    """
    if split not in GTZAN_SPLITS:
        raise ValueError(f"split must be one of {GTZAN_SPLITS}, not {split!r}")
    if split_file is not None and split == "random":
        raise ValueError("pass either split='random' or split_file, not both")
    root = Path(root) if root is not None else default_root("gtzan")
    folder = _gtzan_folder(_require_dir(root, "GTZAN folder", "unpack genres.tar.gz there"))
    filtered = gtzan_filtered_split() if split == "filtered" and split_file is None else None
    rows, skips = [], _Skips()
    for genre_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(genre_dir.iterdir()):
            track_id = path.name.rsplit(".", 1)[0]
            if filtered is not None and _GTZAN_NAME.fullmatch(path.name) and track_id not in filtered.index:
                skips.add(path, f"{GTZAN_NOT_FILTERED}: {path}")
                continue
            row, reason = _gtzan_row(path, genre_dir.name)
            if row is not None:
                rows.append(row)
            else:
                skips.add(path, reason)
    tracks = pd.DataFrame(rows, columns=["track_id", "tune_id", "title", "artist", "genre",
                                         "audio_path", "duration_s", "sample_rate"])
    if split_file is not None:
        tracks["split"], how = _split_from_file(tracks, Path(split_file)), f"from {split_file}"
    elif filtered is not None:
        tracks["split"] = tracks["track_id"].map(filtered).to_numpy(dtype=object)
        how = "fault-filtered, artist-conditional (Kereliuk, Sturm & Larsen 2015)"
    else:
        warnings.warn("GTZAN: seeded random split, not artist-filtered. " + GTZAN_CAVEAT, stacklevel=2)
        tracks["split"], how = split_by_seed(tracks["genre"], seed), f"random, seed {seed}"
    return Dataset("gtzan", root, tracks, skips.frame(), info={"split": how, "caveat": GTZAN_CAVEAT})


# =========================================================================== FMA

#: Columns of ``fma_metadata/tracks.csv`` (two header rows) that the loader needs.
FMA_COLUMNS = {("track", "title"): "title", ("artist", "name"): "artist",
               ("track", "genre_top"): "genre", ("set", "split"): "fma_split",
               ("set", "subset"): "subset", ("artist", "latitude"): "lat",
               ("artist", "longitude"): "lon"}
#: Nested subsets: small is inside medium, medium inside large.
FMA_SUBSETS = ("small", "medium", "large")
#: The official split's names -> the names used across this package.
FMA_SPLIT_NAMES = {"training": "train", "validation": "val", "test": "test"}
#: fma_small tracks with no or almost no audio (mdeff/fma issues #8, #41, #44 and the
#: FMA wiki's known issues): skipped and counted without opening them.
FMA_SMALL_KNOWN_BAD = {
    "098565": "known fault in fma_small: shorter than 30 s, near-empty audio (mdeff/fma #8)",
    "098567": "known fault in fma_small: shorter than 30 s, near-empty audio (mdeff/fma #8)",
    "098569": "known fault in fma_small: shorter than 30 s, near-empty audio (mdeff/fma #8)",
    "099134": "known fault in fma_small: no audio (mdeff/fma #41, #44)",
    "108925": "known fault in fma_small: no audio (mdeff/fma #41, #44)",
    "133297": "known fault in fma_small: no audio (mdeff/fma #41, #44)",
}


def fma_audio_path(audio_dir: str | Path, track_id: int | str) -> Path:
    """``<audio_dir>/NNN/NNNNNN.mp3``: the 6-digit zero-padded id, its first 3 digits as folder."""
    tid = f"{int(track_id):06d}"
    return Path(audio_dir) / tid[:3] / f"{tid}.mp3"


def read_fma_tracks(path: str | Path) -> pd.DataFrame:
    """``tracks.csv`` of ``fma_metadata`` (two header rows, index ``track_id``), needed columns only.

    Returns columns ``title, artist, genre, fma_split, subset, lat, lon``
    indexed by the integer track id; ``lat``/``lon`` are the artist's
    ``artist/latitude``, ``artist/longitude`` in degrees, NaN where the artist
    has no location. A missing file, or one that lacks a needed column,
    raises an error naming the file and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (unzip fma_metadata.zip)")
    try:
        raw = pd.read_csv(path, header=[0, 1], index_col=0, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: not an FMA tracks.csv with two header rows ({err})") from None
    missing = [f"{a}/{b}" for a, b in FMA_COLUMNS if (a, b) not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                         "(tracks.csv has two header rows, e.g. track/genre_top, set/split)")
    frame = raw[list(FMA_COLUMNS)].copy()
    frame.columns = list(FMA_COLUMNS.values())
    try:
        frame.index = frame.index.astype(int)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: track ids (first column) must be integers") from None
    for column in ("lat", "lon"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _fma_location(lat: float, lon: float) -> tuple[float, float, bool]:
    """(lat, lon, invalid): NaN for a missing location; ``invalid`` for one out of range."""
    if not (np.isfinite(lat) and np.isfinite(lon)):
        return np.nan, np.nan, False
    if abs(lat) > 90 or abs(lon) > 180:
        return np.nan, np.nan, True
    return float(lat), float(lon), False


def _fma_row(track_id: int, meta, audio_dir: Path, check_audio: bool) -> tuple[dict | None, str | None]:
    tid = f"{track_id:06d}"
    path = fma_audio_path(audio_dir, track_id)
    if tid in FMA_SMALL_KNOWN_BAD:
        return None, f"{FMA_SMALL_KNOWN_BAD[tid]}: {path}"
    if not isinstance(meta.genre, str) or not meta.genre:
        return None, f"no genre_top for track {tid}"
    problem = audio_problem(path) if check_audio else (None if path.is_file() else f"audio file missing: {path}")
    if problem:
        return None, problem
    lat, lon, invalid = _fma_location(meta.lat, meta.lon)
    return {"track_id": tid, "tune_id": tid, "title": meta.title, "artist": meta.artist,
            "genre": meta.genre, "split": FMA_SPLIT_NAMES.get(meta.fma_split, meta.fma_split),
            "subset": meta.subset, "lat": lat, "lon": lon, "invalid_location": invalid,
            "audio_path": str(path)}, None


def load_fma(root: str | Path | None = None, subset: str = "small",
             check_audio: bool = True) -> Dataset:
    """The Free Music Archive (Defferrard et al. 2017) for genre models and the music map.

    Reads ``<root>/fma_metadata/tracks.csv`` (two header rows) and keeps the
    tracks of ``subset`` (``small`` 8,000 tracks / 8 genres; subsets nest, so
    ``medium`` includes ``small``), with ``genre_top`` as ``genre`` and the
    official split (``training/validation/test`` -> ``train/val/test``).
    Audio is ``<root>/fma_<subset>/NNN/NNNNNN.mp3``. Known-bad files
    (:data:`FMA_SMALL_KNOWN_BAD`), missing, empty or unreadable mp3s
    (header read with ``soundfile.info`` when ``check_audio``) and tracks
    without a top genre are counted skips.

    ``lat``/``lon`` are the artist's location (``artist/latitude``,
    ``artist/longitude``, degrees). Many FMA artists have none: such tracks
    are kept with NaN and counted in ``info["without_location"]`` (of which
    ``info["invalid_location"]`` had a value out of range, set to NaN).
    """
    if subset not in FMA_SUBSETS:
        raise ValueError(f"subset must be one of {FMA_SUBSETS}, not {subset!r}")
    root = Path(root) if root is not None else default_root("fma")
    _require_dir(root, "FMA folder", "unzip fma_metadata.zip and fma_<subset>.zip there")
    meta = read_fma_tracks(root / "fma_metadata" / "tracks.csv")
    meta = meta[meta["subset"].isin(FMA_SUBSETS[: FMA_SUBSETS.index(subset) + 1])]
    audio_dir = root / f"fma_{subset}"
    rows, skips = [], _Skips()
    for track_id, row in zip(meta.index, meta.itertuples(index=False)):
        record, reason = _fma_row(int(track_id), row, audio_dir, check_audio)
        if record is not None:
            rows.append(record)
        else:
            skips.add(f"{int(track_id):06d}", reason)
    tracks = pd.DataFrame(rows, columns=["track_id", "tune_id", "title", "artist", "genre", "split",
                                         "subset", "lat", "lon", "invalid_location", "audio_path"])
    tracks = tracks.astype({"lat": float, "lon": float})
    invalid = int(tracks.pop("invalid_location").astype(bool).sum())
    without = int((tracks["lat"].isna() | tracks["lon"].isna()).sum())
    return Dataset("fma", root, tracks, skips.frame(),
                   info={"subset": subset, "split": "official", "without_location": without,
                         "invalid_location": invalid})

