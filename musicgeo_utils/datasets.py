"""Loaders for published music datasets with geographic labels.

- Million Song Dataset artist locations (:func:`load_msd_artist_locations`):
  the real "AdditionalFiles" lists ship with the package under
  ``musicgeo_utils/data/msd/`` (research, non-commercial licence; see the
  ``LICENSE`` and ``PROVENANCE.md`` there) and are verified against
  ``SHA256SUMS`` before use.
- UCI "Geographical Original of Music" (:func:`load_uci_gom`,
  :func:`evaluate_uci_gom`): not redistributable from here (no internet); the
  loader reads the two files of the UCI release where a user has them.
- One interface over every corpus, :func:`load_dataset` (``folk``,
  ``lmd_msd``, ``gtzan``, ``fma``, ``uci_gom``), returning a
  :class:`Dataset`: a ``tracks`` table and a ``skips`` table (``item,
  reason``) of everything left out, counted, never silently dropped.
  :func:`load_msd_summary` reads an MSD summary HDF5 file, :func:`lmd_notes`
  turns Lakh MIDI files into the corpus notes format so that
  :func:`musicgeo_utils.render.render_many` renders them, and
  :func:`download` fetches a dataset where its publisher allows, checked
  against a published checksum.

Coordinates are degrees (latitude north, longitude east positive).
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import config
from .config import PACKAGE_DATA
from .geo import coordinate_labels
from .geomethods import GeoMethod, cross_validate

#: Folder of the packaged Million Song Dataset files.
MSD_DIR = PACKAGE_DATA / "msd"
#: Full MSD artist-location list (13,849 artists).
MSD_ARTIST_LOCATIONS = MSD_DIR / "artist_location.txt"
#: Artist locations of the 10,000-song MSD subset (1,402 rows).
MSD_SUBSET_ARTIST_LOCATIONS = MSD_DIR / "subset_artist_location.txt"

MSD_SEPARATOR = "<SEP>"
_ARTIST_ID = re.compile(r"AR[0-9A-Z]{16}")
_TRACK_ID = re.compile(r"TR[0-9A-Z]{16}")
MSD_COLUMNS = ["artist_id", "lat", "lon", "track_id", "artist_name", "location"]

#: Feature columns in the two files of the UCI release.
UCI_GOM_FEATURE_COUNTS = (68, 116)
#: Zhou, Claire & King (ICDM 2014): best mean great-circle error, km (random
#: forest, 10-fold CV, 1,142 pieces in 73 areas, a superset of the UCI file).
ZHOU_2014_MEAN_KM = 3113.0


# --------------------------------------------------------------------------- checksums


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed_checksum(path: Path) -> str | None:
    """The digest that a ``SHA256SUMS`` beside ``path`` lists for it, if any."""
    sums = path.parent / "SHA256SUMS"
    if not sums.exists():
        return None
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            return parts[0].lower()
    return None


def verify_checksum(path: str | Path) -> None:
    """Check ``path`` against the ``SHA256SUMS`` file in its folder.

    Raises ``FileNotFoundError`` if the file or its checksum entry is missing
    and ``ValueError`` naming the file and both digests on a mismatch.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    expected = _listed_checksum(path)
    if expected is None:
        raise FileNotFoundError(f"{path}: not listed in {path.parent / 'SHA256SUMS'}")
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(f"{path}: SHA-256 mismatch (expected {expected}, got {actual}); "
                         "the file is corrupt or was edited: restore the original copy")


# --------------------------------------------------------------------------- MSD


def _msd_layout(rows: list[list[str]]) -> str:
    """``"subset"`` if most 4th fields are track ids, else ``"full"``.

    The full list orders its fields ``artist id, lat, lon, artist name,
    location``; the subset's list ``artist id, lat, lon, track id, artist name``.
    """
    candidates = [r[3] for r in rows if len(r) == 5]
    hits = sum(bool(_TRACK_ID.fullmatch(f.strip())) for f in candidates)
    return "subset" if candidates and hits > len(candidates) / 2 else "full"


