"""Does the style pitch CRNN's backbone know where a tune comes from? A region head on its frozen features.

Issue 12 suggests "a shared backbone with style and region heads". Notebook 04 fine-tunes the
style pitch CRNN into a geographic one; this probe asks the cheaper question first: the style
network's penultimate features (every window of the clip averaged, as notebook 04 scores a clip),
frozen, standardised on the training split, fed to notebook 03's region classifier (multinomial
logistic regression, C and the decoding chosen on validation by the balanced median), beside the
transcribed score and the two together (``geomethods.compare_inputs``, as notebook 03's input table).

It reads notebook 02's caches and notebook 04's saved pitch CRNN (``pitchroll.fit_style_crnn``,
notebook 04's recipe: the checkpoint is found by its training key, or trained again if missing).
Run after ``make report``: ``python benchmarks/region_head_probe.py [--profile small --seed 0]``.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from musicgeo_utils import (config, features, geomethods, manifest, meldata, pitchroll, regions,
                            runs, training)

COLUMNS = ["method", "balanced_median_km", "median_km", "country_accuracy", "balanced_country_accuracy",
           "balanced_country_accuracy_10", "params"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    profile, seed = args.profile, args.seed
    run = runs.use("folk", "", profile, seed)
    tunes, _, style_codes, styles, rolls = pitchroll.style_task_inputs(profile, seed)
    _, scored = manifest.profile_score_features(profile, seed)  # the transcribed score (cached)
    sets, _ = pitchroll.style_roll_sets(tunes, rolls, style_codes, styles, profile, seed)
    model, history, _ = pitchroll.fit_style_crnn(sets, len(styles), run.models_dir(),
                                                 epochs=config.get_profile(profile).epochs, seed=seed)
    print(f"style pitch CRNN: best epoch {history.best_epoch} of {len(history.frame)}")

    split = tunes["split"].to_numpy()
    every_tune = meldata.split_datasets(tunes, rolls, np.maximum(style_codes, 0), pitchroll.ROLL_CROP_FRAMES, seed,
                                        window_hop=pitchroll.WINDOW_HOP)
    parts = {name: training.predict(model, every_tune[name].as_eval(meldata.CLIP_WINDOWS))[1]
             for name in ("train", "val", "test")}  # every tune, the left-out styles' too: the region head needs them
    embedding = np.zeros((len(tunes), parts["train"].shape[1]), dtype=np.float32)  # the penultimate width
    for name, part in parts.items():
        embedding[split == name] = part
    train = split == "train"
    frozen, _ = features.standardise_summary(
        pd.DataFrame(embedding, index=tunes.index).add_prefix("crnn:"), train)
    heard, _ = features.standardise_summary(scored.families["transcribed score"].add_prefix("heard:"), train)
    heard = heard.set_axis(frozen.index)
    inputs = {"transcribed score": ("audio", heard), "pitch CRNN features (frozen)": ("audio", frozen),
              "pitch CRNN features + transcribed score": ("audio", pd.concat([frozen, heard], axis=1))}
    targets = tunes[["lat", "lon", "country"]].assign(region=regions.classification_regions(tunes))
    shares = regions.region_task(tunes).shares  # P(country | region) of the training tunes, as notebook 03's
    with threadpool_limits(1):
        table, _ = geomethods.compare_inputs(inputs, split, targets, tunes["tune_id"],
                                             lambda: geomethods.RegionClassifier("logreg", seed=seed),
                                             seed=seed, n_boot=200, shares=shares)
    with pd.option_context("display.width", 250, "display.max_colwidth", 80):
        print(table[COLUMNS].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
