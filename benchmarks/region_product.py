"""Two experts on the region: the geographic pitch CRNN, notebook 03's region classifier, their product.

Notebook 04's style model is the product of experts of a CRNN and a classifier (docs/experiments.md, "Two
experts"). Would the same help the region? This script scores three region models under one
protocol, notebook 04's for a region CRNN (``region_crnn.answers_from_logits``: a temperature and a
decoding fitted on validation, the calibrated probabilities decoded): notebook 04's geographic pitch
CRNN (its logits over every window of the clip), notebook 03's region classifier (the one its
validation chose and ``predict`` may load: ``region-classifier.json``; its log-probabilities) and
their product (``calibration.product_of_experts``, equal weights, nothing fitted; ``--calibrated`` adds
the product of calibrated experts, each divided by its own validation temperature). Notebook 03
decodes its classifier by its own rules, so the classifier's row here differs from notebook 03's.
It prints, on validation (where a choice would rest) and on test (for the record): the balanced
median (km) and the balanced country accuracy, over all countries and over those with at least 10
tunes.

``--prior-taus`` also prints, for each model, the country answers divided by a country prior to
the power ``tau`` (logit adjustment, Menon et al. 2021, on the country probabilities
``regions.country_probabilities`` sums from the regions'): the prior is the mean calibrated country
probability over the validation clips (no labels read), so a country with many regions, which
gathers much of the mass, loses its head start; tau 0 is notebook 04's answer. It asks whether the
balanced country accuracy, which weighs every country alike, gains from such a rule.

It also prints a 95 % paired bootstrap interval (1,000 resamples of the validation tunes,
``geoscores.bootstrap_ci``) of each model's validation balanced median minus the leader's (the lowest),
and which model notebook 04's rule (``region_crnn.choose``) picks among the three: the leader unless
validation cannot tell it from another, then the higher validation balanced country accuracy.

Run after ``make report`` (reads notebook 03's and 04's caches and models; about a minute on 2
cores): ``python benchmarks/region_product.py [--prior-taus 0 0.25 0.5 0.75 1]``.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pandas as pd

from musicgeo_utils import config, geoscores, manifest, pitchroll, region_crnn, regions, saved_models


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibrated", action="store_true",
                        help="also the product of calibrated experts (each divided by its own validation temperature)")
    parser.add_argument("--prior-taus", type=float, nargs="*", default=[],
                        help="also score country answers divided by the validation clips' mean country probability "
                             "to these powers")
    args = parser.parse_args(argv)
    task = pitchroll.geo_task_inputs(args.profile, args.seed)  # notebook 04's style pitch CRNN and region task
    geo_tunes, region_codes, region_names, sets = task.geo_tunes, task.region_codes, task.region_names, task.sets
    model, history = pitchroll.fit_geo_crnn(sets, len(region_names), task.pitch_model, task.models_dir,
                                            f"geo-pitch-crnn-from-{task.pitch_key}",
                                            epochs=config.get_profile(args.profile).epochs, seed=args.seed,
                                            crop_frames=pitchroll.ROLL_CROP_FRAMES)
    card = saved_models.read_card(task.models_dir / "region-classifier.json")
    classifier = saved_models.load_sklearn(card.file)
    print(f"geographic pitch CRNN: {history.checkpoint}; region classifier: {card.name} ({card.features})", flush=True)

    _, scored = manifest.profile_score_features(args.profile, args.seed)
    inputs = saved_models.clip_input_table(task.feats.summary, scored.families["transcribed score"],
                                           task.tunes["tune_id"])
    crnn = region_crnn.calibrated_answers("geographic pitch CRNN", "pitch roll", model, sets, geo_tunes, region_codes,
                                          task.centroids, region_names, task.models_dir / history.checkpoint)
    heard = {split: region_crnn.classifier_log_probabilities(
        card, classifier, inputs.loc[geo_tunes.loc[(geo_tunes["split"] == split).to_numpy(), "tune_id"]])
        for split in ("val", "test")}
    candidates = [crnn, region_crnn.answers_from_logits(f"{card.name} ({card.features})", card.features, heard["val"],
                                                        heard["test"], geo_tunes, region_codes, task.centroids,
                                                        region_names),
                  region_crnn.product_answers(crnn, card, inputs, geo_tunes, region_codes, task.centroids,
                                              region_names)]
    if args.calibrated:
        calibrated = region_crnn.product_answers(crnn, card, inputs, geo_tunes, region_codes, task.centroids,
                                                 region_names, calibrated=True)
        candidates.append(dataclasses.replace(calibrated, name=calibrated.name + ", calibrated experts"))
        print(f"expert temperatures (CRNN, classifier): {calibrated.expert_temperatures[0]:.2f}, "
              f"{calibrated.expert_temperatures[1]:.2f}", flush=True)
    chosen, choice = region_crnn.choose(candidates, geo_tunes[(geo_tunes["split"] == "val").to_numpy()], task.shares,
                                        seed=args.seed)
    rows, prior_rows = [], []
    for answers in candidates:
        row = {"model": answers.name, "temperature": answers.scaling.temperature, "decoding": answers.decoding}
        for split, logits in (("val", answers.val_logits), ("test", answers.test_logits)):
            truth = geo_tunes[(geo_tunes["split"] == split).to_numpy()]
            scores = answers.scores(logits, truth, task.shares)
            row |= {f"{split} balanced median km": scores["balanced_median_km"],
                    f"{split} balanced country accuracy": scores["balanced_country_accuracy"],
                    f"{split} the same, >= 10 tunes": scores["balanced_country_accuracy_10"]}
        rows.append(row | {"val balanced median minus the leader's, low": choice.at[answers.name, "minus_leader_low"],
                           "high": choice.at[answers.name, "minus_leader_high"]})
        prior_rows += prior_adjusted_scores(answers, geo_tunes, task.shares, region_names, args.prior_taus)
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(pd.DataFrame(rows).set_index("model").round(3).T.to_string())
        print(f"\nregion_crnn.choose (notebook 04's rule): {chosen.name}")
        if prior_rows:
            print("\ncountry answers divided by the validation clips' mean country probability ** tau:")
            print(pd.DataFrame(prior_rows).set_index(["model", "tau"]).round(3).to_string())


def prior_adjusted_scores(answers, geo_tunes, shares, region_names, taus) -> list[dict]:
    """Country accuracy and balanced country accuracy (all countries; >= 10 tunes) on validation and test
    of the country answer ``argmax P(country | clip) / prior ** tau`` for each ``tau``."""
    logits = {"val": answers.val_logits, "test": answers.test_logits}
    probabilities = {split: regions.country_probabilities(answers.scaling.transform(logits[split]), shares,
                                                          regions=region_names) for split in ("val", "test")}
    prior = probabilities["val"].mean().to_numpy()
    countries = probabilities["val"].columns.to_numpy()
    rows = []
    for tau in taus:
        row = {"model": answers.name, "tau": tau}
        for split in ("val", "test"):
            truth = geo_tunes.loc[(geo_tunes["split"] == split).to_numpy(), "country"]
            answer = countries[np.argmax(probabilities[split].to_numpy() / prior ** tau, axis=1)]
            correct = answer == truth.to_numpy()
            scores = geoscores.error_metrics(np.zeros(len(truth)), truth, correct)
            row |= {f"{split} country accuracy": correct.mean(),
                    f"{split} balanced country accuracy": scores["balanced_country_accuracy"],
                    f"{split} the same, >= 10 tunes": scores["balanced_country_accuracy_10"]}
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