def _parse_msd_row(fields: list[str], layout: str) -> dict:
    """One record from the five fields of a line; ``ValueError`` says what is wrong."""
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields instead of 5")
    artist_id = fields[0].strip()
    if not _ARTIST_ID.fullmatch(artist_id):
        raise ValueError(f"artist id {artist_id!r} is not AR + 16 characters")
    try:
        lat, lon = float(fields[1]), float(fields[2])
    except ValueError:
        raise ValueError(f"latitude/longitude {fields[1]!r}, {fields[2]!r} are not numbers") from None
    if not (np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise ValueError(f"latitude/longitude {lat}, {lon} out of range")
    if layout == "subset":
        track_id, name, location = fields[3].strip(), fields[4].strip(), None
        if not _TRACK_ID.fullmatch(track_id):
            raise ValueError(f"track id {track_id!r} is not TR + 16 characters")
    else:
        track_id, name, location = None, fields[3].strip(), fields[4].strip()
    return dict(zip(MSD_COLUMNS, (artist_id, lat, lon, track_id, name, location)))


def _msd_lines(path: Path) -> list[tuple[int, str | None, str]]:
    """(line number, text or None if not UTF-8, raw repr) for every record line."""
    raw_lines = path.read_bytes().split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the newline after the last row ends a record, it does not start one
    out = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            out.append((number, raw.decode("utf-8").rstrip("\r"), ""))
        except UnicodeDecodeError:
            out.append((number, None, repr(raw[:80])))
    return out


def load_msd_artist_locations(path: str | Path | None = None, verify: bool | None = None) -> pd.DataFrame:
    """Artist locations (degrees) from a Million Song Dataset "AdditionalFiles" list.

    Columns: ``artist_id, lat, lon, track_id, artist_name, location``. Both
    real layouts are read, told apart by their fourth field: the full list
    (``artist_location.txt``: artist id, lat, lon, artist name, location text;
    ``track_id`` is then missing) and the subset's
    (``subset_artist_location.txt``: artist id, lat, lon, track id, artist
    name; ``location`` missing). Fields are separated by the literal text
    ``<SEP>``; text fields are stripped of surrounding blanks.

    ``path=None`` reads the packaged full list. ``verify`` checks the file
    against ``SHA256SUMS`` in its folder (default: whenever that file lists
    it); a mismatch raises ``ValueError``. Malformed lines (field count, ids,
    unparseable or out-of-range coordinates, invalid UTF-8) are skipped,
    counted and reported: ``frame.attrs["skips"]`` lists ``{file, line,
    reason, text}`` (see :func:`skips_table`) and a warning gives the count.
    """
    path = Path(path) if path is not None else MSD_ARTIST_LOCATIONS
    if verify or (verify is None and _listed_checksum(path) is not None):
        verify_checksum(path)
    lines = _msd_lines(path)
    rows = [text.split(MSD_SEPARATOR) for _, text, _ in lines if text is not None]
    layout = _msd_layout(rows)
    records, skips = [], []
    for number, text, raw in lines:
        try:
            if text is None:
                raise ValueError("not valid UTF-8")
            records.append(_parse_msd_row(text.split(MSD_SEPARATOR), layout))
        except ValueError as err:
            skips.append({"file": str(path), "line": number, "reason": str(err),
                          "text": (text if text is not None else raw)[:120]})
    frame = pd.DataFrame.from_records(records, columns=MSD_COLUMNS)
    frame.attrs.update(source=str(path), layout=layout, skips=skips, n_skipped=len(skips))
    if skips:
        warnings.warn(f"{path}: skipped {len(skips)} malformed line(s) of {len(lines)}; "
                      "see frame.attrs['skips']", stacklevel=2)
    return frame


def skips_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The lines a loader skipped (``file, line, reason, text``), as a table."""
    return pd.DataFrame(frame.attrs.get("skips", []), columns=["file", "line", "reason", "text"])


# --------------------------------------------------------------------------- UCI


def _parse_uci_line(path: Path, number: int, line: str, n_columns: int | None) -> list[float]:
    fields = line.split(",")
    if n_columns is None and len(fields) - 2 not in UCI_GOM_FEATURE_COUNTS:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns; a UCI Geographical Original "
                         f"of Music file has {' or '.join(str(c + 2) for c in UCI_GOM_FEATURE_COUNTS)} "
                         "(68 or 116 features, then latitude and longitude)")
    if n_columns is not None and len(fields) != n_columns:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns, but the file's first line "
                         f"has {n_columns}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        bad = next(i for i, f in enumerate(fields, 1) if not _is_float(f))
        raise ValueError(f"{path}, line {number}, column {bad}: {fields[bad - 1]!r} is not a number") from None
    if not (abs(values[-2]) <= 90 and abs(values[-1]) <= 180 and np.all(np.isfinite(values))):
        raise ValueError(f"{path}, line {number}: latitude/longitude {values[-2]}, {values[-1]} "
                         "out of range, or a value is not finite")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_uci_gom(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Read a UCI "Geographical Original of Music" file: features, latitude, longitude.

    The release has two comma-separated files without header, 1,059 tracks
    from 33 countries each: ``default_features_1059_tracks.txt`` (68 audio
    features per line) and ``default_plus_chromatic_features_1059_tracks.txt``
    (116), each followed by the latitude and longitude (degrees) of the
    country's capital. Returns ``(X, lat, lon)``: a DataFrame with columns
    ``feature_001`` ... and two float arrays. A line with a wrong column count,
    a non-number or an out-of-range coordinate raises ``ValueError`` naming
    the file, the line and the reason (a dataset file is all-or-nothing).
    """
    path = Path(path)
    rows, n_columns = [], None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows.append(_parse_uci_line(path, number, line.strip(), n_columns))
            n_columns = len(rows[0])
    if not rows:
        raise ValueError(f"{path}: no data lines")
    data = np.asarray(rows)
    columns = [f"feature_{i:03d}" for i in range(1, data.shape[1] - 1)]
    X = pd.DataFrame(data[:, :-2], columns=columns)
    X.attrs["source"] = str(path)
    return X, data[:, -2].copy(), data[:, -1].copy()


def uci_gom_regions(lat, lon) -> np.ndarray:
    """Region label per track: tracks with identical coordinates (one capital) share one.

    Labels are the coordinates as text, ``"lat,lon"`` to 4 decimals (degrees).
    """
    return coordinate_labels(lat, lon)


def evaluate_uci_gom(path: str | Path, n_folds: int = 10, seed: int = 0,
                     methods: Sequence[GeoMethod] | None = None, n_boot: int = 1000,
                     val_fraction: float = 0.2, n_jobs: int | None = None) -> pd.DataFrame:
    """K-fold cross-validation of the geographic baselines on a UCI GOM file.

    :func:`geomethods.cross_validate` with each track's capital as its region
    and country, so a prediction's country is that of the nearest capital of
    the file. Extra columns: ``fold_mean_km_mean`` / ``fold_mean_km_std`` over
    folds and ``params`` (chosen per fold). Compare
    ``mean_km`` with Zhou, Claire & King's 3,113 km
    (:data:`ZHOU_2014_MEAN_KM`; their data has 1,142 pieces in 73 areas).
    """
    X_frame, lat, lon = load_uci_gom(path)
    regions = uci_gom_regions(lat, lon)
    targets = pd.DataFrame({"lat": lat, "lon": lon, "region": regions, "country": regions})
    return cross_validate(X_frame.to_numpy(), targets, n_folds=n_folds, seed=seed, methods=methods,
                          n_boot=n_boot, val_fraction=val_fraction, n_jobs=n_jobs)


# =========================================================================== one interface

#: Columns of every loader's skips table.
SKIP_COLUMNS = ["item", "reason"]


@dataclass
class Dataset:
    """One loaded corpus: its tracks, what was left out and why.

    ``tracks`` has at least ``track_id``, ``title``, ``artist`` plus the
    dataset's own columns (``lat``/``lon`` in degrees for geographic
    datasets; ``genre``/``split`` for genre datasets; ``audio_path`` or
    ``midi_path``). ``skips`` has one row per item left out (``item``: a file
    or id, ``reason``). ``features`` holds precomputed features where the
    dataset ships them (UCI GOM); ``info`` notes how the tracks were chosen.
    """

    name: str
    root: Path | None
    tracks: pd.DataFrame
    skips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIP_COLUMNS))
    features: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    def skip_counts(self) -> pd.Series:
        """Number of skipped items per reason (the reason's text before the first colon)."""
        return self.skips["reason"].str.split(":").str[0].value_counts()


