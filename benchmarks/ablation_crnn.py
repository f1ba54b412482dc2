"""What notebook 04's CRNN choices cost in accuracy, and what they buy in time.

Trains each variant on the ``small`` profile's style task (the cached mel
spectrograms notebook 02 wrote; run ``make report`` or notebook 02 first) with
the same recipe as notebook 04 (AdamW, lr 1e-3, class-balanced cross-entropy,
best epoch by validation macro-F1), for the same fixed number of epochs, and
prints for each: parameters, seconds per epoch measured in this run, the
implied seconds per epoch of 1,000 clips (target <= 40 s on 2 CPU cores),
the best validation macro-F1 (centre crops, as training monitors it), and
for that epoch's weights the validation macro-F1 over every window of the
clip (``val_clip_macro_f1``: as ``predict`` scores a file, the fairer basis
for a choice) and the test accuracy and macro-F1. The variants change one
choice at a time against notebook 04's compact model:

- ``compact-256``: notebook 04's model (widths 16-32-64-64, frequency pooled
  early 4-4-3-2, frames averaged in pairs at the input) on 256-frame crops;
- ``compact-128``: the same on 128-frame crops (2.7 s instead of 5.5 s);
- ``compact-no-input-pool``: every frame kept (time pooled 2-2-2-2 instead);
- ``default-256``: the default widths 32-64-64-64, frequency pools 2-2-2-12;
- ``deep-256``: the 6-block variant (slow on CPU; ``--variants`` to add it);
- ``pitch-200``: notebook 04's pitch CRNN (:data:`pitchroll.PITCH_CRNN_KWARGS`) on
  the semitone roll of the transcribed notes, 200-frame crops (8 s), transposed
  by up to 6 semitones in training (notebook 02's transcriptions must exist),
  without the mixup notebook 04 adds (``pitch-200-mixup``); the variants below
  change one thing against it;
- ``pitch-200-no-transpose``: the same without the transposition;
- ``pitch-200-wide``: the compact widths 16-32-64-64 and no input pooling;
- ``pitch-200-cosine``: the pitch CRNN with the learning rate lowered along a
  half cosine over the epochs (``TrainConfig(lr_schedule="cosine")``);
- ``pitch-200-balanced-sampler``: classes drawn equally often instead of a
  class-weighted loss (``TrainConfig(sampler="balanced", class_weight=None)``);
- ``pitch-200-cosine-balanced-sampler``: both.
- ``pitch-200-ema``: validated, kept and saved with an exponential moving
  average of the weights (``TrainConfig(ema_decay=0.995)``: about 2.6 epochs);
- ``pitch-200-ema-lr3``: the same with the learning rate 3e-3.
- ``pitch-250``, ``pitch-150``: the pitch CRNN on crops of 250 frames (10 s: a
  whole clip of the ``small`` profile, so the crop only transposes) and of 150
  frames (6 s; scored on two windows of the clip).
- ``pitch-200-stretch``: the pitch CRNN with training crops also read at a
  random tempo, up to 25 % faster or slower (``MelDataset(stretch=1.25)``):
  the renders' tempi (80-140 quarter notes per minute) are drawn at random,
  unrelated to the style.
- ``pitch-200-pcf``: the pitch CRNN whose embedding also holds the key-invariant
  Fourier magnitudes of the crop's pitch-class histogram
  (``CRNN(pitch_class_fourier=True)``): the maximum over pitch before its GRU
  hides which pitch classes recur, that is the scale.
- ``pitch-200-true-notes``: the pitch CRNN trained and scored on the roll of
  the *true* notes of each rendered clip (``ScoreFeatures.reference``: what
  the renderer played in that window) instead of the transcribed ones: how
  much better the network would do with a perfect melody front end.
- ``beat-128``: the pitch CRNN on a roll counted in tracked beats instead of
  seconds (``pitchroll.clip_beat_rolls``: 8 frames per beat, crops of 16 beats,
  windows 2 beats apart), so a tune reads the same at any tempo, as the score
  descriptors count in beats.
- ``pitch-200-mixup``: the pitch CRNN trained on mixtures of two rolls of a
  batch with the loss mixed alike (``TrainConfig(mixup=0.2)``: the weight
  drawn from Beta(0.2, 0.2)), a regulariser for small training sets: notebook
  04's recipe (:data:`pitchroll.PITCH_MIXUP`).
- ``pitch-200-mixup-corpus``: notebook 04's recipe with more training tunes:
  besides the profile's transcribed training clips, up to the profile's
  ``score_tunes_per_style`` training-split tunes per style that the
  profile does not render, read as the roll of the notes the renderer would
  play (:func:`pitchroll.with_corpus_tunes`); validation and test as before.
- ``pitch-200-mixup-corpus-epoch2400``: the same, each epoch 2,400 training
  clips drawn afresh (``TrainConfig(epoch_size=2400)``, about the profile's
  own training clips): epochs, validation and patience as short as before the
  tunes read as scores were added, every tune still within reach.
- ``pitch-200-mixup-corpus-cosine``: notebook 04's recipe with the learning
  rate lowered along a half cosine over ``--epochs`` (1e-3 to 1e-5), so the
  last epochs settle instead of jumping, and the number of epochs is a choice
  rather than the luck of a noisy validation score.
- ``pitch-200-mixup-corpus-extra-cosine``: that recipe, its training set also
  holding the transcriptions of the profile's extra renders (each training
  tune played again by other training instruments,
  :func:`manifest.profile_extra_renders`, the renders notebook 04's
  transcribed-score classifiers learn from), so the network meets real
  transcription errors of many instruments; each epoch draws as many clips
  as the set without them holds (``TrainConfig(epoch_size=...)``), so an
  epoch costs what it did.
- ``pitch-200-mixup-corpus-cosine-tonic``: that recipe, the network's embedding
  also holding the crop's pitch-class histogram turned so that its estimated
  tonic comes first, and whether a minor key fits better
  (``CRNN(tonic_profile=True)``, :func:`models.tonic_profile`): the scale
  degrees the score descriptors count, which the maximum over pitch hides.
- ``pitch-200-mixup-corpus1000-cosine``: that recipe with up to 1,000 tunes
  read as scores per style instead of the profile's 500 (as many as the
  corpus holds beyond the profile: German folk and Irish dance reach 1,000,
  the other styles have fewer), each epoch drawing as many clips as
  notebook 04's training set holds, so an epoch costs what it did.
- ``pitch-200-lr3e-4``, ``pitch-200-batch64``: the pitch CRNN with a learning
  rate of 3e-4, or batches of 64 clips (its validation macro-F1 jumps from
  epoch to epoch at 1e-3 and 32).

One run trains every variant in turn on one machine, so their times compare;
all numbers come from this run. Results are also written (atomically) to
``data/results/ablation-crnn-<profile>-<seed>.csv``, with the training seed, the patience and the
variants in the name when they are not the defaults (so runs of other variants do not overwrite it).

    python benchmarks/ablation_crnn.py --epochs 12

Every variant runs all ``--epochs`` (the best epoch's weights are scored), so
their times compare. ``--patience 6`` stops each one as notebook 04 stops its
pitch CRNN instead: a finding meant for the notebook should hold under that
rule too (the pitch-class branch's lead on validation did not, docs/experiments.md, "CRNN ablation").
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd

from musicgeo_utils.models import COMPACT_CRNN_KWARGS as COMPACT  # notebook 04's model
from musicgeo_utils.pitchroll import PITCH_CRNN_KWARGS as PITCH, PITCH_MIXUP  # notebook 04's pitch CRNN

COSINE, SAMPLER = {"lr_schedule": "cosine"}, {"sampler": "balanced", "class_weight": None}
EMA = {"ema_decay": 0.995}
AS_NOTEBOOK = "notebook 04's"  # an epoch_size: as many clips as notebook 04's training set holds (the input's third item)
VARIANTS = {  # name: (model kwargs, crop frames, deep?, input, transposition in semitones[, TrainConfig changes])
    "compact-256": (COMPACT, 256, False, "mel", 0),
    "compact-128": (COMPACT, 128, False, "mel", 0),
    "compact-no-input-pool": ({**COMPACT, "time_pools": (2, 2, 2, 2), "input_time_pool": 1}, 256, False, "mel", 0),
    "default-256": ({}, 256, False, "mel", 0),
    "deep-256": ({}, 256, True, "mel", 0),
    "pitch-200": (PITCH, 200, False, "roll", 6),
    "pitch-200-no-transpose": (PITCH, 200, False, "roll", 0),
    "pitch-200-wide": ({**PITCH, "channels": (16, 32, 64, 64), "input_time_pool": 1}, 200, False, "roll", 6),
    "pitch-200-cosine": (PITCH, 200, False, "roll", 6, COSINE),
    "pitch-200-balanced-sampler": (PITCH, 200, False, "roll", 6, SAMPLER),
    "pitch-200-cosine-balanced-sampler": (PITCH, 200, False, "roll", 6, {**COSINE, **SAMPLER}),
    "pitch-200-ema": (PITCH, 200, False, "roll", 6, EMA),
    "pitch-200-ema-lr3": (PITCH, 200, False, "roll", 6, {**EMA, "lr": 3e-3}),
    "pitch-250": (PITCH, 250, False, "roll", 6),
    "pitch-150": (PITCH, 150, False, "roll", 6),
    "pitch-200-lr3e-4": (PITCH, 200, False, "roll", 6, {"lr": 3e-4}),
    "pitch-200-batch64": (PITCH, 200, False, "roll", 6, {"batch_size": 64}),
    "pitch-200-stretch": (PITCH, 200, False, "roll", 6, {"stretch": 1.25}),
    "pitch-200-pcf": ({**PITCH, "pitch_class_fourier": True}, 200, False, "roll", 6),
    "pitch-200-true-notes": (PITCH, 200, False, "true-roll", 6),
    "beat-128": (PITCH, 128, False, "beat-roll", 6),
    "pitch-200-mixup": (PITCH, 200, False, "roll", 6, {"mixup": PITCH_MIXUP}),
    "pitch-200-mixup-corpus": (PITCH, 200, False, "corpus-roll", 6, {"mixup": PITCH_MIXUP}),
    "pitch-200-mixup-corpus-epoch2400": (PITCH, 200, False, "corpus-roll", 6, {"mixup": PITCH_MIXUP, "epoch_size": 2400}),
    "pitch-200-mixup-corpus-cosine": (PITCH, 200, False, "corpus-roll", 6, {"mixup": PITCH_MIXUP, **COSINE}),
    "pitch-200-mixup-corpus-cosine-tonic": ({**PITCH, "tonic_profile": True}, 200, False, "corpus-roll", 6,
                                            {"mixup": PITCH_MIXUP, **COSINE}),
    "pitch-200-mixup-corpus1000-cosine": (PITCH, 200, False, "corpus1000-roll", 6,
                                          {"mixup": PITCH_MIXUP, **COSINE, "epoch_size": AS_NOTEBOOK}),
    "pitch-200-mixup-corpus-extra-cosine": (PITCH, 200, False, "extra-roll", 6,
                                            {"mixup": PITCH_MIXUP, **COSINE, "epoch_size": AS_NOTEBOOK}),
}
ROLL_INPUTS = ("roll", "true-roll", "beat-roll", "corpus-roll", "extra-roll", "corpus1000-roll")  # semitone rolls: 60 rows, normalised with one mean and deviation
DEFAULT_VARIANTS = ("compact-256", "compact-128", "compact-no-input-pool", "default-256", "pitch-200",
                    "pitch-200-no-transpose")


def run_variant(name, tunes, inputs, codes, n_classes, epochs, seed, patience=None, extra=None) -> dict:
    """One variant; ``inputs``: {"mel": mel paths, "roll" / "true-roll": semitone rolls of the transcribed
    / the true notes}, each indexed by tune id;
    ``seed``: the training's (initial weights, crops, transpositions, batch order); ``patience``: early
    stopping on validation macro-F1 after this many epochs without a gain (``None``: every variant runs
    all ``epochs``, so their times compare); ``extra``: {input: (tunes, codes)} for an input whose
    training set reaches beyond the profile's tunes ("corpus-roll")."""
    from musicgeo_utils import config, evaluation, meldata, models, pitchroll, training

    kwargs, crop, deep, source, shift, *changes = VARIANTS[name]
    tunes, codes, *base = (extra or {}).get(source, (tunes, codes))
    recipe = dict(changes[0]) if changes else {}
    if recipe.get("epoch_size") == AS_NOTEBOOK:  # as many clips per epoch as notebook 04 draws
        recipe["epoch_size"] = base[0]
    sets = meldata.split_datasets(tunes, inputs[source], codes, crop, seed, shift_bins=shift,
                                  stretch=recipe.pop("stretch", 1.0),  # rolls scored over notebook 04's windows
                                  window_hop=(pitchroll.BEAT_WINDOW_HOP if source == "beat-roll" else
                                              pitchroll.WINDOW_HOP if source in ROLL_INPUTS else None))
    # notebook 04's recipe (training.style_config), with the variant's changes and its own stopping rule
    cfg = dataclasses.replace(training.style_config(epochs=epochs, batch_size=32, crop_frames=crop, seed=seed,
                                                    model_kwargs=dict(kwargs)),
                              patience=patience or epochs, **recipe)
    config.seed_everything(seed)
    bins = {"n_mels": pitchroll.N_PITCHES} if source in ROLL_INPUTS else {}
    model = models.CRNN.deep(n_classes, **kwargs) if deep else models.CRNN(n_classes, **bins, **kwargs)
    if source in ROLL_INPUTS:
        model.normalizer.set_stats(*pitchroll.uniform_stats(sets["train"].sources))
    start = time.perf_counter()
    history = training.fit(model, sets["train"], sets["val"], cfg)
    wall = time.perf_counter() - start
    logits, _ = training.predict(model, sets["test"].as_eval(meldata.CLIP_WINDOWS))
    scores = evaluation.scores(name, sets["test"].targets, logits.argmax(axis=1))
    val_logits, _ = training.predict(model, sets["val"].as_eval(meldata.CLIP_WINDOWS))  # as predict scores a file
    seconds = history.frame["seconds"].to_numpy()
    return {"variant": name, "crop_frames": crop, "parameters": sum(p.numel() for p in model.parameters()),
            "epochs": len(seconds), "s_per_epoch": float(np.median(seconds)),
            "s_per_1000_clips": float(np.median(seconds)) * 1000 / len(sets["train"]),
            "best_epoch": history.best_epoch,
            "val_macro_f1": float(history.frame["val_macro_f1"].max()),
            "val_clip_macro_f1": evaluation.macro_f1(sets["val"].targets, val_logits.argmax(axis=1)),
            "test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"], "wall_s": wall}


