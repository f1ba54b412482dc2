"""How many extra renders of each training tune should the transcribed-score classifier learn from?

Notebook 04's best style model reads the transcribed score: descriptors of the notes the melody
front end heard. What the tracker hears depends on the instrument (notebook 02: note F1 0.94 on
piano, 0.70 on chromatic percussion), so a classifier trained on one render per tune learns one
instrument's transcription errors. ``manifest.profile_extra_renders`` renders each tune again, at
its own tempo and key, with other training instruments (``render.extra_timbre_draws``: never a
held-out family). This script measures what ``K`` extra renders of the training tunes buy
notebook 04's gradient-boosted trees (``evaluation.BOOSTED_TREES``), by stratified k-fold
cross-validation over the **training and validation** tunes (test tunes are never read): each
fold's model learns from its training tunes' own clips plus their ``K`` extra renders and is
scored (macro-F1) on the held-out fold's own clips. The fold-wise differences to ``K = 0`` carry
the conclusion (their mean and standard error); one validation split of about 470 tunes is too
noisy to tell a gain of 0.02.

``--task region`` asks the same of notebook 03's region classifier on the transcribed score
(logistic regression, ``C=1``, standardised on the fold's training rows, decoded to the region
centre and to the probability-weighted geometric median): each fold's balanced median error
(mean over countries of their median km) and balanced country accuracy over the countries with at
least 10 of the fold's tunes, folds stratified by country.

``--effects`` puts every extra render through its own seeded chain of audio effects
(``effects.py``: EQ, compression, reverb, noise; notebooks 03 and 04: ``extra_effects``), to ask
whether renders heard through other rooms and chains teach more than other instruments alone.

Run after ``make report`` (reads its caches; renders and transcribes what is missing, about 35 s
per extra render of the ~2,900 tunes on 2 cores, then 10 minutes of fits for three values of K):
``python benchmarks/extra_renders.py [--task style|region --profile small --seed 0 --max-renders 3
--repeats 2]``.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd


def main(argv=None) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import f1_score
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from musicgeo_utils import config, evaluation, geoscores, manifest

    parser = evaluation.cv_parser(__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("style", "region"), default="style")
    parser.add_argument("--max-renders", type=int, default=3, help="largest K tried (0 .. K)")
    parser.add_argument("--effects", action="store_true",
                        help="extra renders through their seeded audio effects (effects.py; notebooks 03 and 04: "
                             "extra_effects)")
    args = parser.parse_args(argv)
    config.seed_everything(args.seed)
    start = time.perf_counter()

    tunes, scored = manifest.profile_score_features(args.profile, args.seed)
    codes, _ = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                         config.get_profile(args.profile).min_train_per_class)
    known = tunes["split"].isin(["train", "val"]).to_numpy() & (codes >= 0)
    ids = tunes.loc[known, "tune_id"].astype(str).to_numpy()
    X = scored.families["transcribed score"].loc[ids].to_numpy()
    y = codes[known]
    extra = manifest.profile_extra_renders(args.profile, args.seed, args.max_renders, splits=("train", "val"),
                                           effects=args.effects)
    if len(extra.skips):
        print(f"{len(extra.skips)} extra clips left out:", extra.skips.head().to_dict("records"))
    by_render = {k: pd.DataFrame(extra.transcribed.to_numpy()[(extra.tunes["render"] == k).to_numpy()],
                                 index=extra.tunes.loc[extra.tunes["render"] == k, "tune_id"].astype(str))
                 for k in range(1, args.max_renders + 1)}
    print(f"{len(ids):,} training and validation tunes, {len(extra.tunes):,} extra renders "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    if args.task == "region":
        from musicgeo_utils import regions

        y = np.asarray(regions.classification_regions(tunes))[known]
        places = tunes.loc[known, ["lat", "lon", "country"]].reset_index(drop=True)
        strata = places["country"].to_numpy()
    else:
        strata = y
    scores = {k: [] for k in range(args.max_renders + 1)}
    for repeat in range(args.repeats):
        for fold_train, fold_test in StratifiedKFold(args.folds, shuffle=True,
                                                     random_state=args.seed + repeat).split(X, strata):
            for k in scores:
                parts = [X[fold_train]] + [by_render[r].reindex(ids[fold_train]) for r in range(1, k + 1)]
                keep = [np.isfinite(np.asarray(p, dtype=float)).all(axis=1) for p in parts]  # skipped extra clips
                X_fit = np.vstack([np.asarray(p, dtype=float)[m] for p, m in zip(parts, keep)])
                rows_fit = np.concatenate([fold_train[m] for m in keep])  # the tune of each fitted row
                if args.task == "region":
                    with threadpool_limits(1):
                        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(
                            X_fit, y[rows_fit])
                    scores[k].append(geoscores.region_fold_scores(
                        model.predict_proba(X[fold_test]), model[-1].classes_, places.iloc[fold_train], y[fold_train],
                        places.iloc[fold_test]))
                else:
                    model = HistGradientBoostingClassifier(random_state=args.seed, **evaluation.BOOSTED_TREES)
                    scores[k].append({"macro-F1": f1_score(y[fold_test], model.fit(X_fit, y[rows_fit])
                                                           .predict(X[fold_test]), average="macro")})
        print(f"repeat {repeat + 1} of {args.repeats} ({time.perf_counter() - start:.0f} s)", flush=True)

    table = evaluation.fold_gains(scores, "extra renders K")
    model = ("logistic regression (C=1) region classifier" if args.task == "region"
             else "gradient-boosted trees style classifier")
    print(f"\n{args.repeats} x {args.folds}-fold cross-validation over training and validation tunes "
          f"(profile {args.profile}, seed {args.seed}), {model} on the transcribed score:")
    print(table.round(4).to_string(index=False))
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