class _Skips:
    """Collects ``(item, reason)`` rows; never raises, so a batch run goes on."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, item: object, reason: str) -> None:
        self.rows.append({"item": str(item), "reason": reason})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SKIP_COLUMNS)


def default_root(name: str) -> Path:
    """Where a dataset's files are expected by default: ``<data>/raw/<name>``.

    ``<data>`` is ``config.DATA_DIR`` (``MUSICGEO_DATA`` overrides it, e.g. a
    Google Drive folder on Colab).
    """
    return config.DATA_DIR / "raw" / name


def _require_dir(path: Path, what: str, hint: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: {what} not found; {hint}")
    return path


# =========================================================================== MSD HDF5

#: Fields of the MSD ``metadata/songs`` table that the loaders read.
MSD_METADATA_FIELDS = ("artist_id", "artist_name", "artist_location", "artist_latitude",
                       "artist_longitude", "title")
#: Columns of :func:`load_msd_summary` (and of one per-track file).
MSD_SONG_COLUMNS = ["track_id", "title", "artist_name", "artist_id", "artist_location", "lat", "lon"]


class MSDFormatError(ValueError):
    """An HDF5 file that lacks a table or field of the MSD layout; names the file."""


def _decoded(values: np.ndarray) -> list[str]:
    """Fixed-length byte strings (``S1024``) as text; invalid UTF-8 replaced, not fatal."""
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def _msd_table(handle, path: Path, table: str, fields: Sequence[str]) -> np.ndarray:
    """One compound table (e.g. ``metadata/songs``); ``MSDFormatError`` names what is missing."""
    if table not in handle:
        raise MSDFormatError(f"{path}: no table {table!r} (not an MSD song file)")
    data = handle[table][:]
    names = data.dtype.names or ()
    missing = [f for f in fields if f not in names]
    if missing:
        raise MSDFormatError(f"{path}: {table} has no field(s) {', '.join(missing)}")
    return data


def read_msd_songs(handle, path: str | Path) -> pd.DataFrame:
    """Songs of an open MSD HDF5 file (h5py ``File``) as :data:`MSD_SONG_COLUMNS`.

    The MSD layout (PyTables, read with h5py) keeps the song's metadata in
    ``metadata/songs`` and its ``track_id`` in ``analysis/songs``, row for
    row; a summary file has 10,000 rows, a per-track file one. Latitude and
    longitude (degrees) are NaN where the artist has no location. Raises
    :class:`MSDFormatError` naming the file and the missing table or field.
    """
    path = Path(path)
    meta = _msd_table(handle, path, "metadata/songs", MSD_METADATA_FIELDS)
    analysis = _msd_table(handle, path, "analysis/songs", ("track_id",))
    if len(meta) != len(analysis):
        raise MSDFormatError(f"{path}: metadata/songs has {len(meta)} rows, analysis/songs {len(analysis)}")
    return pd.DataFrame({
        "track_id": _decoded(analysis["track_id"]), "title": _decoded(meta["title"]),
        "artist_name": _decoded(meta["artist_name"]), "artist_id": _decoded(meta["artist_id"]),
        "artist_location": _decoded(meta["artist_location"]),
        "lat": meta["artist_latitude"].astype(float), "lon": meta["artist_longitude"].astype(float),
    }, columns=MSD_SONG_COLUMNS)


def _open_msd(path: Path) -> pd.DataFrame:
    """:func:`read_msd_songs` of a file path; unreadable HDF5 -> ``MSDFormatError``."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as err:  # h5py: missing, truncated, or not HDF5 at all
        raise MSDFormatError(f"{path}: not a readable HDF5 file ({err})") from None
    with handle:
        return read_msd_songs(handle, path)


