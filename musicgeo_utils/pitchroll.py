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
so its answer hardly depends on the key. Besides the profile's clips it learns
from training-split tunes the profile does not render, read as the rolls of
the notes a render would play (:func:`with_corpus_tunes`, :func:`style_roll_sets`). A clip is scored over windows
:data:`WINDOW_HOP` frames apart, their logits averaged. :func:`fit_style_crnn` is notebook
04's training of it, in one place for the notebook and the benchmarks.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

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
#: Notebook 04's training crops: 200 roll frames (8 s, long enough for a phrase), transposed by up
#: to 6 semitones either way (``meldata.split_datasets(..., shift_bins=MAX_TRANSPOSE)``).
ROLL_CROP_FRAMES, MAX_TRANSPOSE = 200, 6
#: Frames between the windows that score a whole clip (1 s): three windows of 8 s over a 10-second
#: clip, where half a window (the mel CRNN's hop) gives one and leaves the last 2 s unheard. Chosen
#: on validation with notebook 04's network (``python benchmarks/window_hop.py``; docs/experiments.md, "Windows").
WINDOW_HOP = 25


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


#: Frames per tracked beat of a beat roll (:func:`beat_roll`): eighth-note triplets and sixteenths
#: both land within half a frame.
BEAT_STEPS = 8
#: The tempo that places the frames of a clip in which the tracker found fewer than two beats.
FALLBACK_BPM = 120.0
#: Frames between the windows that score a whole beat roll (two beats).
BEAT_WINDOW_HOP = 2 * BEAT_STEPS


def beat_roll(notes: pd.DataFrame, beats, tempo_bpm: float, duration_s: float,
              steps_per_beat: int = BEAT_STEPS) -> np.ndarray:
    """Notes in seconds -> a roll whose frames are fractions of the clip's tracked beats.

    Onsets and ends are mapped to beat positions as the transcribed score maps
    them (:func:`transcribed_score.seconds_to_beats`: linear between the
    tracked beats, the median period outside them), counted from the clip's
    start, then drawn by :func:`note_roll` at ``steps_per_beat`` frames per
    beat. The same tune at another tempo gives (nearly) the same roll, where
    a roll in seconds stretches with the tempo; the roll is
    ``ceil(beats in the clip * steps_per_beat)`` frames long. With fewer than
    two beats and no positive tempo, :data:`FALLBACK_BPM` places the frames.
    """
    from .transcribed_score import seconds_to_beats

    beats = np.asarray(beats, dtype=float)
    if beats.size < 2 and not tempo_bpm > 0:
        tempo_bpm = FALLBACK_BPM
    first, last = seconds_to_beats([0.0, float(duration_s)], beats, tempo_bpm)
    if not last > first:
        raise ValueError(f"a clip of {duration_s} s spans no beats (tempo {tempo_bpm}, {beats.size} beats)")
    onset = notes["onset_s"].to_numpy(float)
    on = seconds_to_beats(onset, beats, tempo_bpm) - first
    off = seconds_to_beats(onset + notes["duration_s"].to_numpy(float), beats, tempo_bpm) - first
    in_beats = pd.DataFrame({"onset_s": on, "duration_s": np.maximum(off - on, 0.0),
                             "pitch_midi": notes["pitch_midi"].to_numpy(int)})
    return note_roll(in_beats, float(last - first), fps=float(steps_per_beat))


def clip_beat_rolls(transcribed, clip_ids, duration_s: float | pd.Series,
                    steps_per_beat: int = BEAT_STEPS) -> pd.Series:
    """One :func:`beat_roll` per clip id from a :class:`transcription.TranscriptionSet` (notes and beats)."""
    groups = {str(c): g for c, g in transcribed.notes.groupby("clip_id", sort=False)}
    empty = transcribed.notes.iloc[:0]
    rolls = {}
    for clip_id in map(str, clip_ids):
        length = duration_s[clip_id] if isinstance(duration_s, pd.Series) else duration_s
        tempo, beats = transcribed.beats.get(clip_id) or (float("nan"), np.empty(0))
        rolls[clip_id] = beat_roll(groups.get(clip_id, empty), beats, tempo, float(length), steps_per_beat)
    return pd.Series(rolls, dtype=object)


