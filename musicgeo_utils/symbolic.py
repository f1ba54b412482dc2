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

Besides these global histograms, the descriptors count short sequences of
events (n-grams, the "event models" that Hillewaere, Manderick & Conklin,
ISMIR 2009, found to beat global features in classifying folk songs by
region): pairs of successive pitch classes above the tonic, pairs of
successive intervals, three successive melodic steps in five classes (leap
or step down, repeat, step or leap up), pairs of successive inter-onset ratios,
and each step paired with the inter-onset ratio at its note. Each block is a
relative frequency, square-rooted (the Hellinger map, so that a linear model
on it weighs rare and common n-grams alike); all of them are beat-free.
Their columns are named ``ngram_...`` (:func:`ngram_columns`).
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
#: In interval pairs, intervals are clipped to +- this many semitones (+-8 stands for 8 or more).
NGRAM_INTERVAL = 8
#: Melodic steps in five classes, by upper edge in semitones: leap down (<= -3), step down, repeat,
#: step up (<= 2), leap up.
STEP_CLASSES = ("leap_down", "step_down", "repeat", "step_up", "leap_up")
#: Prefix of the n-gram columns.
NGRAM_PREFIX = "ngram_"


def descriptor_names() -> list[str]:
    """Column names of :func:`score_descriptors`, in order."""
    names = [f"pc_from_final_{k:02d}" for k in range(12)]
    names += [f"interval_{k:+d}" for k in range(-MAX_INTERVAL, MAX_INTERVAL + 1)]
    names += [f"duration_le_{edge:g}" for edge in DURATION_EDGES] + ["duration_longer"]
    names += [f"onset_at_{offset:.2f}_of_quarter" for offset in OFFSET_GRID] + ["onset_elsewhere"]
    names += [f"ioi_ratio_{a}:{b}" for a, b in IOI_RATIOS]
    names += ["range_semitones", "notes_per_quarter", "repeated_note_share"]
    return names + ngram_names()


def ngram_names() -> list[str]:
    """Column names of the n-gram blocks (module docstring), in order."""
    intervals = range(-NGRAM_INTERVAL, NGRAM_INTERVAL + 1)
    ratios = [f"{a}:{b}" for a, b in IOI_RATIOS]
    names = [f"degrees_{a:02d}_{b:02d}" for a in range(12) for b in range(12)]
    names += [f"intervals_{a:+d}_{b:+d}" for a in intervals for b in intervals]
    names += [f"steps_{a}_{b}_{c}" for a in STEP_CLASSES for b in STEP_CLASSES for c in STEP_CLASSES]
    names += [f"ioi_ratios_{a}_{b}" for a in ratios for b in ratios]
    names += [f"step_ioi_{a}_{b}" for a in STEP_CLASSES for b in ratios]
    return [NGRAM_PREFIX + name for name in names]


def ngram_columns(columns) -> np.ndarray:
    """Boolean mask of the n-gram columns among ``columns`` (names), e.g. to leave them out of a model."""
    return np.array([str(c).startswith(NGRAM_PREFIX) for c in columns], dtype=bool)


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
                 float(np.mean(np.diff(pitch) == 0)) if pitch.size > 1 else 0.0,
                 ngrams(relative, np.diff(pitch), onset)]


def _shares(index: np.ndarray, size: int) -> np.ndarray:
    """Square roots of the relative frequencies of ``index`` over ``size`` bins (zeros when empty)."""
    if index.size == 0:
        return np.zeros(size)
    return np.sqrt(np.bincount(index, minlength=size) / index.size)


def ngrams(degrees: np.ndarray, steps: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """The n-gram blocks (module docstring, :func:`ngram_names`) of one note sequence.

    ``degrees``: pitch classes above the tonic, ``steps``: successive
    intervals in semitones, ``onset``: onsets in any unit, all in onset order.
    An inter-onset ratio needs two positive intervals (notes that start together
    give none); the pairs that involve one are left out.
    """
    n_steps, n_ratios, width = len(STEP_CLASSES), len(IOI_RATIOS), 2 * NGRAM_INTERVAL + 1
    clipped = np.clip(steps, -NGRAM_INTERVAL, NGRAM_INTERVAL) + NGRAM_INTERVAL
    step_class = np.searchsorted([-3, -1, 0, 2], steps, side="left")
    ioi = np.diff(np.asarray(onset, dtype=float))
    valid = (ioi[1:] > 0) & (ioi[:-1] > 0)
    ratio = np.zeros(valid.size, dtype=int)
    if valid.any():
        centres = np.log2([a / b for a, b in IOI_RATIOS])
        log_ratio = np.log2(ioi[1:][valid] / ioi[:-1][valid])
        ratio[valid] = np.argmin(np.abs(log_ratio[:, None] - centres[None, :]), axis=1)
    both = valid[1:] & valid[:-1]
    return np.r_[_shares(degrees[:-1] * 12 + degrees[1:], 144),
                 _shares(clipped[:-1] * width + clipped[1:], width * width),
                 _shares(step_class[:-2] * n_steps ** 2 + step_class[1:-1] * n_steps + step_class[2:], n_steps ** 3),
                 _shares((ratio[:-1] * n_ratios + ratio[1:])[both], n_ratios * n_ratios),
                 _shares((step_class[1:] * n_ratios + ratio)[valid], n_steps * n_ratios)]


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
