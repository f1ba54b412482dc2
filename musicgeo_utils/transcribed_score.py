"""Score descriptors from audio (the "transcribed score") and from a clip's true notes (the "clip score").

:mod:`musicgeo_utils.symbolic` describes a tune by its notes counted in quarter
notes and in pitch classes above the tonic. A transcription
(:mod:`musicgeo_utils.transcription`) gives notes in seconds and MIDI pitches,
so the two things a score gives for free are estimated from the clip:

- **Beats.** ``librosa.beat.beat_track`` on the clip's audio (:func:`transcription.beat_times`,
  cached with the notes) gives beat times;
  each note's onset and end are mapped to beat positions by linear
  interpolation between the tracked beats (extrapolated at the median beat
  period before the first and after the last), so one beat counts as one
  quarter note. The tracker may lock onto half or double the notated tempo
  (a metrical-level error): then durations shift by a factor of two, the same
  thing a listener tapping along might do. :func:`tempo_agreement` measures it
  against the true tempo.
- **Tonic.** The pitch class whose rotated major or minor key profile
  (Krumhansl and Kessler's probe-tone ratings, read from music21's
  ``KrumhanslKessler`` weights) correlates best with the clip's
  duration-weighted pitch-class histogram. For the whole score the tonic is
  the final note, as in :func:`symbolic.score_descriptors`; a 10-second window
  usually does not end on the final, hence an estimate.
  :func:`tonic_agreement` measures it against the true tonic (the tune's
  final, transposed as rendered).

The **clip score** is the reference for what any audio model of a clip could
know: the true notes of exactly the rendered window (``render.clip_notes``), in
beats from the true tempo, with the true tonic. The **whole score** (every note
of the tune) is :func:`symbolic.score_descriptors` itself.

:func:`score_features` caches its tables (Parquet, written atomically, a
``complete.json`` last) under ``config.data_path("score_features", key)``; the
key is made of everything they are computed from: the clips' tempo, program and
transposition, the true notes, the transcription (notes, beats, pitch tracks,
skips), the rendering parameters, mir_eval's version and the source of the
modules that compute them (so an edit of any of them recomputes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from musicgeo_utils import cache, config, symbolic

#: A tempo estimate agrees with the truth when within this relative tolerance (the MIREX 4 %).
TEMPO_TOLERANCE = 0.04


@lru_cache(maxsize=1)
def key_profiles() -> np.ndarray:
    """(24, 12) key profiles: rows 0-11 major with tonic 0-11, rows 12-23 minor.

    Krumhansl and Kessler's (1982) probe-tone ratings as music21 ships them,
    each row rotated so that its tonic is the row's pitch class.
    """
    from music21.analysis.discrete import KrumhanslKessler

    analyser = KrumhanslKessler()
    base = [np.asarray(analyser.getWeights(mode), dtype=float) for mode in ("major", "minor")]
    return np.vstack([np.roll(profile, tonic) for profile in base for tonic in range(12)])


def estimate_tonic(pitch, duration) -> int:
    """The tonic pitch class (0 = C) of notes, by key-profile correlation.

    ``pitch``: MIDI numbers; ``duration``: any positive unit (seconds or
    beats), used as weights. Ties go to the lower row (major before minor,
    then the lower pitch class). Raises ``ValueError`` for no notes.
    """
    pitch, duration = np.asarray(pitch, dtype=int), np.asarray(duration, dtype=float)
    if pitch.size == 0 or pitch.size != duration.size:
        raise ValueError(f"need one duration per note and at least one note, got {pitch.size} pitches, "
                         f"{duration.size} durations")
    histogram = np.bincount(pitch % 12, weights=np.maximum(duration, 0.0), minlength=12)
    if not np.any(histogram > 0):
        histogram = np.bincount(pitch % 12, minlength=12).astype(float)
    return int(np.argmax(key_correlations(histogram)) % 12)


def key_correlations(histogram) -> np.ndarray:
    """``(24,)`` Pearson correlations of a 12-bin pitch-class ``histogram`` (any positive weights) with the
    rows of :func:`key_profiles` (major on C..B, then minor); a flat or empty histogram correlates 0 with
    every key. The first maximum is :func:`estimate_tonic`'s key."""
    histogram = np.asarray(histogram, dtype=float)
    profiles = key_profiles()
    h = histogram - histogram.mean()
    p = profiles - profiles.mean(axis=1, keepdims=True)
    denominator = np.linalg.norm(p, axis=1) * np.linalg.norm(h)
    return p @ h / np.where(denominator > 0, denominator, 1.0)


