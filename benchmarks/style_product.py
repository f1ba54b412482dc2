"""Two experts on the same notes: the style pitch CRNN, the classifier of the transcribed score, their product.

Notebook 04 ranks, beside its CRNNs and classifiers, the product of experts of the best CRNN and the
best classifier (``style_choice.ProductCandidate.calibrated``: the normalised geometric mean of their
probabilities, equal weights, each model first divided by its own temperature fitted on validation,
``calibration.product_of_experts``; the uncalibrated product is printed beside it). This script shows whether that
gain is a property of the recipe or of one trained network: for the pitch CRNN of each training seed
(``--train-seeds``; notebook 04's data, as ``benchmarks/ablation_crnn.py --train-seed S --variants
pitch-200-mixup-corpus-cosine`` trains them; loaded by their training keys, trained again when missing,
about 4 minutes each on 2 cores) and notebook 04's classifier of the transcribed score (the same
candidates, extra renders, corpus tunes read as scores and validation choice;
``--score-tunes-per-style 0`` leaves the corpus tunes out), it prints the macro-F1 of the CRNN, the classifier
and their product on validation and, for the record, test, and on the held-out-timbre renders of the
test tunes: the macro-F1 kept (held-out over in-domain) and the share of tunes whose top style is
unchanged. ``--weights`` also scores weighted products (``w`` on the CRNN's log-probabilities,
``1 - w`` on the classifier's; uncalibrated), to show how flat the choice of weights is; notebook 04
fits no weight, only the two temperatures. ``--more-experts`` also fits notebook 04's classifiers of
two other inputs (the transcribed score with the invariant summary features; the summary features alone: the same candidates and
validation choice as notebook 04's table) and scores the product of every set of two to four of the
experts, to show whether a larger product would win validation. The columns ``val - product low`` and
``high`` are a 95 % paired bootstrap interval (1,000 resamples of the validation tunes,
``geoscores.bootstrap_ci``) of each model's validation macro-F1 minus that of notebook 04's product: how
far apart one validation split can put two candidates.

Run after ``make report``: ``python benchmarks/style_product.py --train-seeds 0 1 2``.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools

import numpy as np
import pandas as pd
from scipy.special import log_softmax

from musicgeo_utils import (calibration, config, evaluation, features, geoscores, manifest, meldata, pitchroll, runs,
                            style_choice, symbolic)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=None,
                        help="training seeds of the pitch CRNNs (default: --seed, notebook 04's network)")
    parser.add_argument("--weights", type=float, nargs="*", default=[0.3, 0.4, 0.6, 0.7],
                        help="weights on the CRNN of weighted products, besides equal weights")
    parser.add_argument("--score-tunes-per-style", type=int, default=None,
                        help="corpus tunes per style read as scores that the classifier also learns from "
                             "(manifest.style_training_extras; default: the profile's, notebook 04's; 0: none)")
    parser.add_argument("--render-rolls", action="store_true",
                        help="train the pitch CRNNs with the extra renders' rolls as alternates of each training "
                             "tune (meldata.MelDataset's alternates: each epoch reads one version of each tune)")
    parser.add_argument("--more-experts", action="store_true",
                        help="also the classifiers of the transcribed score + invariant summary and of the summary "
                             "features, and the product of every set of two to four experts")
    args = parser.parse_args(argv)

    profile = config.get_profile(args.profile)
    tunes, _, codes, styles, rolls = pitchroll.style_task_inputs(args.profile, args.seed)
    codes, split = np.asarray(codes), tunes["split"].to_numpy()
    _, scored = manifest.profile_score_features(args.profile, args.seed)
    heard = scored.families["transcribed score"].to_numpy()
    extra = manifest.style_training_extras(args.profile, args.seed, tunes, codes, styles,
                                           per_style=args.score_tunes_per_style)
    global_columns = ~symbolic.ngram_columns(scored.families["transcribed score"].columns)  # as notebook 04's trees
    _, _, chosen = evaluation.classifier_on_splits(heard, codes, split, seed=args.seed, extra_train=extra.train,
                                                   groups=tunes["tune_id"], tree_columns=global_columns)
    print(f"classifier of the transcribed score (notebook 04's choice): {chosen}", flush=True)
    held, _, held_scored = manifest.profile_held_out_timbre(args.profile, args.seed)
    held_codes = pd.Series(codes, index=tunes["tune_id"]).loc[held["tune_id"]].to_numpy()
    held_rolls = pitchroll.clip_rolls(held_scored.heard.notes, held["tune_id"], profile.clip_seconds)
    rows_of = {s: (split == s) & (codes >= 0) for s in ("val", "test")}
    held_rows = held_codes >= 0  # held has one row per test tune, in the test split
    if held["tune_id"].to_numpy()[held_rows].tolist() != tunes["tune_id"].to_numpy()[rows_of["test"]].tolist():
        raise SystemExit("the held-out-timbre renders do not follow the test tunes: rerun notebook 02")
    classifier = style_choice.ClassifierCandidate(f"{chosen} (transcribed score)", "transcribed score", chosen, [],
                                                  heard)
    held_heard = held_scored.families["transcribed score"].to_numpy()
    others = other_classifiers(args, tunes, codes, split) if args.more_experts else {}

    both, both_rolls, both_codes = pitchroll.with_corpus_tunes(tunes, rolls, codes, styles, args.profile, args.seed)
    alternates = None
    if args.render_rolls:
        alternates = pitchroll.alternates_by_tune(pitchroll.extra_render_rolls(
            manifest.profile_extra_renders(args.profile, args.seed), profile.clip_seconds))
        print(f"alternates: {len(alternates):,} training tunes, {alternates.map(len).sum():,} extra rolls", flush=True)
    table = []
    for train_seed in args.train_seeds or [args.seed]:
        sets = meldata.split_datasets(both, both_rolls, both_codes, pitchroll.ROLL_CROP_FRAMES, train_seed,
                                      shift_bins=pitchroll.MAX_TRANSPOSE, window_hop=pitchroll.WINDOW_HOP,
                                      alternates=alternates)
        folder = runs.use("folk", "", args.profile, args.seed).models_dir()
        model, history, _ = pitchroll.fit_style_crnn(sets, len(styles), folder, epochs=profile.epochs, seed=train_seed)
        print(f"training seed {train_seed}: {history.checkpoint}, {len(history.frame)} epochs", flush=True)
        crnn = style_choice.CrnnCandidate("pitch CRNN", "pitch roll", model, rolls, pitchroll.ROLL_CROP_FRAMES,
                                          folder / history.checkpoint, window_hop=pitchroll.WINDOW_HOP)
        product = style_choice.ProductCandidate.calibrated(crnn, classifier, tunes, codes)  # notebook 04's candidate
        held_product = product.with_inputs(held_rolls, held_heard)
        print(f"expert temperatures (CRNN, classifier): {product.temperatures[0]:.2f}, {product.temperatures[1]:.2f}",
              flush=True)
        logits = {"crnn": {s: crnn.logits(tunes, codes, s) for s in ("val", "test")},
                  "clf": {s: classifier.logits(tunes, codes, s) for s in ("val", "test")}}
        logits["crnn"]["held"] = held_product.crnn.logits(held, held_codes, "test")
        logits["clf"]["held"] = held_product.classifier.logits(held, held_codes, "test")
        answers = {"pitch CRNN": logits["crnn"], classifier.name: logits["clf"],
                   "product of calibrated experts": {**{s: product.logits(tunes, codes, s) for s in ("val", "test")},
                                                     "held": held_product.logits(held, held_codes, "test")},
                   "product, uncalibrated": {s: calibration.product_of_experts(logits["crnn"][s], logits["clf"][s])
                                             for s in logits["crnn"]}}
        for name, (other, held_X) in others.items():
            logits[name] = {s: other.logits(tunes, codes, s) for s in ("val", "test")}
            logits[name]["held"] = dataclasses.replace(other, X=held_X).logits(held, held_codes, "test")
        for k in range(2, len(logits) + 1) if others else ():
            for experts in itertools.combinations(logits, k):
                if set(experts) != {"crnn", "clf"}:  # that one is notebook 04's product above
                    answers[" x ".join(experts)] = {s: calibration.product_of_experts(*(logits[e][s] for e in experts))
                                                    for s in ("val", "test", "held")}
        for name in others:
            answers[others[name][0].name] = logits[name]
        for w in args.weights:
            answers[f"product, {w:g} on the CRNN"] = {s: w * log_softmax(logits["crnn"][s], axis=1)
                                                      + (1 - w) * logits["clf"][s] for s in logits["crnn"]}
        if others and train_seed == (args.train_seeds or [args.seed])[0]:
            print(f"experts: crnn = pitch CRNN, clf = {classifier.name}, "
                  + ", ".join(f"{short} = {other.name}" for short, (other, _) in others.items()), flush=True)
        truth = {"val": codes[rows_of["val"]], "test": codes[rows_of["test"]]}
        reference = answers["product of calibrated experts"]["val"].argmax(axis=1)
        for name, scores in answers.items():
            f1 = {s: evaluation.macro_f1(truth[s], scores[s].argmax(axis=1)) for s in ("val", "test")}
            held_f1 = evaluation.macro_f1(truth["test"], scores["held"].argmax(axis=1))
            low, high = geoscores.bootstrap_ci(lambda y, a, b: evaluation.macro_f1(y, a) - evaluation.macro_f1(y, b),
                                               truth["val"], scores["val"].argmax(axis=1), reference, seed=args.seed)
            table.append({"model": name, "seed": train_seed, "val": f1["val"], "val - product low": low,
                          "val - product high": high, "test": f1["test"],
                          "held-out kept": held_f1 / f1["test"],
                          "top style unchanged": float(np.mean(scores["held"].argmax(axis=1)
                                                               == scores["test"].argmax(axis=1)))})
    frame = pd.DataFrame(table)
    wide = frame.pivot(index="model", columns="seed").reindex(frame["model"].unique())
    print(wide.round(3).to_string())
    print("\nmean over training seeds:")
    print(frame.groupby("model", sort=False)[["val", "val - product low", "val - product high", "test", "held-out kept",
                                             "top style unchanged"]].mean()
          .round(3).to_string())


def other_classifiers(args, tunes: pd.DataFrame, codes, split) -> dict:
    """``{short name: (ClassifierCandidate, its held-out-timbre rows)}``: notebook 04's classifiers of the
    transcribed score with the invariant summary features ("ts+inv") and of the summary features ("sum"),
    chosen on validation as notebook 04 chooses them (no extra training rows; the summary's without trees)."""
    _, feats = runs.use("folk", "", args.profile, args.seed).features()
    _, scored = manifest.profile_score_features(args.profile, args.seed)
    _, held_feats, held_scored = manifest.profile_held_out_timbre(args.profile, args.seed)
    invariant = feats.summary.columns.isin(features.invariant_names())
    global_columns = np.r_[np.ones(invariant.sum(), bool), ~symbolic.ngram_columns(scored.families["transcribed score"].columns)]
    inputs = {"ts+inv": ("transcribed score + invariant summary", global_columns,
                         [np.hstack([f.summary.to_numpy()[:, invariant], s.families["transcribed score"].to_numpy()])
                          for f, s in ((feats, scored), (held_feats, held_scored))]),
              "sum": ("summary features", None, [feats.summary.to_numpy(), held_feats.summary.to_numpy()])}
    out = {}
    for short, (features_name, tree_columns, (X, held_X)) in inputs.items():  # the summary's: no trees
        _, _, chosen = evaluation.classifier_on_splits(X, codes, split, seed=args.seed, trees=tree_columns is not None,
                                                       tree_columns=tree_columns)
        print(f"classifier of the {features_name} ({short}): {chosen}", flush=True)
        out[short] = (style_choice.ClassifierCandidate(f"{chosen} ({features_name})", features_name, chosen, [], X),
                      held_X)
    return out


if __name__ == "__main__":
    main()