def style_task_inputs(profile: str = "small", seed: int = 0):
    """``(tunes, feats, style_codes, styles, rolls)``: what notebook 04's two style CRNNs read on the folk default.

    The profile's clips with their features (``feats.mel_paths`` for the mel CRNN), the style classes
    with at least the profile's ``min_train_per_class`` training tunes (``evaluation.encode_classes``)
    and each clip's semitone roll of its transcribed notes (:func:`clip_rolls`); everything from the
    caches of notebooks 02-04, for the benchmarks that load notebook 04's networks.
    """
    from . import config, evaluation, manifest, runs

    tunes, feats = runs.use("folk", "", profile, seed).features()
    style_codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                                    config.get_profile(profile).min_train_per_class)
    _, scored = manifest.profile_score_features(profile, seed)
    return tunes, feats, style_codes, styles, clip_rolls(scored.heard.notes, tunes["tune_id"],
                                                         config.get_profile(profile).clip_seconds)


@dataclasses.dataclass
class GeoTaskInputs:
    """What the benchmarks that load notebook 04's geographic pitch CRNN read (:func:`geo_task_inputs`)."""

    tunes: pd.DataFrame
    feats: object
    rolls: pd.Series
    pitch_model: object
    pitch_key: str
    geo_tunes: pd.DataFrame
    region_codes: np.ndarray
    region_names: list
    centroids: pd.DataFrame
    shares: pd.DataFrame
    sets: dict
    models_dir: Path


def geo_task_inputs(profile: str = "small", seed: int = 0) -> GeoTaskInputs:
    """Notebook 04's region task on the pitch roll: its style pitch CRNN (loaded by its training key, trained
    again if missing) with that key, the located tunes, their region classes, centres and country shares,
    and the region-coded roll datasets of each split (:func:`meldata.split_datasets`, as notebook 04's)."""
    from . import config, meldata, regions, runs, training

    tunes, feats, style_codes, styles, rolls = style_task_inputs(profile, seed)
    roll_sets, _ = style_roll_sets(tunes, rolls, style_codes, styles, profile, seed, crop_frames=ROLL_CROP_FRAMES)
    folder = runs.use("folk", "", profile, seed).models_dir()
    pitch_model, _, pitch_config = fit_style_crnn(roll_sets, len(styles), folder,
                                                  epochs=config.get_profile(profile).epochs, seed=seed,
                                                  crop_frames=ROLL_CROP_FRAMES)
    pitch_key = training.training_key(pitch_config, pitch_model, roll_sets["train"], roll_sets["val"])
    geo_tunes = runs.located(tunes)
    region_codes, region_names, centroids, shares = regions.region_task(geo_tunes)
    sets = meldata.split_datasets(geo_tunes, rolls, region_codes, ROLL_CROP_FRAMES, seed, shift_bins=MAX_TRANSPOSE,
                                  window_hop=WINDOW_HOP)
    return GeoTaskInputs(tunes, feats, rolls, pitch_model, pitch_key, geo_tunes, np.asarray(region_codes),
                         list(region_names), centroids, shares, sets, Path(folder))


def corpus_training_rolls(profile: str = "small", seed: int = 0, per_style: int | None = None,
                          styles=None) -> tuple[pd.DataFrame, pd.Series]:
    """``(tunes, rolls)``: :func:`manifest.corpus_training_clips` (training-split tunes of the corpus that the
    profile leaves out, at most ``per_style`` per style, only ``styles`` when given) as true-note rolls.

    Each roll is that of the notes the renderer would play in the profile's
    clip, so it reads like a clip's transcription without one. The CRNN ablation
    (docs/experiments.md) found the pitch CRNN scores the same trained on true or on
    transcribed notes. ``tunes`` is in the order of ``rolls`` (indexed by tune id).
    """
    from . import config, manifest

    pool, true_notes = manifest.corpus_training_clips(profile, seed, per_group=per_style, group_by="style",
                                                      values=styles)
    return pool, clip_rolls(true_notes, pool["tune_id"], config.get_profile(profile).clip_seconds)