def seconds_to_beats(times, beats: np.ndarray, tempo_bpm: float) -> np.ndarray:
    """Beat positions of ``times`` (seconds), counted from the first tracked beat.

    Between tracked beats the position is interpolated linearly; before the
    first and after the last it continues at the median beat period. With
    fewer than two beats, ``tempo_bpm`` alone sets the scale (from time 0).
    """
    times = np.asarray(times, dtype=float)
    beats = np.asarray(beats, dtype=float)
    if beats.size < 2:
        if not tempo_bpm > 0:
            raise ValueError(f"need two tracked beats or a positive tempo, got {beats.size} beats, {tempo_bpm} bpm")
        return times * tempo_bpm / 60.0
    period = float(np.median(np.diff(beats)))
    index = np.arange(beats.size, dtype=float)
    inside = np.interp(times, beats, index)
    before = (times - beats[0]) / period
    after = beats.size - 1 + (times - beats[-1]) / period
    return np.where(times < beats[0], before, np.where(times > beats[-1], after, inside))


def descriptors_from_seconds(notes: pd.DataFrame, beats: np.ndarray, tempo_bpm: float,
                             tonic_pc: int | None = None) -> np.ndarray:
    """Symbolic descriptors of notes in seconds (``onset_s``, ``pitch_midi`` and ``duration_s`` or ``offset_s``).

    Onsets and ends become beat positions (:func:`seconds_to_beats`), the tonic
    is ``tonic_pc`` or :func:`estimate_tonic`'s, then
    :func:`symbolic.descriptors` does the rest, so the audio path and the score
    path share one definition. Raises ``ValueError`` for no notes.
    """
    if len(notes) == 0:
        raise ValueError("no notes to describe")
    onset = notes["onset_s"].to_numpy(float)
    end = notes["offset_s"].to_numpy(float) if "offset_s" in notes else onset + notes["duration_s"].to_numpy(float)
    order = np.argsort(onset, kind="stable")
    onset, end, pitch = onset[order], end[order], notes["pitch_midi"].to_numpy(int)[order]
    on_beats = seconds_to_beats(onset, beats, tempo_bpm)
    length = np.maximum(seconds_to_beats(end, beats, tempo_bpm) - on_beats, 0.0)
    tonic = estimate_tonic(pitch, end - onset) if tonic_pc is None else int(tonic_pc)
    return symbolic.descriptors(pitch, on_beats, length, tonic_pc=tonic)