def load_msd_summary(path: str | Path) -> pd.DataFrame:
    """The Million Song Dataset summary file (``msd_summary_file.h5``) as a table.

    Columns :data:`MSD_SONG_COLUMNS`: ``track_id, title, artist_name,
    artist_id, artist_location, lat, lon`` (degrees; NaN where the artist has
    no location). The 10,000-song subset's summary file gives 10,000 rows,
    3,742 with a latitude. A file without the MSD tables or fields raises
    :class:`MSDFormatError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    frame = _open_msd(path)
    frame.attrs["source"] = str(path)
    return frame


# =========================================================================== Lakh MIDI

#: Where the Lakh MIDI Dataset (Raffel 2016) publishes the matched subset.
LMD_URL = "http://hog.ee.columbia.edu/craffel/lmd"


def msd_id_dirs(track_id: str) -> Path:
    """``A/B/C`` folders of an MSD track id: its 3rd, 4th and 5th characters.

    ``TRAAAGR128F425B14B`` -> ``A/A/A``, ``TRABCD12...`` -> ``A/B/C``, as in
    ``lmd_matched``, ``lmd_matched_h5`` and the MSD itself (Raffel's LMD tutorial,
    ``msd_id_to_dirs``).
    """
    if not _TRACK_ID.fullmatch(track_id):
        raise ValueError(f"{track_id!r} is not an MSD track id (TR + 16 characters)")
    return Path(track_id[2], track_id[3], track_id[4])


def lmd_midi_path(root: str | Path, track_id: str, md5: str) -> Path:
    """``<root>/lmd_matched/A/B/C/<track id>/<md5>.mid``."""
    return Path(root) / "lmd_matched" / msd_id_dirs(track_id) / track_id / f"{md5}.mid"


def lmd_h5_path(root: str | Path, track_id: str) -> Path:
    """``<root>/lmd_matched_h5/A/B/C/<track id>.h5``: the track's MSD HDF5 file."""
    return Path(root) / "lmd_matched_h5" / msd_id_dirs(track_id) / f"{track_id}.h5"