def with_corpus_tunes(tunes: pd.DataFrame, rolls: pd.Series, codes, styles, profile: str = "small",
                      seed: int = 0, per_style: int | None = None):
    """``(tunes, rolls, codes)`` of the profile's clips followed by :func:`corpus_training_rolls`'s tunes.

    What notebook 04's style pitch CRNN trains on (folk corpus): ``tunes``
    (``tune_id, split, style``), the rolls of the transcribed clips and their
    style ``codes`` (class codes in the order of ``styles``), extended by the
    training-split tunes the profile does not render, as true-note rolls, with
    the codes of their styles; validation and test are the profile's alone.
    ``per_style`` 0 adds none (default: the profile's ``score_tunes_per_style``).
    """
    from . import config

    per_style = config.get_profile(profile).score_tunes_per_style if per_style is None else per_style
    if per_style <= 0:
        return tunes, rolls, np.asarray(codes)
    more, more_rolls = corpus_training_rolls(profile, seed, per_style=per_style, styles=styles)
    columns = ["tune_id", "split", "style"]
    both = pd.concat([tunes[columns], more[columns]], ignore_index=True)
    more_codes = more["style"].map({name: code for code, name in enumerate(styles)}).to_numpy(int)
    return both, pd.concat([rolls, more_rolls]), np.concatenate([np.asarray(codes), more_codes])


def extra_render_rolls(extra, duration_s: float) -> pd.Series:
    """The roll of each extra render (``manifest.ExtraRenders``: the profile's training tunes played again by
    other training instruments, transcribed), indexed by ``(render, tune_id)``, render by render in the
    order of ``extra.tunes``. :func:`alternates_by_tune` groups them per tune."""
    if extra.notes is None:
        raise ValueError("these extra renders carry no notes (manifest.profile_extra_renders gives them)")
    kept = extra.tunes[["tune_id", "render"]].astype({"tune_id": str})
    parts = []
    for render, group in kept.groupby("render", sort=True):
        notes = extra.notes[extra.notes["render"] == render].drop(columns="render")
        rolls = clip_rolls(notes, group["tune_id"], duration_s)
        parts.append(pd.Series(list(rolls.to_numpy()), dtype=object,
                               index=pd.MultiIndex.from_product([[int(render)], rolls.index], names=["render", "tune_id"])))
    if not parts:
        return pd.Series([], dtype=object, index=pd.MultiIndex.from_tuples([], names=["render", "tune_id"]))
    return pd.concat(parts)


def alternates_by_tune(rolls: pd.Series) -> pd.Series:
    """Tune id -> a tuple of its :func:`extra_render_rolls`, in render order: ``meldata.split_datasets``'s
    ``alternates`` (other versions of a training clip, one drawn per epoch)."""
    by_tune: dict[str, list] = {}
    for (_, tune_id), roll in sorted(rolls.items(), key=lambda item: item[0][0]):
        by_tune.setdefault(tune_id, []).append(roll)
    return pd.Series({tune_id: tuple(versions) for tune_id, versions in by_tune.items()}, dtype=object)


def style_roll_sets(tunes: pd.DataFrame, rolls: pd.Series, codes, styles, profile: str = "small", seed: int = 0, *,
                    folk: bool = True, per_style: int | None = None, crop_frames: int = ROLL_CROP_FRAMES,
                    max_transpose: int = MAX_TRANSPOSE) -> tuple[dict, int]:
    """Notebook 04's datasets of the style pitch CRNN -> ``(sets, n_scores)``.

    ``meldata.split_datasets`` of the profile's clips (``rolls`` of their
    transcribed notes, style ``codes`` in the order of ``styles``), transposed
    training crops of ``crop_frames``, windows :data:`WINDOW_HOP` apart; on the
    folk corpus (``folk``) the training set also holds :func:`with_corpus_tunes`'s
    tunes read as scores, ``n_scores`` of them. The benchmarks that load
    notebook 04's network by its training key build its data here too.
    """
    from . import meldata

    own = len(tunes)
    if folk:
        tunes, rolls, codes = with_corpus_tunes(tunes, rolls, codes, styles, profile, seed, per_style)
    sets = meldata.split_datasets(tunes, rolls, codes, crop_frames, seed, shift_bins=max_transpose,
                                  window_hop=WINDOW_HOP)
    return sets, len(tunes) - own


