"""Do n-grams of the notes add to the global score descriptors? Cross-validation, test tunes never read.

``symbolic.descriptors`` describes a note sequence by global histograms (pitch classes above the
tonic, intervals, durations, onset positions, inter-onset ratios, three scalars) and, since
2026-12-07, by n-gram blocks (``symbolic.ngram_names``: successive scale degrees, interval pairs,
three-step contours, pairs of inter-onset ratios, a step with its ratio), the "event models" that
Hillewaere, Manderick & Conklin (ISMIR 2009) found to beat global features for folk songs. This
script fits a logistic regression (standardised, ``C`` from ``--Cs``) on the global columns alone
and on all columns, for the transcribed score and the clip score of the profile's clips (notebook
02's caches), by stratified k-fold cross-validation over the **training and validation** tunes:

- ``--task style``: macro-F1 over the style classes (folds stratified by style);
- ``--task region``: the profile's region classes; balanced median km of the top region and of the
  median decoding, balanced country accuracy over the countries with at least 10 of the fold's
  tunes (``geoscores.region_fold_scores``; folds stratified by country).

The fold-wise differences to the reference arm (global columns, notebook 04's earlier ``C``: 10
for style, 1 for region) carry the conclusion (``evaluation.fold_gains``: mean change, standard
error, folds better). Every fit is on the fold's own clips; the extra renders and corpus tunes that
notebooks 03 and 04 add are left out here, so the absolute figures are not notebook 04's.

Run after ``make report`` (about 2 minutes per task on 2 cores):
``python benchmarks/ngram_features.py [--task style|region --Cs 0.01 0.1 --profile small --seed 0]``.
"""
from __future__ import annotations

import time

import numpy as np


def main(argv=None) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from musicgeo_utils import config, evaluation, geoscores, manifest, regions, symbolic

    parser = evaluation.cv_parser(__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("style", "region"), default="style")
    parser.add_argument("--Cs", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1])
    args = parser.parse_args(argv)
    config.seed_everything(args.seed)
    start = time.perf_counter()

    tunes, scored = manifest.profile_score_features(args.profile, args.seed)
    ids = tunes["tune_id"].astype(str).tolist()
    known = tunes["split"].isin(["train", "val"]).to_numpy().copy()
    if args.task == "style":
        codes, _ = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                             config.get_profile(args.profile).min_train_per_class)
        known &= codes >= 0
        y = strata = codes[known]
        reference_C = 10.0
    else:
        y = np.asarray(regions.classification_regions(tunes))[known]
        places = tunes.loc[known, ["lat", "lon", "country"]].reset_index(drop=True)
        strata = places["country"].to_numpy()
        reference_C = 1.0
    rows = np.flatnonzero(known)
    print(f"{rows.size:,} training and validation tunes ({time.perf_counter() - start:.0f} s)", flush=True)

    for family in ("transcribed score", "clip score"):
        table = scored.families[family].loc[ids]
        X = table.to_numpy()[rows]
        global_only = ~symbolic.ngram_columns(table.columns)
        arms = {f"global descriptors, C={reference_C:g}": (global_only, reference_C)}
        arms |= {f"global descriptors, C={C:g}": (global_only, C) for C in args.Cs}
        arms |= {f"with n-grams, C={C:g}": (np.ones_like(global_only), C) for C in args.Cs}
        scores = {arm: [] for arm in arms}
        for repeat in range(args.repeats):
            for train, test in StratifiedKFold(args.folds, shuffle=True,
                                               random_state=args.seed + repeat).split(X, strata):
                for arm, (columns, C) in arms.items():
                    with threadpool_limits(1):
                        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000)).fit(
                            X[train][:, columns], y[train])
                    if args.task == "style":
                        pred = model.predict(X[test][:, columns])
                        scores[arm].append({"macro-F1": f1_score(y[test], pred, average="macro")})
                    else:
                        scores[arm].append(geoscores.region_fold_scores(
                            model.predict_proba(X[test][:, columns]), model[-1].classes_, places.iloc[train],
                            y[train], places.iloc[test]))
        print(f"\n{family}: {args.repeats} x {args.folds}-fold cross-validation over training and validation tunes "
              f"(profile {args.profile}, seed {args.seed}), {args.task} logistic regression "
              f"({time.perf_counter() - start:.0f} s):")
        print(evaluation.fold_gains(scores, "columns").round(4).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