def read_match_scores(path: str | Path) -> dict[str, dict[str, float]]:
    """``match_scores.json``: MSD track id -> {MIDI md5: match score}.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the file when it is
    missing or not of that shape.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (get match_scores.json from {LMD_URL})")
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(scores, dict) or not all(isinstance(v, dict) for v in scores.values()):
        raise ValueError(f"{path}: expected {{track id: {{md5: score}}}}")
    return scores


def best_matches(scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The best-scoring MIDI (md5) per MSD track; ties go to the smaller md5 (deterministic)."""
    rows = []
    for track_id, by_md5 in sorted(scores.items()):
        if by_md5:
            md5, score = min(by_md5.items(), key=lambda kv: (-float(kv[1]), kv[0]))
            rows.append((track_id, md5, float(score), len(by_md5)))
    return pd.DataFrame(rows, columns=["track_id", "md5", "match_score", "n_matches"])


def _location_problem(song: pd.Series) -> str | None:
    """Why a song's artist location is unusable, or ``None`` when it is fine."""
    lat, lon = song["lat"], song["lon"]
    if not (np.isfinite(lat) and np.isfinite(lon)):
        return "no artist location: artist_latitude/artist_longitude are NaN"
    if abs(lat) > 90 or abs(lon) > 180:
        return f"artist location out of range: {lat}, {lon}"
    return None


def _lmd_track(root: Path, match) -> tuple[dict | None, str | None, str]:
    """(track row, None, '') for a usable match, else (None, reason, item)."""
    midi = lmd_midi_path(root, match.track_id, match.md5)
    h5 = lmd_h5_path(root, match.track_id)
    if not midi.is_file():
        return None, f"MIDI file missing: {midi}", str(midi)
    if not h5.is_file():
        return None, f"MSD HDF5 file missing: {h5}", str(h5)
    try:
        songs = _open_msd(h5)
    except MSDFormatError as err:
        return None, f"bad MSD HDF5 file: {err}", str(h5)
    if len(songs) != 1 or songs.at[0, "track_id"] != match.track_id:
        return None, (f"bad MSD HDF5 file: {h5} holds {songs['track_id'].tolist()[:3]}, "
                      f"not {match.track_id}"), str(h5)
    problem = _location_problem(songs.iloc[0])
    if problem:
        return None, f"{problem} ({h5})", match.track_id
    song = songs.iloc[0]
    return {"track_id": match.track_id, "tune_id": match.track_id, "title": song["title"],
            "artist": song["artist_name"], "artist_id": song["artist_id"],
            "artist_location": song["artist_location"], "lat": float(song["lat"]),
            "lon": float(song["lon"]), "md5": match.md5, "match_score": match.match_score,
            "n_matches": match.n_matches, "midi_path": str(midi), "h5_path": str(h5)}, None, ""


def load_lmd_msd(root: str | Path | None = None, scores_file: str = "match_scores.json",
                 limit: int | None = None) -> Dataset:
    """The Lakh MIDI Dataset's matched subset with MSD artist locations (degrees).

    Expects under ``root`` (default :func:`default_root`): ``match_scores.json``
    (MSD track id -> {md5: score}), ``lmd_matched/A/B/C/<id>/<md5>.mid`` and
    ``lmd_matched_h5/A/B/C/<id>.h5`` (A/B/C: the id's 3rd-5th characters).
    Each MSD track keeps its best-scoring MIDI. Tracks are skipped, counted
    and reported in ``skips`` when the MIDI or HDF5 file is missing, the HDF5
    file is unreadable or lacks the location fields, or the artist has no
    location (NaN, the common case). ``limit`` keeps the first tracks by id.
    """
    root = Path(root) if root is not None else default_root("lmd_msd")
    _require_dir(root, "Lakh MIDI folder", f"download lmd_matched and lmd_matched_h5 from {LMD_URL}")
    matches = best_matches(read_match_scores(root / scores_file))
    if limit is not None:
        matches = matches.head(limit)
    rows, skips = [], _Skips()
    for match in matches.itertuples(index=False):
        row, reason, item = _lmd_track(root, match)
        if row is not None:
            rows.append(row)
        else:
            skips.add(item, reason)
    tracks = pd.DataFrame(rows, columns=["track_id", "tune_id", "title", "artist", "artist_id",
                                         "artist_location", "lat", "lon", "md5", "match_score",
                                         "n_matches", "midi_path", "h5_path"])
    return Dataset("lmd_msd", root, tracks, skips.frame(),
                   info={"matched_tracks": len(matches), "kept": len(tracks)})