def uniform_stats(rolls) -> tuple[np.ndarray, np.ndarray]:
    """One mean and standard deviation over every value of the training rolls, repeated per row.

    Per-row statistics would treat each pitch differently and undo the
    network's indifference to transposition; for ``models.MelNormalizer.set_stats``.
    """
    values = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in rolls])
    mean, std = float(values.mean()), float(values.std()) or 1.0
    n_rows = np.asarray(rolls[0]).shape[0]
    return np.full(n_rows, mean), np.full(n_rows, std)


def fit_style_crnn(roll_sets: dict, n_styles: int, checkpoint_dir: str | os.PathLike, *, epochs: int, seed: int,
                   crop_frames: int = ROLL_CROP_FRAMES, batch_size: int = 32, device: str | None = None):
    """Notebook 04's style pitch CRNN, trained (or loaded by its training key) -> ``(model, history, config)``.

    ``roll_sets``: :func:`style_roll_sets`'s (the clips' rolls with
    ``crop_frames`` and ``shift_bins=MAX_TRANSPOSE``; on the folk corpus the
    training set also holds tunes read as scores). The recipe
    (:data:`STYLE_RECIPE`): AdamW from 1e-3 down a half cosine over
    :func:`schedule_epochs` of the profile's ``epochs`` (a third), cross-entropy weighted
    by inverse class frequency, mixup (:data:`PITCH_MIXUP`), the epoch with the
    best validation macro-F1 kept (early stopping after 6 epochs without a gain),
    initial weights from ``seed``, one mean and deviation over all training rolls
    (:func:`uniform_stats`). The checkpoint is
    ``checkpoint_dir/pitch-crnn-<training key>.pt``, so every caller with the
    same data finds the same network.
    """
    from . import training  # torch only when a network is wanted

    train_config = dataclasses.replace(training.style_config(
        epochs=schedule_epochs(epochs), batch_size=batch_size, crop_frames=crop_frames, seed=seed,
        model_kwargs=PITCH_CRNN_KWARGS, device=device), mixup=PITCH_MIXUP, **STYLE_RECIPE)
    model = initial_style_crnn(n_styles, roll_sets["train"].sources, seed)
    model, history = training.fit_or_load(model, roll_sets["train"], roll_sets["val"], train_config, checkpoint_dir,
                                          "pitch-crnn")
    return model, history, train_config


