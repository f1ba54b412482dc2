"""Descriptors of the score itself (the notes), not of the audio.

They answer a question the audio models cannot: how well can the styles be
told apart at all, given the exact notes of the whole tune, with no
instrument, no tempo, no key and no 10-second window in the way? A classifier
on these descriptors is a generous reference point for notebook 04's style
CRNN, whose input is a rendered, randomly transposed, re-timed excerpt.

All descriptors ignore transposition (pitches are taken relative to the last
note, which in folk tunes is almost always the tonic) and tempo (durations
are in quarter notes, as notated).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Duration bins in quarter notes (upper edges; the last bin is open).
DURATION_EDGES = (0.26, 0.34, 0.51, 0.76, 1.01, 1.51, 2.01, 3.01)
#: Position of an onset within its quarter note, as fractions.
OFFSET_GRID = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75)
#: Melodic intervals are clipped to +- this many semitones.
MAX_INTERVAL = 12


def descriptor_names() -> list[str]:
    """Column names of :func:`score_descriptors`, in order."""
    names = [f"pc_from_final_{k:02d}" for k in range(12)]
    names += [f"interval_{k:+d}" for k in range(-MAX_INTERVAL, MAX_INTERVAL + 1)]
    names += [f"duration_le_{edge:g}" for edge in DURATION_EDGES] + ["duration_longer"]
    names += [f"onset_at_{offset:.2f}_of_quarter" for offset in OFFSET_GRID] + ["onset_elsewhere"]
    return names + ["range_semitones", "notes_per_quarter", "repeated_note_share"]


def descriptors(pitch: np.ndarray, onset: np.ndarray, duration: np.ndarray,
                tonic_pc: int | None = None) -> np.ndarray:
    """The :func:`descriptor_names` values of one note sequence, given in onset order.

    ``pitch``: MIDI numbers; ``onset`` and ``duration`` in beats (quarter notes
    in a score); ``tonic_pc``: the pitch class (0 = C) that pitch classes are
    counted from, default the last note's (the final of a whole tune).
    :mod:`musicgeo_utils.transcribed_score` calls this with notes from audio.
    """
    pitch = np.asarray(pitch, dtype=int)
    onset, duration = np.asarray(onset, dtype=float), np.asarray(duration, dtype=float)
    if pitch.size == 0 or not (pitch.size == onset.size == duration.size):
        raise ValueError(f"need one onset and duration per note and at least one note, got "
                         f"{pitch.size} / {onset.size} / {duration.size}")
    tonic = pitch[-1] if tonic_pc is None else int(tonic_pc)
    relative = (pitch - tonic) % 12
    weight = duration.sum()
    pcs = (np.bincount(relative, weights=duration, minlength=12) / weight if weight > 0
           else np.bincount(relative, minlength=12) / pitch.size)
    steps = np.clip(np.diff(pitch), -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL
    intervals = np.bincount(steps, minlength=2 * MAX_INTERVAL + 1) / max(1, steps.size)
    bins = np.searchsorted(DURATION_EDGES, duration)
    durations = np.bincount(bins, minlength=len(DURATION_EDGES) + 1) / duration.size
    within = onset - np.floor(onset)
    match = np.isclose(within[:, None], np.asarray(OFFSET_GRID)[None, :], atol=0.02)
    offsets = np.r_[match.mean(axis=0), 1.0 - match.any(axis=1).mean()]
    span = float(onset[-1] + duration[-1] - onset[0])
    return np.r_[pcs, intervals, durations, offsets,
                 pitch.max() - pitch.min(), pitch.size / span if span > 0 else 0.0,
                 float(np.mean(np.diff(pitch) == 0)) if pitch.size > 1 else 0.0]


def score_descriptors(notes: pd.DataFrame, tune_ids=None) -> pd.DataFrame:
    """One row of :func:`descriptor_names` per tune, from a notes table.

    ``notes`` has columns ``tune_id, pitch`` (MIDI), ``onset, duration``
    (quarter notes), as :mod:`musicgeo_utils.corpus` caches them.
    ``tune_ids`` orders the rows (default: order of first appearance); a
    tune with no notes raises ``ValueError`` naming it.
    """
    missing = {"tune_id", "pitch", "onset", "duration"} - set(notes.columns)
    if missing:
        raise ValueError(f"notes table lacks column(s) {sorted(missing)}")
    groups = {tune: group.sort_values("onset", kind="stable") for tune, group in notes.groupby("tune_id", sort=False)}
    tune_ids = list(groups) if tune_ids is None else [str(t) for t in tune_ids]
    empty = [t for t in tune_ids if t not in groups]
    if empty:
        raise ValueError(f"{len(empty)} tune(s) have no notes, e.g. {empty[:5]}")
    rows = [descriptors(g["pitch"].to_numpy(int), g["onset"].to_numpy(float), g["duration"].to_numpy(float))
            for g in (groups[t] for t in tune_ids)]
    return pd.DataFrame(np.vstack(rows), index=pd.Index(tune_ids, name="tune_id"), columns=descriptor_names())