#: Fewest notes an instrument needs to be a melody candidate when others have more.
MIN_MELODY_NOTES = 16


def _melody_instrument_notes(midi, melody: str) -> list:
    """Notes of the highest non-drum instrument (``melody='highest'``) or of all of them."""
    voiced = [inst for inst in midi.instruments if not inst.is_drum and inst.notes]
    if melody == "all":
        return [note for inst in voiced for note in inst.notes]
    if melody != "highest":
        raise ValueError(f"melody must be 'highest' or 'all', not {melody!r}")
    if not voiced:
        return []
    # A few high notes (a bell, a fill) should not win over the tune itself.
    long_enough = [inst for inst in voiced if len(inst.notes) >= MIN_MELODY_NOTES] or voiced
    return max(long_enough, key=lambda inst: np.median([n.pitch for n in inst.notes])).notes


def midi_melody(path: str | Path, melody: str = "highest") -> pd.DataFrame:
    """A MIDI file's melody in the corpus notes format: ``pitch, onset, duration``.

    ``melody='highest'``: the non-drum instrument with the highest median
    pitch (among those with at least :data:`MIN_MELODY_NOTES` notes, if any);
    ``'all'``: every non-drum note. Chords are reduced to their top note
    (as the folk corpus keeps the top of chords). Onsets and durations are in
    quarter notes, converted with the file's own tempo map (ticks /
    resolution), and shifted so that the first note starts at 0. Raises
    ``ValueError`` naming the file when it cannot be parsed or has no notes.
    """
    import pretty_midi

    path = Path(path)
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as err:  # pretty_midi/mido raise many types for a damaged file
        raise ValueError(f"{path}: unreadable MIDI ({type(err).__name__}: {err})") from None
    notes = [n for n in _melody_instrument_notes(midi, melody) if n.end > n.start]
    if not notes:
        raise ValueError(f"{path}: no notes (no non-drum instrument has a note)")
    resolution = float(midi.resolution)
    onset = np.array([midi.time_to_tick(n.start) for n in notes]) / resolution
    end = np.array([midi.time_to_tick(n.end) for n in notes]) / resolution
    frame = pd.DataFrame({"pitch": [n.pitch for n in notes], "onset": onset, "duration": end - onset})
    frame = frame[frame["duration"] > 0].sort_values(["onset", "pitch"], ascending=[True, False])
    frame = frame.drop_duplicates("onset").reset_index(drop=True)  # top note of each chord
    frame["onset"] -= frame["onset"].min()
    return frame.astype({"pitch": "int16", "onset": "float32", "duration": "float32"})


