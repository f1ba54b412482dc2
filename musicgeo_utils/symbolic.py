"""Descriptors of the score itself (the notes), not of the audio.

They answer a question the audio models cannot: how well can the styles be
told apart at all, given the exact notes of the whole tune, with no
instrument, no tempo, no key and no 10-second window in the way? A classifier
on these descriptors is a generous reference point for notebook 04's style
CRNN, whose input is a rendered, randomly transposed, re-timed excerpt.

All descriptors ignore transposition (pitches are taken relative to the last
note, which in folk tunes is almost always the tonic) and tempo (durations
are in quarter notes, as notated).

The same function describes notes heard in audio
(:mod:`musicgeo_utils.transcribed_score`), whose onsets are off by tens of
milliseconds, whose beat grid is estimated and whose pitches may slip an
octave. Three choices keep the descriptors meaningful there and exact on a
score: an onset's position in its beat is the nearest grid point within
:data:`ONSET_TOLERANCE` beats, counted circularly (0.97 is next beat's 0);
the range is the central 90 % of the pitches, not max - min; and the ratio of
successive inter-onset intervals (:data:`IOI_RATIOS`: 1:1, 2:1, 3:1 ...)
describes rhythm without any beat grid, so a tracker that counts half or
double the notated tempo, or beats off the downbeat, does not change it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Duration bins in quarter notes (upper edges; the last bin is open).
DURATION_EDGES = (0.26, 0.34, 0.51, 0.76, 1.01, 1.51, 2.01, 3.01)
#: Position of an onset within its quarter note, as fractions.
OFFSET_GRID = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75)
#: An onset counts at a grid position when within this many beats of it (else "elsewhere").
ONSET_TOLERANCE = 0.06
#: Ratios of successive inter-onset intervals (next / previous), matched on a log scale to the nearest.
IOI_RATIOS = ((1, 4), (1, 3), (1, 2), (2, 3), (1, 1), (3, 2), (2, 1), (3, 1), (4, 1))
#: Melodic intervals are clipped to +- this many semitones.
MAX_INTERVAL = 12


def descriptor_names() -> list[str]:
    """Column names of :func:`score_descriptors`, in order."""
    names = [f"pc_from_final_{k:02d}" for k in range(12)]
    names += [f"interval_{k:+d}" for k in range(-MAX_INTERVAL, MAX_INTERVAL + 1)]
    names += [f"duration_le_{edge:g}" for edge in DURATION_EDGES] + ["duration_longer"]
    names += [f"onset_at_{offset:.2f}_of_quarter" for offset in OFFSET_GRID] + ["onset_elsewhere"]
    names += [f"ioi_ratio_{a}:{b}" for a, b in IOI_RATIOS]
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
    gap = np.abs(within[:, None] - np.asarray(OFFSET_GRID)[None, :])
    gap = np.minimum(gap, 1.0 - gap)  # circular: 0.97 is 0.03 from the next beat's 0
    nearest = np.argmin(gap, axis=1)
    matched = gap[np.arange(onset.size), nearest] <= ONSET_TOLERANCE
    offsets = np.r_[np.bincount(nearest[matched], minlength=len(OFFSET_GRID)) / onset.size,
                    1.0 - matched.mean()]
    span = float(onset[-1] + duration[-1] - onset[0])
    low, high = np.percentile(pitch, [5, 95])
    return np.r_[pcs, intervals, durations, offsets, ioi_ratio_histogram(onset),
                 high - low, pitch.size / span if span > 0 else 0.0,
                 float(np.mean(np.diff(pitch) == 0)) if pitch.size > 1 else 0.0]


def ioi_ratio_histogram(onset: np.ndarray) -> np.ndarray:
    """Shares of successive inter-onset-interval ratios nearest each of :data:`IOI_RATIOS` (log scale).

    Onsets in any unit (beats or seconds: a ratio has none); fewer than three
    onsets give zeros.
    """
    ioi = np.diff(np.asarray(onset, dtype=float))
    ioi = ioi[ioi > 0]
    if ioi.size < 2:
        return np.zeros(len(IOI_RATIOS))
    log_ratio = np.log2(ioi[1:] / ioi[:-1])
    centres = np.log2([a / b for a, b in IOI_RATIOS])
    nearest = np.argmin(np.abs(log_ratio[:, None] - centres[None, :]), axis=1)
    return np.bincount(nearest, minlength=len(IOI_RATIOS)) / nearest.size


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
