"""The melody front end's notes as a semitone roll: the input of the pitch CRNN.

The mel spectrogram carries the instrument as loudly as the tune; a roll of
the transcribed notes (:mod:`musicgeo_utils.transcription`) carries pitch,
intervals and rhythm and nothing of the timbre. A roll is ``(N_PITCHES,
frames)`` float32 at :data:`ROLL_FPS` frames per second, rows MIDI
:data:`LOW_MIDI` .. ``LOW_MIDI + N_PITCHES - 1`` (one row per semitone, so a
transposition is a shift along the rows): :data:`ONSET` in a note's first
frame, :data:`SUSTAIN` while it sounds, 0 elsewhere. Notes outside the range
move by octaves into it. The network that reads it
(:data:`PITCH_CRNN_KWARGS`) never pools the pitch axis before its global
maximum, and trains with transposed crops (``MelDataset(shift_bins=...)``),
so its answer hardly depends on the key.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Frames per second of a roll (40 ms: finer than any note of these tunes).
ROLL_FPS = 25.0
#: Lowest pitch (MIDI, C2) and number of semitone rows (five octaves, to B6).
LOW_MIDI, N_PITCHES = 36, 60
#: Values of a note's first frame and of the frames it sustains.
ONSET, SUSTAIN = 1.0, 0.5
#: The pitch CRNN: half the compact CRNN's widths, frames averaged in pairs at the input (80 ms),
#: the pitch axis halved only in the middle blocks (intervals up to about an octave in view) before
#: the global maximum over pitch. Chosen on validation macro-F1 against the compact widths
#: (16-32-64-64, no input pooling: as good, four times slower) and a mean over GRU steps with lr 3e-3.
PITCH_CRNN_KWARGS = {"channels": (8, 16, 32, 32), "freq_pools": (1, 2, 2, 1), "time_pools": (2, 2, 2, 1),
                     "input_time_pool": 2}


def note_roll(notes: pd.DataFrame, duration_s: float, fps: float = ROLL_FPS, low: int = LOW_MIDI,
              n_pitches: int = N_PITCHES) -> np.ndarray:
    """Notes (``onset_s, duration_s, pitch_midi``) -> a ``(n_pitches, frames)`` float32 roll of ``duration_s``.

    ``frames = ceil(duration_s * fps)``; a note covers frames ``round(onset *
    fps)`` up to ``round(end * fps)`` (at least one), clipped to the clip;
    later notes overwrite earlier ones where they overlap.
    """
    if duration_s <= 0 or fps <= 0:
        raise ValueError(f"duration_s and fps must be positive, got {duration_s}, {fps}")
    frames = int(np.ceil(duration_s * fps))
    roll = np.zeros((n_pitches, frames), dtype=np.float32)
    if len(notes) == 0:
        return roll
    pitch = notes["pitch_midi"].to_numpy(int) - low
    pitch = np.where(pitch < 0, pitch % 12, pitch)  # into the lowest octave ...
    pitch = np.where(pitch >= n_pitches, n_pitches - 12 + (pitch - n_pitches) % 12, pitch)  # ... or the highest
    onset = notes["onset_s"].to_numpy(float)
    start = np.clip(np.round(onset * fps).astype(int), 0, frames - 1)
    end = np.clip(np.round((onset + notes["duration_s"].to_numpy(float)) * fps).astype(int), start + 1, frames)
    for p, s, e in zip(pitch, start, end):
        roll[p, s:e] = SUSTAIN
        roll[p, s] = ONSET
    return roll


def clip_rolls(notes: pd.DataFrame, clip_ids, duration_s: float | pd.Series) -> pd.Series:
    """One roll per clip id (a Series of arrays, indexed by clip id), from a transcription's notes table.

    ``notes``: ``clip_id, onset_s, duration_s, pitch_midi`` (a
    :class:`transcription.TranscriptionSet`'s ``notes``); a clip without notes
    gets an empty roll. ``duration_s``: one length for all clips, or per clip id.
    """
    groups = {str(c): g for c, g in notes.groupby("clip_id", sort=False)}
    empty = notes.iloc[:0]
    rolls = {}
    for clip_id in map(str, clip_ids):
        length = duration_s[clip_id] if isinstance(duration_s, pd.Series) else duration_s
        rolls[clip_id] = note_roll(groups.get(clip_id, empty), float(length))
    return pd.Series(rolls, dtype=object)


def uniform_stats(rolls) -> tuple[np.ndarray, np.ndarray]:
    """One mean and standard deviation over every value of the training rolls, repeated per row.

    Per-row statistics would treat each pitch differently and undo the
    network's indifference to transposition; for ``models.MelNormalizer.set_stats``.
    """
    values = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in rolls])
    mean, std = float(values.mean()), float(values.std()) or 1.0
    n_rows = np.asarray(rolls[0]).shape[0]
    return np.full(n_rows, mean), np.full(n_rows, std)
