"""The penalty of the transcribed-score style classifier: accuracy and the same answer on another instrument.

Notebook 04's logistic regression on the transcribed score learns from the profile's training clips,
other renders of the same tunes by other training instruments and corpus tunes read as scores
(``manifest.style_training_extras``). Until 2026-12-07 a single validation split chose its ``C``
and picked C=1; since then ``evaluation.choose_C`` picks it by cross-validation over the training
tunes. This script shows why, by 2 x 5-fold cross-validation over the **training and validation**
tunes (stratified by style; the test tunes never read). Each fold's model learns from the fold's
training clips, the other renders of those tunes and the corpus tunes, and is scored on the
held-out tunes' own clips:

- ``macro-F1``: over the styles;
- ``agreement``: the share of held-out tunes' other renders (another training instrument, the same
  tempo and key) whose top style equals that of the tune's own clip, the in-domain stand-in for
  issue 11's held-out-timbre target (the held-out families are never read here);
- ``re-render macro-F1``: macro-F1 on those other renders.

Arms: ``C`` from ``--Cs`` (the first is the reference), and with ``--ngram-weights`` the n-gram
columns scaled by a weight after standardising (a penalty that falls harder on them than on the
global descriptors). The last lines print which ``C`` a single validation split picks (fitted on
the training split, notebook 04's choice until 2026-12-07) and which ``evaluation.choose_C`` picks
from the training split alone.

Renders the validation tunes by other instruments if notebook 04 has not (about 1,000 clips on
``small``). Run after ``make report`` (about 7 minutes on 2 cores):
``python benchmarks/style_penalty.py [--Cs 1 0.1 0.01 0.003 10 --ngram-weights 0.5 --profile small --seed 0]``.
"""
from __future__ import annotations

import time

import numpy as np


def main(argv=None) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from threadpoolctl import threadpool_limits

    from musicgeo_utils import config, evaluation, manifest, symbolic

    parser = evaluation.cv_parser(__doc__.split("\n")[0])
    parser.add_argument("--Cs", type=float, nargs="+", default=[1.0, 0.1, 0.01, 0.003, 10.0])
    parser.add_argument("--ngram-weights", type=float, nargs="*", default=[],
                        help="also each C with the n-gram columns scaled by these weights")
    args = parser.parse_args(argv)
    config.seed_everything(args.seed)
    start = time.perf_counter()
    profile = config.get_profile(args.profile)

    tunes, scored = manifest.profile_score_features(args.profile, args.seed)
    ids = tunes["tune_id"].astype(str).to_numpy()
    split = tunes["split"].to_numpy()
    codes, styles = evaluation.encode_classes(tunes["style"], split == "train", profile.min_train_per_class)
    heard = scored.families["transcribed score"].loc[ids].to_numpy()
    ngram = symbolic.ngram_columns(scored.families["transcribed score"].columns)
    extra = manifest.profile_extra_renders(args.profile, args.seed, splits=("train", "val"))
    extra_ids = extra.tunes["tune_id"].astype(str).to_numpy()
    extra_X = extra.transcribed.to_numpy()
    extra_codes = pd.Series(codes, index=ids).loc[extra_ids].to_numpy()
    pool, described = manifest.corpus_transcribed_scores(args.profile, args.seed, per_group=profile.score_tunes_per_style,
                                                         group_by="style", values=styles)
    corpus_X = described.to_numpy()
    corpus_codes = pool["style"].map({name: code for code, name in enumerate(styles)}).to_numpy(int)
    row_of = {tune: row for row, tune in enumerate(ids)}
    known = np.flatnonzero(np.isin(split, ["train", "val"]) & (codes >= 0))
    print(f"{known.size:,} training and validation tunes, {len(extra_ids):,} other renders of them, "
          f"{len(corpus_codes):,} corpus tunes ({time.perf_counter() - start:.0f} s)", flush=True)

    def model(C: float, weight: float = 1.0):
        steps = [StandardScaler()]
        if weight != 1.0:
            steps.append(FunctionTransformer(lambda Z, w=np.where(ngram, weight, 1.0): Z * w))
        return make_pipeline(*steps, LogisticRegression(C=C, max_iter=3000, random_state=args.seed))

    arms = {f"C={C:g}": (C, 1.0) for C in args.Cs}
    arms |= {f"C={C:g}, n-grams x{w:g}": (C, w) for w in args.ngram_weights for C in args.Cs}
    scores = {arm: [] for arm in arms}
    for repeat in range(args.repeats):
        folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed + repeat)
        for fit_part, held_part in folds.split(known, codes[known]):
            fit_rows, held_rows = known[fit_part], known[held_part]
            extra_fit = np.isin(extra_ids, ids[fit_rows]) & (extra_codes >= 0)
            extra_held = np.flatnonzero(np.isin(extra_ids, ids[held_rows]) & (extra_codes >= 0))
            own_rows = np.array([row_of[tune] for tune in extra_ids[extra_held]])
            X_fit = np.vstack([heard[fit_rows], extra_X[extra_fit], corpus_X])
            y_fit = np.r_[codes[fit_rows], extra_codes[extra_fit], corpus_codes]
            for arm, (C, weight) in arms.items():
                with threadpool_limits(1):
                    fitted = model(C, weight).fit(X_fit, y_fit)
                own, other = fitted.predict(heard[own_rows]), fitted.predict(extra_X[extra_held])
                scores[arm].append({
                    "macro-F1": f1_score(codes[held_rows], fitted.predict(heard[held_rows]), average="macro"),
                    "agreement": float(np.mean(own == other)),
                    "re-render macro-F1": f1_score(extra_codes[extra_held], other, average="macro")})
    pd.set_option("display.width", 200)
    print(f"\n{args.repeats} x {args.folds}-fold cross-validation over training and validation tunes (profile "
          f"{args.profile}, seed {args.seed}), logistic regression on the transcribed score "
          f"({time.perf_counter() - start:.0f} s):")
    print(evaluation.fold_gains(scores, "arm").round(4).to_string(index=False), flush=True)

    train = (split == "train") & (codes >= 0)
    val = (split == "val") & (codes >= 0)
    extra_train = np.isin(extra_ids, ids[train]) & (extra_codes >= 0)
    X_train = np.vstack([heard[train], extra_X[extra_train], corpus_X])
    y_train = np.r_[codes[train], extra_codes[extra_train], corpus_codes]
    single = {}
    for C in args.Cs:
        with threadpool_limits(1):
            single[C] = f1_score(codes[val], model(C).fit(X_train, y_train).predict(heard[val]), average="macro")
    print("\nA single validation split (fitted on the training split): "
          + ", ".join(f"C={C:g} {f1:.3f}" for C, f1 in single.items())
          + f"; it picks C={max(single, key=single.get):g}")
    _, _, chosen = evaluation.classifier_on_splits(  # notebook 04's call: its extra rows, its folds
        heard, codes, split, seed=args.seed, trees=False, groups=ids,
        extra_train=manifest.style_training_extras(args.profile, args.seed, tunes, codes, styles).train)
    print("evaluation.choose_C on the training split (notebook 04's classifier): "
          + ", ".join(f"C={c:g} {f1:.3f}" for c, f1 in chosen.cv_scores.items())
          + f"; it picks {chosen} ({time.perf_counter() - start:.0f} s)")

if __name__ == "__main__":
    main()
