"""The geographic pitch CRNN's training recipe, over several training seeds, on validation.

Notebook 04 fine-tunes its style pitch CRNN into a region classifier (the geographic pitch CRNN):
AdamW at 1e-3, class-balanced cross-entropy, at most ``pitchroll.GEO_EPOCHS`` epochs, early stopping on
the validation loss. This script trains that network again under several recipes and training
seeds (the seed of the head's initial weights and of the training crops; the data, splits and the
style network are notebook 04's) and scores each as notebook 04 does
(``region_crnn.calibrated_answers``: logits over every window of the clip, a temperature and a
decoding fitted on validation). It prints, on validation only, the balanced median (km, the mean
over countries of each country's median error: notebook 04's criterion between region models) and
the balanced country accuracy (all countries; countries with at least 10 tunes).

Recipes:

- ``patience 2`` (notebook 04 until 2026-12-05): constant learning rate, stop after 2 epochs
  without a lower validation loss;
- ``patience 6, cosine`` (notebook 04 since): the learning rate falls along a half cosine over the
  epochs (``pitchroll.GEO_EPOCHS``, 8, since 2026-12-06), stop after 6 epochs without a lower
  validation loss;
- ``patience 6, cosine, balanced sampler``: the same, with every region drawn equally often
  instead of a cross-entropy weighted by inverse region frequency (``--recipes`` to add it);
- ``patience 6, cosine over 15 epochs``: notebook 04's recipe from 2026-12-05 to 2026-12-06, the
  half cosine over half the profile's epochs (15 on ``small``; ``--recipes`` to add it).

``--corpus N`` adds, to the training set, up to ``N`` located training-split tunes per country that the
profile does not render, read as the rolls of the notes a render of them would play
(``manifest.corpus_training_clips``, as the style pitch CRNN reads its corpus tunes), each in the region
class its place gets from the profile's training tunes; ``--corpus 0 1000`` compares without and with.

Run after ``make report`` (reads notebook 04's caches and its style pitch CRNN; about 8 minutes per
training seed on 2 cores): ``python benchmarks/geo_pitch_recipe.py [--train-seeds 0 1 2]``.
Checkpoints of the profile's seed go to notebook 04's folder (its recipe's network is notebook 04's
own), those of other seeds to a temporary folder.
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from musicgeo_utils import config, meldata, pitchroll, region_crnn, regions, training

#: The recipes compared: notebook 04's until 2026-12-05, and ``pitchroll.GEO_RECIPE`` (notebook 04's since).
RECIPES = {"patience 2": dict(patience=2, lr_schedule=None), "patience 6, cosine": pitchroll.GEO_RECIPE,
           "patience 6, cosine, balanced sampler": {**pitchroll.GEO_RECIPE, "sampler": "balanced", "class_weight": None},
           "patience 6, cosine over 15 epochs": {**pitchroll.GEO_RECIPE, "epochs": 15}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES)[:2], choices=list(RECIPES))
    parser.add_argument("--corpus", type=int, nargs="+", default=[0],
                        help="located training-split corpus tunes per country the profile does not render, read "
                             "as the rolls of the notes a render would play, added to the training set (0: none)")
    args = parser.parse_args(argv)
    profile, seed = args.profile, args.seed
    epochs = config.get_profile(profile).epochs
    crop = pitchroll.ROLL_CROP_FRAMES
    task = pitchroll.geo_task_inputs(profile, seed)  # notebook 04's style pitch CRNN and region task
    pitch_model, pitch_key, geo_tunes, sets = task.pitch_model, task.pitch_key, task.geo_tunes, task.sets
    region_codes, region_names, centroids, shares = task.region_codes, task.region_names, task.centroids, task.shares
    val = geo_tunes[(geo_tunes["split"] == "val").to_numpy()]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        by_corpus = {n: _with_corpus(task, profile, seed, n) if n else sets for n in args.corpus}  # built once each
        for train_seed, recipe, corpus in itertools.product(args.train_seeds, args.recipes, args.corpus):
            train_sets = by_corpus[corpus]
            folder = task.models_dir if train_seed == seed else Path(scratch)  # seed 0: notebook 04's folder
            model, history = pitchroll.fit_geo_crnn(train_sets, len(region_names), pitch_model, folder,
                                                    f"geo-pitch-crnn-from-{pitch_key}", epochs=epochs,
                                                    seed=train_seed, crop_frames=crop, recipe=RECIPES[recipe])
            answers = region_crnn.calibrated_answers(recipe, "pitch roll", model, train_sets, geo_tunes, region_codes,
                                                     centroids, region_names, folder / history.checkpoint)
            val_logits, _ = training.predict(model, sets["val"].as_eval(meldata.CLIP_WINDOWS))
            scores = answers.scores(val_logits, val, shares)
            rows.append({"training seed": train_seed, "recipe": recipe + (f", corpus {corpus}" if corpus else ""),
                         "epochs": len(history.frame),
                         "best epoch": history.best_epoch, "temperature": answers.scaling.temperature,
                         "validation balanced median km": answers.val_balanced_median_km,
                         "validation balanced country accuracy": scores["balanced_country_accuracy"],
                         "the same, countries with >= 10 tunes": scores["balanced_country_accuracy_10"]})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        print(table.groupby("recipe", sort=False).mean(numeric_only=True).drop(columns="training seed").round(3))


def _with_corpus(task, profile: str, seed: int, per_country: int) -> dict:
    """Notebook 04's region datasets with ``per_country`` corpus tunes per country added to training."""
    from musicgeo_utils import manifest

    pool, true_notes = manifest.corpus_training_clips(profile, seed, per_group=per_country, group_by="country")
    pool = pool[pool["lat"].notna()].reset_index(drop=True)
    columns = list(task.geo_tunes.columns.intersection(pool.columns))
    both = pd.concat([task.geo_tunes[columns], pool[columns].assign(split="corpus")], ignore_index=True)
    labels = regions.classification_regions(both).to_numpy()  # classes from the profile's training tunes
    code_of = {name: code for code, name in enumerate(task.region_names)}
    codes = pd.Series(labels[len(task.geo_tunes):]).map(code_of).fillna(-1).to_numpy(int)
    keep = codes >= 0
    more = pool[keep].assign(split="train")
    rolls = pitchroll.clip_rolls(true_notes, more["tune_id"], config.get_profile(profile).clip_seconds)
    print(f"{int(keep.sum()):,} corpus tunes added to training ({int((~keep).sum())} in no region class)", flush=True)
    return meldata.split_datasets(pd.concat([task.geo_tunes[columns], more[columns]], ignore_index=True),
                                  pd.concat([task.rolls, rolls]), np.r_[task.region_codes, codes[keep]],
                                  pitchroll.ROLL_CROP_FRAMES, seed, shift_bins=pitchroll.MAX_TRANSPOSE,
                                  window_hop=pitchroll.WINDOW_HOP)


if __name__ == "__main__":
    main()
