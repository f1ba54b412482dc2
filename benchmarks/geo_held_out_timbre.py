"""Held-out timbre for notebook 04's geographic pitch CRNN, `predict`'s region model.

Notebook 03 measures its best region method on the test tunes played by held-out instrument families
(``manifest.profile_held_out_timbre``: Ensemble and Brass, which no model trains on); notebook 04 does
so for its style models but not for the geographic pitch CRNN, which notebook 04's validation ranks
first and ``predict`` answers with. This script loads that network by its training key (notebook 04's
data, splits and style pitch CRNN: ``pitchroll.geo_task_inputs``), fits its temperature and decoding
on validation as notebook 04 does (``region_crnn.calibrated_answers``), and scores the test tunes'
in-domain clips and their held-out-timbre renders, both over every window of the clip: balanced
median (km), its ratio (issue 11 asks for at most 1.15), and balanced country accuracy.

Run after ``make report`` (reads its caches; about a minute): ``python benchmarks/geo_held_out_timbre.py``.
"""
from __future__ import annotations

import argparse

import pandas as pd

from musicgeo_utils import config, manifest, meldata, pitchroll, region_crnn, training


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    profile = config.get_profile(args.profile)
    task = pitchroll.geo_task_inputs(args.profile, args.seed)
    model, history = pitchroll.fit_geo_crnn(task.sets, len(task.region_names), task.pitch_model, task.models_dir,
                                            f"geo-pitch-crnn-from-{task.pitch_key}", epochs=profile.epochs,
                                            seed=args.seed)
    answers = region_crnn.calibrated_answers("geographic CRNN (pitch roll)", "pitch roll", model, task.sets,
                                             task.geo_tunes, task.region_codes, task.centroids, task.region_names,
                                             task.models_dir / history.checkpoint)
    held, _, held_scored = manifest.profile_held_out_timbre(args.profile, args.seed)
    held_rolls = pitchroll.clip_rolls(held_scored.heard.notes, held["tune_id"], profile.clip_seconds)
    test = task.geo_tunes[task.geo_tunes["split"] == "test"].reset_index(drop=True)
    codes = pd.Series(task.region_codes, index=task.geo_tunes["tune_id"]).loc[test["tune_id"]].to_numpy()
    held_sets = meldata.split_datasets(test, held_rolls, codes, pitchroll.ROLL_CROP_FRAMES, args.seed,
                                       splits=("test",), window_hop=pitchroll.WINDOW_HOP)
    held_logits, _ = training.predict(model, held_sets["test"].as_eval(meldata.CLIP_WINDOWS))
    rows = []
    for condition, logits in (("in-domain", answers.test_logits), ("held-out timbre", held_logits)):
        scores = answers.scores(logits, test, task.shares)
        rows.append({"condition": condition, "n": scores["n"], "balanced median km": scores["balanced_median_km"],
                     "balanced country accuracy": scores["balanced_country_accuracy"],
                     "the same, countries with >= 10 tunes": scores["balanced_country_accuracy_10"]})
    table = pd.DataFrame(rows)
    table["ratio to in-domain"] = table["balanced median km"] / table["balanced median km"].iloc[0]
    print(f"{answers.name} ({history.checkpoint}), test tunes, profile {args.profile}, seed {args.seed}:")
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