def lmd_notes(tracks: pd.DataFrame, melody: str = "highest") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(notes, skips)`` for the tracks of :func:`load_lmd_msd` (or any ``midi_path`` table).

    ``notes`` is the corpus format (``tune_id, pitch, onset, duration``,
    quarter notes; ``tune_id`` = the table's ``tune_id`` or ``track_id``),
    ready for :func:`musicgeo_utils.render.render_many`. A MIDI file that is
    unreadable or has no notes is a counted skip naming the file.
    """
    ids = tracks["tune_id"] if "tune_id" in tracks else tracks["track_id"]
    parts, skips = [], _Skips()
    for tune_id, path in zip(ids.astype(str), tracks["midi_path"]):
        try:
            frame = midi_melody(path, melody)
        except ValueError as err:
            skips.add(path, str(err))
            continue
        parts.append(frame.assign(tune_id=tune_id))
    columns = ["tune_id", "pitch", "onset", "duration"]
    notes = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    return notes, skips.frame()


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
    "accuracy. The artist-filtered split (Kereliuk, Sturm & Larsen 2015) cannot be rebuilt "
    "offline here: pass it as split_file (CSV with track_id, split) where you have it.")


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


def _split_from_file(tracks: pd.DataFrame, split_file: Path) -> np.ndarray:
    """Splits read from a CSV with ``track_id`` and ``split`` columns; unlisted -> ``None``."""
    table = pd.read_csv(split_file, dtype=str)
    missing = [c for c in ("track_id", "split") if c not in table.columns]
    if missing:
        raise ValueError(f"{split_file}: missing column(s) {missing}; need track_id, split")
    return tracks["track_id"].map(table.set_index("track_id")["split"]).to_numpy(dtype=object)


def load_gtzan(root: str | Path | None = None, seed: int = 0,
               split_file: str | Path | None = None) -> Dataset:
    """GTZAN: ``genres/<genre>/<genre>.000NN.wav`` (10 genres x 100, 30 s, 22,050 Hz mono).

    Every file's header is read with ``soundfile.info``: a missing, empty or
    unreadable file, or one with a name that does not fit, is a counted skip.
    ``tracks`` columns: ``track_id`` (``blues.00000``), ``title``, ``artist``
    (unknown: GTZAN ships no artist names), ``genre``, ``audio_path``,
    ``duration_s`` (seconds), ``sample_rate`` (Hz), ``split``. The split
    comes from ``split_file`` (CSV ``track_id, split``: e.g. the
    artist-filtered split) or else is seeded and stratified by genre, with a
    warning: see :data:`GTZAN_CAVEAT`.
    """
    root = Path(root) if root is not None else default_root("gtzan")
    folder = _gtzan_folder(_require_dir(root, "GTZAN folder", "unpack genres.tar.gz there"))
    rows, skips = [], _Skips()
    for genre_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(genre_dir.iterdir()):
            row, reason = _gtzan_row(path, genre_dir.name)
            if row is not None:
                rows.append(row)
            else:
                skips.add(path, reason)
    tracks = pd.DataFrame(rows, columns=["track_id", "tune_id", "title", "artist", "genre",
                                         "audio_path", "duration_s", "sample_rate"])
    if split_file is not None:
        tracks["split"], how = _split_from_file(tracks, Path(split_file)), f"from {split_file}"
    else:
        warnings.warn("GTZAN: seeded random split, not artist-filtered. " + GTZAN_CAVEAT, stacklevel=2)
        tracks["split"], how = split_by_seed(tracks["genre"], seed), f"random, seed {seed}"
    return Dataset("gtzan", root, tracks, skips.frame(), info={"split": how, "caveat": GTZAN_CAVEAT})


# =========================================================================== FMA

#: Columns of ``fma_metadata/tracks.csv`` (two header rows) that the loader needs.
FMA_COLUMNS = {("track", "title"): "title", ("artist", "name"): "artist",
               ("track", "genre_top"): "genre", ("set", "split"): "fma_split",
               ("set", "subset"): "subset"}
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

    Returns columns ``title, artist, genre, fma_split, subset`` indexed by the
    integer track id. A missing file, or one that lacks a needed column,
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
    frame.index = frame.index.astype(int)
    return frame


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
    return {"track_id": tid, "tune_id": tid, "title": meta.title, "artist": meta.artist,
            "genre": meta.genre, "split": FMA_SPLIT_NAMES.get(meta.fma_split, meta.fma_split),
            "subset": meta.subset, "audio_path": str(path)}, None


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
                                         "subset", "audio_path"])
    return Dataset("fma", root, tracks, skips.frame(), info={"subset": subset, "split": "official"})


# =========================================================================== UCI GOM and folk

#: File names of the UCI Geographical Original of Music release.
UCI_GOM_FILES = {False: "default_features_1059_tracks.txt",
                 True: "default_plus_chromatic_features_1059_tracks.txt"}


def load_uci_gom_dataset(root: str | Path | None = None, chroma: bool = False) -> Dataset:
    """UCI GOM as a :class:`Dataset`: ``tracks`` (lat/lon, degrees; ``region`` = capital) and ``features``.

    ``root`` is the release folder (or one of its two files directly);
    ``chroma`` picks the 116-feature file. Wraps :func:`load_uci_gom`, which
    raises on any malformed line (a dataset file is all-or-nothing).
    """
    root = Path(root) if root is not None else default_root("uci_gom")
    path = root if root.is_file() else root / UCI_GOM_FILES[bool(chroma)]
    X, lat, lon = load_uci_gom(path)
    ids = [f"uci-{i:04d}" for i in range(1, len(X) + 1)]
    tracks = pd.DataFrame({"track_id": ids, "title": ids, "artist": None, "lat": lat, "lon": lon,
                           "region": uci_gom_regions(lat, lon)})
    X.index = pd.Index(ids, name="track_id")
    return Dataset("uci_gom", root, tracks, features=X, info={"file": str(path)})


def load_folk(root: str | Path | None = None, seed: int = 0, use_cache: bool = True,
              collections=None) -> Dataset:
    """The embedded default: folk tunes from music21's corpus (:func:`manifest.build_manifest`).

    ``tracks`` are the manifest's tunes (``track_id`` = ``tune_id``; ``artist``
    is unknown for traditional tunes); ``skips`` are the parse skips;
    ``info['notes']`` holds the notes table. ``root`` is ignored; ``collections``
    restricts the corpus (default: every folk collection).
    """
    from . import manifest

    built = manifest.build_manifest(seed=seed, use_cache=use_cache, collections=collections)
    tracks = built.tunes.copy()
    tracks.insert(0, "track_id", tracks["tune_id"])
    if "artist" not in tracks:
        tracks["artist"] = None
    skips = pd.DataFrame({"item": built.skips.get("file", pd.Series(dtype=str)).astype(str) + " X:"
                          + built.skips.get("x", pd.Series(dtype=str)).astype(str),
                          "reason": built.skips.get("reason", pd.Series(dtype=str)).astype(str)},
                         columns=SKIP_COLUMNS)
    return Dataset("folk", None, tracks, skips, info={"notes": built.notes, "seed": seed})


#: Loader of each dataset name accepted by :func:`load_dataset`.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "folk": load_folk, "lmd_msd": load_lmd_msd, "gtzan": load_gtzan, "fma": load_fma,
    "uci_gom": load_uci_gom_dataset,
}


def load_dataset(name: str, root: str | Path | None = None, **kw) -> Dataset:
    """Load dataset ``name`` (``folk``, ``lmd_msd``, ``gtzan``, ``fma``, ``uci_gom``).

    ``root`` is the folder holding its files (default ``<data>/raw/<name>``,
    see :func:`default_root`); other keywords go to the loader
    (:func:`load_folk`, :func:`load_lmd_msd`, :func:`load_gtzan`,
    :func:`load_fma`, :func:`load_uci_gom_dataset`).
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](root, **kw)