def transcribed_score_descriptors(transcribed, clip_ids) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(descriptors, estimates): the transcribed score of each clip.

    ``transcribed``: a :class:`transcription.TranscriptionSet` (its notes in
    seconds and each clip's tracked beats); ``clip_ids``: the clips wanted, in
    order. ``descriptors`` has one row of :func:`symbolic.descriptor_names`
    per clip; ``estimates`` the estimated ``tempo_bpm``, ``tonic_pc`` and
    ``n_notes``. A clip with no transcribed notes (silence, or a clip that
    transcription skipped: see ``transcribed.skips``) gets a row of zeros,
    and ``n_notes`` 0, ``tonic_pc`` -1 say so.
    """
    names = symbolic.descriptor_names()
    by_clip = {str(c): g for c, g in transcribed.notes.groupby("clip_id", sort=False)}
    rows, estimates = [], []
    for clip_id in map(str, clip_ids):
        notes = by_clip.get(clip_id)
        tempo, beats = transcribed.beats.get(clip_id) or (float("nan"), np.empty(0))
        if notes is None or len(notes) == 0 or not (tempo > 0 or len(beats) >= 2):
            rows.append(np.zeros(len(names)))
            estimates.append((clip_id, tempo, -1, 0))
            continue
        tonic = estimate_tonic(notes["pitch_midi"], notes["duration_s"])
        rows.append(descriptors_from_seconds(notes, beats, tempo, tonic))
        estimates.append((clip_id, tempo, tonic, len(notes)))
    index = pd.Index([e[0] for e in estimates], name="clip_id")
    return (pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(names))), index=index, columns=names),
            pd.DataFrame([e[1:] for e in estimates], index=index, columns=["tempo_bpm", "tonic_pc", "n_notes"]))


def true_tonic(notes: pd.DataFrame, clips: pd.DataFrame) -> pd.Series:
    """The true tonic pitch class of each rendered clip: the tune's final note, transposed as rendered.

    ``notes``: the corpus notes table (``tune_id, pitch, onset, duration``);
    ``clips``: ``clip_id`` (or the index), ``tune_id``, ``transpose``.
    """
    finals = notes.sort_values("onset", kind="stable").groupby("tune_id", sort=False)["pitch"].last()
    clip_ids = clips["clip_id"] if "clip_id" in clips else clips.index.to_series()
    pcs = (finals.reindex(clips["tune_id"].astype(str)).to_numpy() + clips["transpose"].to_numpy()) % 12
    return pd.Series(pcs.astype(int), index=pd.Index(clip_ids.astype(str), name="clip_id"), name="tonic_pc")


def clip_score_descriptors(reference: pd.DataFrame, clips: pd.DataFrame, tonics: pd.Series) -> pd.DataFrame:
    """The clip score: descriptors of each clip's true notes, true tempo and true tonic.

    ``reference``: true notes per clip (``clip_id, onset_s, offset_s,
    pitch_midi``, from :func:`transcription_eval.reference_notes`); ``clips``:
    ``clip_id`` (or the index) and ``qpm`` (the rendered tempo: one beat is a
    quarter note, from time 0, as the renderer places notes); ``tonics``: the
    true tonic per clip id (:func:`true_tonic`). Raises ``ValueError`` naming
    a clip that has no true notes.
    """
    return read_as_heard(reference, clips, tonics)


def read_as_heard(notes: pd.DataFrame, clips: pd.DataFrame, tonics: pd.Series | None = None) -> pd.DataFrame:
    """True notes described as the transcribed score describes heard ones: for corpus tunes read as scores.

    ``notes``: true notes per clip (``clip_id, onset_s, pitch_midi`` and
    ``duration_s`` or ``offset_s``; e.g. :func:`manifest.corpus_training_clips`'s);
    ``clips``: ``clip_id`` (or the index) and ``qpm``, the rendered tempo, which
    places the beats from time 0 as the renderer does. The tonic is estimated
    from the notes (:func:`estimate_tonic`, as for a transcription) unless
    ``tonics`` gives it per clip id. One row of :func:`symbolic.descriptor_names`
    per clip, in the order of ``clips``; raises ``ValueError`` naming a clip
    without notes.
    """
    clip_ids = (clips["clip_id"] if "clip_id" in clips else clips.index.to_series()).astype(str).tolist()
    qpm = dict(zip(clip_ids, clips["qpm"].to_numpy(float)))
    by_clip = {str(c): g for c, g in notes.groupby("clip_id", sort=False)}
    missing = [c for c in clip_ids if c not in by_clip]
    if missing:
        raise ValueError(f"{len(missing)} clip(s) have no notes to describe, e.g. {missing[:5]}")
    rows = [descriptors_from_seconds(by_clip[c], np.empty(0), qpm[c], None if tonics is None else int(tonics[c]))
            for c in clip_ids]
    return pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(symbolic.descriptor_names()))),
                        index=pd.Index(clip_ids, name="clip_id"), columns=symbolic.descriptor_names())


def tempo_agreement(estimated_bpm, true_bpm, tolerance: float = TEMPO_TOLERANCE) -> dict[str, float]:
    """How well estimated tempi match the truth, as shares in [0, 1].

    ``same_level``: within ``tolerance`` of the true tempo (MIREX "accuracy
    1"); ``any_level``: within ``tolerance`` of the true tempo times 1, 2, 1/2,
    3 or 1/3 (MIREX "accuracy 2": the metrical level may differ);
    ``median_ratio``: the median of estimated / true.
    """
    est, true = np.asarray(estimated_bpm, dtype=float), np.asarray(true_bpm, dtype=float)
    if est.shape != true.shape or est.size == 0:
        raise ValueError(f"need equally many estimated and true tempi, got {est.shape} and {true.shape}")
    ratio = est / true
    close = lambda factor: np.abs(ratio - factor) <= tolerance * factor  # noqa: E731
    return {"same_level": float(close(1.0).mean()),
            "any_level": float(np.logical_or.reduce([close(f) for f in (1.0, 2.0, 0.5, 3.0, 1 / 3)]).mean()),
            "median_ratio": float(np.median(ratio))}


def tonic_agreement(estimated_pc, true_pc) -> dict[str, float]:
    """Shares of clips whose estimated tonic is the true one, a fifth away (either way), or else."""
    est, true = np.asarray(estimated_pc, dtype=int), np.asarray(true_pc, dtype=int)
    if est.shape != true.shape or est.size == 0:
        raise ValueError(f"need equally many estimated and true tonics, got {est.shape} and {true.shape}")
    step = (est - true) % 12
    return {"correct": float(np.mean(step == 0)), "fifth_away": float(np.mean((step == 7) | (step == 5))),
            "other": float(np.mean((step != 0) & (step != 5) & (step != 7)))}


# --------------------------------------------------------------------------- the three views of every clip

#: The score feature families, in the order the tables show them: what audio models can get
#: (``transcribed``) and the two references from true notes.
SCORE_FAMILIES = ("transcribed score", "clip score", "whole score")


@dataclass
class ScoreFeatures:
    """The three score views of a profile's clips, each a DataFrame indexed by tune id.

    ``families``: family name (:data:`SCORE_FAMILIES`) -> descriptors
    (:func:`symbolic.descriptor_names` columns); ``estimates``: per clip the
    estimated ``tempo_bpm``, ``tonic_pc``, ``n_notes`` beside the truth
    (``true_qpm``, ``true_tonic_pc``, ``true_notes``); ``note_scores``: the
    mir_eval scores of each clip's transcription against its true notes
    (:func:`transcription_eval.score_many`, with ``family`` and ``tempo``);
    ``skips``: clips that transcription skipped (their transcribed row is
    zeros); ``heard``: the :class:`transcription.TranscriptionSet` (notes,
    pitch tracks, beats); ``reference``: the true notes of every clip
    (:func:`transcription_eval.reference_notes`).
    """

    families: dict
    estimates: pd.DataFrame
    note_scores: pd.DataFrame
    skips: pd.DataFrame
    heard: object = None
    reference: pd.DataFrame | None = None


def score_features(tunes: pd.DataFrame, notes: pd.DataFrame, transcribed, render_params,
                   use_cache: bool = True) -> ScoreFeatures:
    """The transcribed score, the clip score and the whole score of every clip of ``tunes``.

    ``tunes``: ``tune_id, program, qpm, transpose`` per rendered clip (one
    clip per tune, its id the tune id); ``notes``: the corpus notes of those
    tunes; ``transcribed``: their :class:`transcription.TranscriptionSet`;
    ``render_params``: the :class:`render.RenderParams` the clips were
    rendered with (the clip score needs the window). One definition of the
    descriptors (:func:`symbolic.descriptors`) serves all three. Cached (module
    docstring); ``use_cache=False`` recomputes and overwrites.
    """
    clips = tunes[["tune_id", "program", "qpm", "transpose"]].assign(clip_id=tunes["tune_id"].astype(str))
    folder = config.DATA_DIR / "score_features" / _inputs_key(clips, notes, transcribed, render_params)
    tables = _read_tables(folder) if use_cache else None
    if tables is None:
        tables = _compute_tables(clips, notes, transcribed, render_params)
        _write_tables(folder, tables)
    return ScoreFeatures(families={name: tables[name] for name in SCORE_FAMILIES}, estimates=tables["estimates"],
                         note_scores=tables["note_scores"], skips=transcribed.skips, heard=transcribed,
                         reference=tables["reference"])


def _compute_tables(clips: pd.DataFrame, notes: pd.DataFrame, transcribed, render_params) -> dict[str, pd.DataFrame]:
    from musicgeo_utils import transcription_eval

    ids = clips["clip_id"].tolist()
    reference = transcription_eval.reference_notes(clips, notes, render_params)
    tonics = true_tonic(notes, clips)
    heard, estimates = transcribed_score_descriptors(transcribed, ids)
    estimates = estimates.assign(true_qpm=clips.set_index("clip_id")["qpm"], true_tonic_pc=tonics,
                                 true_notes=reference.groupby("clip_id").size().reindex(ids).fillna(0).astype(int))
    kept = ~clips["clip_id"].isin(transcribed.skips["clip_id"].astype(str))
    note_scores = transcription_eval.score_many(reference[reference["clip_id"].isin(clips.loc[kept, "clip_id"])],
                                                transcribed.notes, transcribed.tracks, clips)
    return {"transcribed score": heard, "clip score": clip_score_descriptors(reference, clips, tonics),
            "whole score": symbolic.score_descriptors(notes, ids).set_axis(pd.Index(ids, name="clip_id")),
            "estimates": estimates, "note_scores": note_scores, "reference": reference}


#: The cached tables indexed by clip id (the others have a plain range index).
_INDEXED_TABLES = (*SCORE_FAMILIES, "estimates")
#: Modules whose source enters the cache key: they compute the tables.
_SOURCE_MODULES = ("symbolic", "transcribed_score", "transcription_eval", "render")


def _inputs_key(clips, notes, transcribed, render_params) -> str:
    import mir_eval

    tables = [part for frame in (clips, notes, transcribed.notes, transcribed.skips)
              for part in (list(frame.columns), pd.util.hash_pandas_object(frame, index=False).to_numpy())]
    package = Path(__file__).resolve().parent
    sources = [(package / f"{name}.py").read_bytes() for name in _SOURCE_MODULES]
    return cache.content_key(*tables, *_clip_arrays(transcribed), asdict(render_params), mir_eval.__version__,
                             *sources)


def _clip_arrays(transcribed):
    """Each clip's id, pitch track, beats and tempo, in clip-id order (parts of the cache key)."""
    for clip_id in sorted(transcribed.tracks):
        tempo, beats = transcribed.beats.get(clip_id) or (float("nan"), np.empty(0))
        yield clip_id
        yield from transcribed.tracks[clip_id]
        yield from (np.asarray(beats, dtype=float), np.asarray([tempo], dtype=float))


def _read_tables(folder: Path) -> dict[str, pd.DataFrame] | None:
    if not (folder / "complete.json").exists():
        return None
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in cache.read_json(folder / "complete.json")}
    return {name: table.set_index("clip_id") if name in _INDEXED_TABLES else table for name, table in tables.items()}


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        cache.write_parquet(folder / f"{name}.parquet", table.reset_index() if name in _INDEXED_TABLES else table)
    cache.write_json(folder / "complete.json", list(tables))  # last: its presence marks a complete entry