def extra_render_rolls(profile, seed, tunes, codes):
    """``(tunes, rolls, codes)`` of the profile's extra renders (training tunes only), transcribed as
    notebook 04's clips are (``pitchroll.extra_render_rolls``); ids ``<tune id>#render<k>`` so that they do
    not clash with the tune's own clip."""
    from musicgeo_utils import config, manifest, pitchroll

    rolls = pitchroll.extra_render_rolls(manifest.profile_extra_renders(profile, seed),
                                         config.get_profile(profile).clip_seconds)
    own = [tune_id for _, tune_id in rolls.index]
    ids = [f"{tune_id}#render{k}" for k, tune_id in rolls.index]
    by_id = tunes.assign(code=np.asarray(codes)).set_index(tunes["tune_id"].astype(str)).loc[own]
    return (pd.DataFrame({"tune_id": ids, "split": "train", "style": by_id["style"].to_numpy()}),
            pd.Series(list(rolls.to_numpy()), index=ids, dtype=object), by_id["code"].to_numpy(int))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0, help="the profile's seed (its renders, features, splits)")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="the training's seed (initial weights, crops, batch order); default: --seed. "
                             "Several training seeds on the same data show the run-to-run spread")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--patience", type=int, default=None,
                        help="stop a variant after this many epochs without a gain in validation macro-F1, as "
                             "notebook 04 does (6 for the pitch CRNN); default: no early stopping")
    parser.add_argument("--min-train-per-class", type=int, default=30)
    args = parser.parse_args(argv)

    from musicgeo_utils import cache, config, evaluation, manifest, pitchroll

    tunes, feats = manifest.profile_features(args.profile, args.seed)
    inputs = {"mel": feats.mel_paths}
    if any(VARIANTS[name][3] in ROLL_INPUTS for name in args.variants):
        _, scored = manifest.profile_score_features(args.profile, args.seed)
        seconds = config.get_profile(args.profile).clip_seconds
        inputs["roll"] = pitchroll.clip_rolls(scored.heard.notes, tunes["tune_id"], seconds)
        true_notes = scored.reference.assign(duration_s=scored.reference["offset_s"] - scored.reference["onset_s"])
        inputs["true-roll"] = pitchroll.clip_rolls(true_notes, tunes["tune_id"], seconds)
        inputs["beat-roll"] = pitchroll.clip_beat_rolls(scored.heard, tunes["tune_id"], seconds)
    codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train", args.min_train_per_class)
    extra = {}
    if any(VARIANTS[name][3] in ("corpus-roll", "extra-roll", "corpus1000-roll") for name in args.variants):
        both, inputs["corpus-roll"], both_codes = pitchroll.with_corpus_tunes(tunes, inputs["roll"], codes, styles,
                                                                             args.profile, args.seed)
        extra["corpus-roll"] = (both, both_codes)
        print(f"corpus-roll: {len(both) - len(tunes)} more training tunes from outside the profile "
              f"({both['style'].iloc[len(tunes):].value_counts().to_dict()})")
        notebook_clips = int(((both["split"] == "train") & (both_codes >= 0)).sum())  # notebook 04's epoch
        if any(VARIANTS[name][3] == "extra-roll" for name in args.variants):
            more, inputs["extra-roll"], more_codes = extra_render_rolls(args.profile, args.seed, tunes, codes)
            extra["extra-roll"] = (pd.concat([both, more], ignore_index=True), np.concatenate([both_codes, more_codes]),
                                   notebook_clips)
            inputs["extra-roll"] = pd.concat([inputs["corpus-roll"], inputs["extra-roll"]])
            print(f"extra-roll: {len(more)} transcribed extra renders of training tunes")
        if any(VARIANTS[name][3] == "corpus1000-roll" for name in args.variants):
            more, inputs["corpus1000-roll"], more_codes = pitchroll.with_corpus_tunes(
                tunes, inputs["roll"], codes, styles, args.profile, args.seed, per_style=1000)
            extra["corpus1000-roll"] = (more, more_codes, notebook_clips)
            print(f"corpus1000-roll: {len(more) - len(tunes)} more training tunes from outside the profile "
                  f"({more['style'].iloc[len(tunes):].value_counts().to_dict()})")
    train_seed = args.seed if args.train_seed is None else args.train_seed
    print(f"profile {args.profile!r}, seed {args.seed}: {int((codes >= 0).sum())} tunes, {len(styles)} styles, "
          f"{args.epochs} epochs per variant (early stopping: {args.patience or 'none'}), training seed {train_seed}, "
          f"{config.n_jobs()} CPU threads")
    rows = []
    for name in args.variants:
        row = run_variant(name, tunes, inputs, codes, len(styles), args.epochs, train_seed, args.patience, extra)
        rows.append(row)
        print(f"  {name}: {row['s_per_epoch']:.1f} s/epoch, test macro-F1 {row['test_macro_f1']:.3f}", flush=True)
    table = pd.DataFrame(rows)
    reference = table.set_index("variant").loc[args.variants[0]]
    table["time_vs_first"] = table["s_per_epoch"] / reference["s_per_epoch"]
    table["macro_f1_vs_first"] = table["test_macro_f1"] - reference["test_macro_f1"]
    table["meets_40s_per_1000"] = table["s_per_1000_clips"] <= 40.0
    pd.set_option("display.width", 200)
    print(table.drop(columns=["wall_s"]).round(3).to_string(index=False))
    suffix = "" if train_seed == args.seed else f"-train{train_seed}"
    suffix += f"-patience{args.patience}" if args.patience else ""
    suffix += "" if tuple(args.variants) == DEFAULT_VARIANTS else "-" + "+".join(args.variants)  # runs don't overwrite
    out = config.data_path("results", f"ablation-crnn-{args.profile}-{args.seed}{suffix}.csv")
    with cache.atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