# =========================================================================== downloads

#: Official files per dataset: (url, hash algorithm, published digest or None).
DOWNLOADS: dict[str, list[tuple[str, str, str | None]]] = {
    # Digests published in the README of github.com/mdeff/fma.
    "fma": [("https://os.unil.cloud.switch.ch/fma/fma_metadata.zip", "sha1",
             "f0df49ffe5f2a6008d7dc83c6915b31835dfe733"),
            ("https://os.unil.cloud.switch.ch/fma/fma_small.zip", "sha1",
             "ade154f733639d52e35e32f5593efe5be76c6d70")],
    # The LMD page publishes no checksums for these files.
    "lmd_msd": [(f"{LMD_URL}/lmd_matched.tar.gz", "md5", None),
                (f"{LMD_URL}/lmd_matched_h5.tar.gz", "md5", None),
                (f"{LMD_URL}/match_scores.json", "md5", None)],
    # The original Marsyas host; no checksum is published.
    "gtzan": [("http://opihi.cs.uvic.ca/sound/genres.tar.gz", "md5", None)],
}


def _hash_file(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, dest: str | Path | None = None, verify: bool = True) -> list[Path]:
    """Download a dataset's official files into ``dest`` (default :func:`default_root`).

    Only where the publisher allows it (:data:`DOWNLOADS`: FMA, Lakh MIDI,
    GTZAN; the MSD and UCI files are fetched by hand). Each file is written
    atomically and checked against its published digest; a file without a
    published digest is refused unless ``verify=False`` is passed explicitly,
    before anything is fetched. Archives are not unpacked. Needs internet;
    never run by the tests.
    """
    import shutil
    import urllib.request

    from .cache import atomic_path

    if name not in DOWNLOADS:
        raise ValueError(f"no download for {name!r}; available: {sorted(DOWNLOADS)}")
    unverified = [url for url, _, digest in DOWNLOADS[name] if digest is None]
    if verify and unverified:
        raise ValueError(f"{name}: no published checksum for {unverified}; pass verify=False "
                         "to download without one, at your own risk")
    dest = Path(dest) if dest is not None else default_root(name)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for url, algorithm, digest in DOWNLOADS[name]:
        path = dest / url.rsplit("/", 1)[1]
        if path.is_file() and digest and _hash_file(path, algorithm) == digest:
            paths.append(path)  # already here and intact: a rerun fetches nothing
            continue
        with atomic_path(path) as tmp:
            with urllib.request.urlopen(url) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            # Checked before the rename, so a corrupt download never takes the final name.
            if verify and _hash_file(tmp, algorithm) != digest:
                raise ValueError(f"{url}: {algorithm} of the download differs from the published "
                                 f"{digest}; nothing was kept, retry")
        paths.append(path)
    return paths
