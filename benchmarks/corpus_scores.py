"""Do the corpus tunes the profile never renders, read as scores, teach the transcribed-score classifiers?

The ``small`` profile renders a balanced sample of about 3,400 tunes; the corpus holds about 6,800
more training-split tunes (Germany 3,173, Ireland 1,222, the United Kingdom 646, China 645, ...).
The style pitch CRNN already learns from some of them, read as the rolls of the notes a render
would play (``pitchroll.with_corpus_tunes``). This script asks the same of notebook 03's region
classifier and notebook 04's style logistic regression on the transcribed score: each corpus
tune (``manifest.corpus_training_clips``: drawn an instrument, tempo and transposition as a
render would be, its notes those of the profile's clip) is described by the descriptors of the
transcribed score from its true notes (``manifest.corpus_transcribed_scores``), with the
rendered tempo and the tonic either estimated from those notes as the audio path estimates it
(``--tonic estimated``, the default) or the true one (``--tonic true``).

Stratified k-fold cross-validation over the profile's **training and validation** tunes (test
tunes are never read): each fold's model learns from its training tunes' clips, their ``K``
extra renders (the profile's, as notebooks 03 and 04 do) and ``N`` corpus tunes per country
(region) or per style (style), and is scored on the held-out fold's own clips. Corpus tunes of a
tune family with a member in the held-out fold are left out of that fold's training. The fold-wise
differences to ``N = 0`` carry the conclusion (mean, standard error, folds better).

Region (``--task region``): logistic regression (``C=1``) on the standardised descriptors, the
profile's region classes (a corpus tune takes the class its place gets from the profile's training
tunes), balanced median km of the top region and of the median decoding, and the balanced country
accuracy over the countries with at least 10 of the fold's tunes. Style (``--task style``):
logistic regression (``C=10``, notebook 04's choice before it read corpus tunes), macro-F1 over the style
classes.

Run after ``make report`` (reads its caches; the corpus notes cost about a minute):
``python benchmarks/corpus_scores.py [--task region|style --per-group 0 300 1000 --tonic estimated]``.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd


def main(argv=None) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from musicgeo_utils import config, evaluation, geoscores, manifest, regions, transcribed_score

    parser = evaluation.cv_parser(__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("style", "region"), default="region")
    parser.add_argument("--per-group", type=int, nargs="+", default=[0, 300, 1000],
                        help="corpus tunes per country (region) or style (style); 0 is the reference")
    parser.add_argument("--tonic", choices=("estimated", "true"), default="estimated")
    args = parser.parse_args(argv)
    config.seed_everything(args.seed)
    start = time.perf_counter()

    tunes, scored = manifest.profile_score_features(args.profile, args.seed)
    known = tunes["split"].isin(["train", "val"]).to_numpy().copy()
    extra = manifest.profile_extra_renders(args.profile, args.seed, splits=("train", "val"))
    heard = scored.families["transcribed score"]
    group_by = "country" if args.task == "region" else "style"
    if args.tonic == "estimated":
        pool, corpus = manifest.corpus_transcribed_scores(args.profile, args.seed, max(args.per_group), group_by)
    else:
        pool, true_notes = manifest.corpus_training_clips(args.profile, args.seed, max(args.per_group), group_by)
        clips = pool.assign(clip_id=pool["tune_id"])
        corpus = transcribed_score.read_as_heard(true_notes, clips, transcribed_score.true_tonic(
            manifest.build_manifest(seed=args.seed).notes, clips))
    corpus = corpus.to_numpy()

    if args.task == "region":
        both = pd.concat([tunes, pool.assign(split="corpus")], ignore_index=True)
        labels = np.asarray(regions.classification_regions(both))  # classes from the profile's training tunes
        y, y_corpus = labels[: len(tunes)][known], labels[len(tunes):]
        corpus_known = np.ones(len(pool), dtype=bool)  # every place has a class
        places = tunes.loc[known, ["lat", "lon", "country"]].reset_index(drop=True)
        strata = places["country"].to_numpy()
    else:
        codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                                  config.get_profile(args.profile).min_train_per_class)
        known &= codes >= 0
        y = codes[known]
        y_corpus = pool["style"].map({s: c for c, s in enumerate(styles)}).fillna(-1).to_numpy(int)
        corpus_known = y_corpus >= 0
        strata = y
    ids = tunes.loc[known, "tune_id"].astype(str).to_numpy()
    print(f"{known.sum():,} training and validation tunes, {len(extra.tunes):,} extra renders, {len(pool):,} corpus "
          f"tunes read as scores ({time.perf_counter() - start:.0f} s)", flush=True)
    X = heard.loc[ids].to_numpy()
    groups = tunes.loc[known, "group"].to_numpy()
    extra_ids = extra.tunes["tune_id"].astype(str).to_numpy()
    extra_X = extra.transcribed.to_numpy()
    row_of = {t: i for i, t in enumerate(ids)}
    order = pd.Series(np.random.default_rng(args.seed).random(len(pool)))  # a seeded sample of each group
    rank = order.groupby(pool[group_by].to_numpy()).rank(method="first").to_numpy() - 1

    scores = {n: [] for n in args.per_group}
    for repeat in range(args.repeats):
        for fold_train, fold_test in StratifiedKFold(args.folds, shuffle=True,
                                                     random_state=args.seed + repeat).split(X, strata):
            in_fold = np.isin(extra_ids, ids[fold_train]) & np.isfinite(extra_X).all(axis=1)
            base_X = np.vstack([X[fold_train], extra_X[in_fold]])
            base_y = np.r_[y[fold_train], y[[row_of[t] for t in extra_ids[in_fold]]]]
            allowed = ~pool["group"].isin(groups[fold_test]).to_numpy() & corpus_known
            for n in scores:
                take = allowed & (rank < n)
                X_fit, y_fit = np.vstack([base_X, corpus[take]]), np.r_[base_y, y_corpus[take]]
                with threadpool_limits(1):
                    if args.task == "region":
                        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(
                            X_fit, y_fit)
                        scores[n].append(geoscores.region_fold_scores(
                            model.predict_proba(X[fold_test]), model[-1].classes_, places.iloc[fold_train],
                            y[fold_train], places.iloc[fold_test]))
                    else:
                        model = make_pipeline(StandardScaler(), LogisticRegression(C=10, max_iter=3000,
                                                                                   random_state=args.seed))
                        pred = model.fit(X_fit, y_fit).predict(X[fold_test])
                        scores[n].append({"macro-F1": f1_score(y[fold_test], pred, average="macro")})
        print(f"repeat {repeat + 1} of {args.repeats} ({time.perf_counter() - start:.0f} s)", flush=True)

    table = evaluation.fold_gains(scores, f"corpus tunes per {group_by}")
    print(f"\n{args.repeats} x {args.folds}-fold cross-validation over training and validation tunes (profile "
          f"{args.profile}, seed {args.seed}), {args.task} logistic regression on the transcribed score with the "
          f"profile's extra renders, corpus tunes read as scores ({args.tonic} tonic):")
    print(table.round(4).to_string(index=False))
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
