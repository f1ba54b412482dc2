"""Notebook 04's style classifiers: one BLAS thread per fit against two, and fits side by side.

Notebook 04 chooses a classifier for each feature family with
``evaluation.classifier_on_splits`` (``C`` by 3-fold cross-validation over
``evaluation.LOGISTIC_CS``, then a logistic regression and gradient-boosted
trees compared on validation). Every fit runs with one BLAS and one OpenMP
thread (``evaluation._fit_each``), ``n_jobs`` of them side by side. On the
``small`` profile's real inputs (warm caches: run notebooks 01-04 first,
or ``make report``), this prints, per input:

- ``logistic 2 BLAS / 1 BLAS``: seconds of one logistic regression fit (the
  input's training rows, C=0.01) with the process's two OpenBLAS threads and
  with one, their ratio, and the largest difference between the two fits'
  weights (OpenBLAS splits its sums by thread count);
- ``n_jobs=1`` and ``n_jobs=2``: seconds of the whole ``classifier_on_splits``
  call, fits one after another and two side by side, their ratio, and whether
  the two give the same choice, cross-validation scores and predictions.

    python benchmarks/bench_style_classifiers.py [--profile small] [--seed 0]

Run it under the Makefile's environment (``make bench`` does), with nothing
else on the machine.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from musicgeo_utils import config, evaluation, features, manifest, runs, symbolic


def inputs(profile: str, seed: int):
    """``(tunes, codes, {name: (X, extra_train or None, tree_columns or None)})``: notebook 04's classifier inputs."""
    run = runs.use("folk", "", profile, seed)
    tunes, feats = run.features()
    codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                              config.get_profile(profile).min_train_per_class)
    X = feats.summary.to_numpy()
    _, scored = manifest.profile_score_features(profile, seed)
    heard = scored.families["transcribed score"].to_numpy()
    invariant = feats.summary.columns.isin(features.invariant_names())
    extra = manifest.style_training_extras(profile, seed, tunes, codes, styles, None, False, None)
    global_columns = ~symbolic.ngram_columns(scored.families["transcribed score"].columns)
    return tunes, codes, {
        "summary features": (X, None, None),
        "transcribed score": (heard, extra.train, global_columns),
        "transcribed score + invariant summary": (np.hstack([X[:, invariant], heard]), None,
                                                  np.r_[np.ones(invariant.sum(), bool), global_columns]),
        "clip score": (scored.families["clip score"].to_numpy(), None, global_columns),
        "whole score": (scored.families["whole score"].to_numpy(), None, global_columns),
    }


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tunes, codes, families = inputs(args.profile, args.seed)
    split = tunes["split"].to_numpy()
    train = (split == "train") & (codes >= 0)
    rows = []
    for name, (X, extra, tree_columns) in families.items():
        fits = {}
        for blas in (2, 1):
            with threadpool_limits(blas, user_api="blas"):
                fits[blas] = timed(lambda: evaluation._logistic(0.01, args.seed).fit(X[train], codes[train]))
        calls = {}
        for n_jobs in (1, 2):
            calls[n_jobs] = timed(lambda: evaluation.classifier_on_splits(
                X, codes, split, seed=args.seed, trees=name != "summary features", extra_train=extra,
                groups=tunes["tune_id"] if extra is not None else None, tree_columns=tree_columns, n_jobs=n_jobs))
        (pred_1, _, chosen_1), seconds_1 = calls[1]
        (pred_2, _, chosen_2), seconds_2 = calls[2]
        rows.append({
            "input": name, "shape": f"{X.shape[0]} x {X.shape[1]}",
            "logistic 2 BLAS s": fits[2][1], "logistic 1 BLAS s": fits[1][1],
            "2 BLAS / 1 BLAS": fits[2][1] / fits[1][1],
            "weights apart": float(np.abs(fits[2][0][-1].coef_ - fits[1][0][-1].coef_).max()),
            "n_jobs=1 s": seconds_1, "n_jobs=2 s": seconds_2, "n_jobs 1 / 2": seconds_1 / seconds_2,
            "same answers": bool(chosen_1 == chosen_2 and chosen_1.cv_scores == chosen_2.cv_scores
                                 and np.array_equal(pred_1, pred_2)),
            "chosen": str(chosen_2),
        })
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print("\nall inputs:")
    print(table.round(3).to_string(index=False))
    print(f"\nclassifier_on_splits over the {len(table)} inputs: {table['n_jobs=1 s'].sum():.1f} s one after another, "
          f"{table['n_jobs=2 s'].sum():.1f} s two side by side (ratio "
          f"{table['n_jobs=1 s'].sum() / table['n_jobs=2 s'].sum():.2f})")


if __name__ == "__main__":
    main()
