"""The Lakh MIDI Dataset's matched subset with MSD artist locations, and MIDI melodies.

- :func:`load_lmd_msd`: each MSD track of ``lmd_matched`` keeps its
  best-scoring MIDI file and the artist location (degrees) of its MSD HDF5
  file; every track left out is a counted skip;
- :func:`midi_melody` / :func:`lmd_notes`: MIDI files -> the corpus notes
  format, so that :func:`musicgeo_utils.render.render_many` renders them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .cache import read_json
from .dataset_base import Dataset, _require_dir, _Skips, default_root
from .msd import _TRACK_ID, MSDFormatError, _open_msd


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
    scores = read_json(path)
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
