"""Loaders for published music datasets with geographic labels.

- Million Song Dataset artist locations (:func:`load_msd_artist_locations`):
  the real "AdditionalFiles" lists ship with the package under
  ``musicgeo_utils/data/msd/`` (research, non-commercial licence; see the
  ``LICENSE`` and ``PROVENANCE.md`` there) and are verified against
  ``SHA256SUMS`` before use.
- UCI "Geographical Original of Music" (:func:`load_uci_gom`,
  :func:`evaluate_uci_gom`): not redistributable from here (no internet); the
  loader reads the two files of the UCI release where a user has them.

Coordinates are degrees (latitude north, longitude east positive).
"""
from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, train_test_split

from .baselines import (
    GeoMethod,
    default_methods,
    evaluate_predictions,
    rank_methods,
    region_centroids,
)
from .config import PACKAGE_DATA
from .geo import coordinate_labels, great_circle_km

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


def _fit_fold(method: GeoMethod, X, lat, lon, regions, train_idx, seed: int, val_fraction: float):
    """Tune on an inner validation split of the training folds, then refit on all of them."""
    inner, val = train_test_split(train_idx, test_size=val_fraction, random_state=seed)
    method.fit(X[inner], lat[inner], lon[inner], regions=regions[inner],
               validation=(X[val], lat[val], lon[val]))
    return method.fit(X[train_idx], lat[train_idx], lon[train_idx], regions=regions[train_idx],
                      params=method.best_params_)


def evaluate_uci_gom(path: str | Path, n_folds: int = 10, seed: int = 0,
                     methods: Sequence[GeoMethod] | None = None, n_boot: int = 1000,
                     val_fraction: float = 0.2, n_jobs: int | None = None) -> pd.DataFrame:
    """K-fold cross-validation of the geographic baselines on a UCI GOM file.

    Folds are shuffled with ``seed``. Within each fold, hyperparameters are
    tuned on a random ``val_fraction`` of the training folds and the model is
    refitted on all training folds with them. Scores (as in
    :func:`baselines.compare_methods`, with bootstrap 95 % intervals) are
    computed on the pooled out-of-fold predictions of every track; regions and
    countries are the capitals, and a prediction's country is that of the
    nearest capital of the file (the label set, not a fitted quantity). Extra columns: ``fold_mean_km_mean`` /
    ``fold_mean_km_std`` over folds and ``params`` (chosen per fold). Compare
    ``mean_km`` with Zhou, Claire & King's 3,113 km
    (:data:`ZHOU_2014_MEAN_KM`; their data has 1,142 pieces in 73 areas).
    """
    X_frame, lat, lon = load_uci_gom(path)
    X, regions = X_frame.to_numpy(), uci_gom_regions(lat, lon)
    targets = pd.DataFrame({"lat": lat, "lon": lon, "region": regions, "country": regions})
    centroids = region_centroids(lat, lon, regions)
    folds = list(KFold(n_folds, shuffle=True, random_state=seed).split(X))
    rows = []
    for method in methods if methods is not None else default_methods(seed, n_jobs):
        pred, fold_km, params = np.zeros((len(X), 2)), [], []
        for fold, (train_idx, test_idx) in enumerate(folds):
            _fit_fold(method, X, lat, lon, regions, train_idx, seed + fold, val_fraction)
            pred[test_idx] = np.column_stack(method.predict(X[test_idx]))
            fold_km.append(float(np.mean(great_circle_km(lat[test_idx], lon[test_idx], *pred[test_idx].T))))
            params.append(method.best_params_)
        row = evaluate_predictions(method.name, targets, pred[:, 0], pred[:, 1], centroids, n_boot, seed)
        rows.append({**row, "fold_mean_km_mean": float(np.mean(fold_km)),
                     "fold_mean_km_std": float(np.std(fold_km, ddof=1)) if n_folds > 1 else np.nan,
                     "params": repr(params)})
    return rank_methods(rows)