def schedule_epochs(epochs: int) -> int:
    """The epochs of a pitch CRNN's cosine schedule: a third of the profile's ``epochs`` (at least 3;
    the ``small`` profile's 30 give 10), the length of both pitch CRNNs' learning-rate half cosine
    (the geographic one's capped at :data:`GEO_EPOCHS`)."""
    return max(3, epochs // 3)


#: Learning-rate schedule of notebook 04's style pitch CRNN: a half cosine from 1e-3 to 1e-5 over
#: :func:`schedule_epochs` (10 on the ``small`` profile). At a constant rate the validation macro-F1
#: kept jumping (0.30-0.41 from epoch to epoch) and the network ran 22-30 epochs; over training
#: seeds 0-2 the schedule's whole-clip validation macro-F1 was 0.397 on average over 15 epochs and
#: 0.395 over 10, against 0.406 at the constant rate, all within the seeds' spread (docs/experiments.md, "The style
#: pitch CRNN's schedule"; ``benchmarks/ablation_crnn.py --variants pitch-200-mixup-corpus-cosine``).
STYLE_RECIPE = {"lr_schedule": "cosine"}


#: Mixup of notebook 04's style pitch CRNN: each batch trained on mixtures of two of its rolls, the
#: weight drawn from Beta(0.2, 0.2) (``TrainConfig(mixup=...)``). Over training seeds 0-2 it raised the
#: whole-clip validation macro-F1 from 0.369 to 0.390 on average (docs/experiments.md, "Mixup"; ``benchmarks/ablation_crnn.py``).
PITCH_MIXUP = 0.2

#: Early stopping and learning-rate schedule of notebook 04's geographic pitch CRNN (docs/experiments.md, "The
#: geographic pitch CRNN's recipe"; ``benchmarks/geo_pitch_recipe.py`` compares it with patience 2).
GEO_RECIPE = {"patience": 6, "lr_schedule": "cosine"}
#: Most epochs of the geographic pitch CRNN's fine-tune (its half cosine spans ``min(GEO_EPOCHS,
#: schedule_epochs(epochs))``: 8 on ``small`` and ``full``, 3 on ``tiny``). Over training seeds 0-2 the cosine over 8
#: epochs gave a lower validation balanced median than over 15 under every seed, 919 km against 948 on
#: average (docs/experiments.md, "The geographic pitch CRNN's recipe"; ``benchmarks/geo_pitch_recipe.py``).
GEO_EPOCHS = 8


def fit_geo_crnn(geo_roll_sets: dict, n_regions: int, pitch_model, checkpoint_dir: str | os.PathLike, name: str, *,
                 epochs: int, seed: int, crop_frames: int = ROLL_CROP_FRAMES, batch_size: int = 32,
                 device: str | None = None, recipe: dict | None = None):
    """Notebook 04's geographic pitch CRNN, fine-tuned (or loaded by its training key) -> ``(model, history)``.

    The style ``pitch_model``'s weights with a new head of ``n_regions``
    (drawn from ``seed``), trained on ``geo_roll_sets`` (region-coded rolls,
    transposed crops): AdamW at 1e-3, cross-entropy weighted by inverse region
    frequency, :data:`GEO_EPOCHS` epochs at most (fewer when :func:`schedule_epochs` of the profile's
    ``epochs`` is smaller), early
    stopping on the validation loss as :data:`GEO_RECIPE` says; ``recipe``
    overrides its entries and may replace the class weighting or the number of epochs (e.g.
    ``{"sampler": "balanced", "class_weight": None}``, ``{"epochs": 8}``). The checkpoint is
    ``checkpoint_dir/<name>-<training key>.pt``.
    """
    from . import config, models, training  # torch only when a network is wanted

    config.seed_everything(seed)
    model = models.CRNN(n_regions, n_mels=N_PITCHES, **PITCH_CRNN_KWARGS)
    model.load_state_dict({k: v for k, v in pitch_model.state_dict().items() if not k.startswith("head")}, strict=False)
    train_config = training.TrainConfig(task="classify", batch_size=batch_size, crop_frames=crop_frames, seed=seed,
                                        device=device, progress=False, model="crnn", model_kwargs=PITCH_CRNN_KWARGS,
                                        lr=1e-3, **{"epochs": min(GEO_EPOCHS, schedule_epochs(epochs)),
                                                    "class_weight": "balanced", **GEO_RECIPE, **(recipe or {})})
    return training.fit_or_load(model, geo_roll_sets["train"], geo_roll_sets["val"], train_config, checkpoint_dir, name)


def initial_style_crnn(n_styles: int, train_rolls, seed: int):
    """Notebook 04's style pitch CRNN before training: weights drawn from ``seed``, normalised by
    :func:`uniform_stats` of the training rolls (what :func:`fit_style_crnn` trains)."""
    from . import config, models

    config.seed_everything(seed)
    model = models.CRNN(n_styles, n_mels=N_PITCHES, **PITCH_CRNN_KWARGS)
    model.normalizer.set_stats(*uniform_stats(train_rolls))
    return model
