"""The Million Song Dataset: artist-location lists and HDF5 song files.

- :func:`load_msd_artist_locations`: the real "AdditionalFiles" lists ship with
  the package under ``musicgeo_utils/data/msd/`` (research, non-commercial
  licence; see the ``LICENSE`` and ``PROVENANCE.md`` there) and are verified
  against ``SHA256SUMS`` before use; malformed lines are skipped and counted
  (:func:`skips_table`).
- :func:`load_msd_summary` / :func:`read_msd_songs`: the song metadata of an
  MSD summary or per-track HDF5 file (read with h5py).

Coordinates are degrees (latitude north, longitude east positive).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .config import PACKAGE_DATA
from .dataset_base import _listed_checksum, verify_checksum

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
