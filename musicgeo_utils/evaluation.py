"""Evaluating classifiers: accuracy, macro-F1, per-class reports, confusion
matrices, the logistic-regression baseline on summary features, and
:func:`classifier_on_splits`, which lets validation choose between a logistic
regression (its penalty chosen by cross-validation on the training split,
:func:`choose_C`) and gradient-boosted trees for any feature family.

Geographic scores (great-circle km) live in :mod:`musicgeo_utils.geoscores`;
this module is for the style classifiers of notebook 04.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from musicgeo_utils import config


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct labels."""
    return float(accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred, labels=None) -> float:
    """Unweighted mean of per-class F1 (each class weighs the same, whatever its size).

    ``labels`` fixes the class set (e.g. ``range(n_classes)``) so that a class
    missing from both truth and prediction still counts (as F1 0).
    """
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def scores(name: str, y_true, y_pred) -> dict:
    """Accuracy and macro-F1 (:func:`accuracy`, :func:`macro_f1`) of one model, as a table row."""
    return {"model": name, "accuracy": accuracy(y_true, y_pred),
            "macro_f1": macro_f1(y_true, y_pred), "n": len(y_true)}


def per_class_report(y_true, y_pred, class_names) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (rows in ``class_names`` order)."""
    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    return pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                        index=pd.Index(class_names, name="class"))


#: The grid of a logistic regression's inverse penalty ``C`` (:func:`choose_C`).
LOGISTIC_CS = (0.003, 0.01, 0.1, 1.0)
#: Folds of the cross-validation over the training rows that chooses ``C`` (:func:`choose_C`).
C_FOLDS = 3


def _logistic(C: float, seed: int, warm_start: bool = False):
    """The standardised multinomial logistic regression of this module, with inverse penalty ``C``."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000, random_state=seed,
                                                              warm_start=warm_start))


def _fit_each(models, X, y, n_jobs: int = 1) -> list:
    """``models``, each fitted on ``(X, y)`` with one BLAS and one OpenMP thread, up to ``n_jobs`` side by side.

    One thread per fit: a logistic regression's weights then depend on
    neither ``n_jobs`` nor the machine's cores (OpenBLAS splits its sums by
    thread count: weights 1e-12 apart), the gradient-boosted trees are the
    same trees with any number of OpenMP threads, and on two cores
    single-threaded fits side by side finish sooner than one after another
    with two threads each (docs/experiments.md, "One thread per fit").
    Never call it from inside :func:`config.map_in_threads` (its docstring
    says why the limits are set once, in the calling thread).
    """
    return config.map_in_threads(lambda model: model.fit(X, y), models, n_jobs, limits=1)


def choose_C(X, y, Cs=LOGISTIC_CS, groups=None, scored=None, folds: int = C_FOLDS, seed: int = 0,
             n_jobs: int = 1):
    """``(C, cv_scores)``: a logistic regression's ``C`` by cross-validated macro-F1 over training rows only.

    A single validation split chose ``C`` until 2026-12-07; on a few hundred
    tunes its macro-F1 differs by a few hundredths between neighbouring ``C``
    by chance, and it picked C=1 for the transcribed score where
    cross-validation over the same tunes finds C=0.01 better in 10 folds of
    10 (``benchmarks/style_penalty.py``; docs/experiments.md, "The penalty
    chosen on one validation split, and by cross-validation"). So the
    training rows are split into ``folds`` (``StratifiedGroupKFold``,
    shuffled with ``seed``): the rows of one of
    ``groups`` (e.g. a tune and its other renders) stay in one fold, and a
    held-out fold is scored on its ``scored`` rows only (default all; e.g.
    the profile's own clips, not the tunes read as scores). Along ``Cs`` in
    increasing order each fold's model starts from the previous one's
    weights (``warm_start``: the same optimum, fewer iterations). The ``C``
    with the best mean macro-F1 over folds wins, the smaller on a tie;
    ``cv_scores`` maps each ``C`` to that mean. The validation split is left
    for choosing between models. Each fit runs with one thread
    (:func:`_fit_each`); ``n_jobs``: threads the folds are fitted in side by
    side (the same numbers as one fold after another).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    scored = np.ones(len(y), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    if not len(X) == len(y) == len(groups) == len(scored):
        raise ValueError(f"X, y, groups and scored need one entry per row: {len(X)}, {len(y)}, {len(groups)}, "
                         f"{len(scored)}")
    Cs = sorted(float(C) for C in Cs)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = [(fit_rows, held[scored[held]]) for fit_rows, held in splitter.split(X, y, groups)]
    splits = [(fit_rows, held) for fit_rows, held in splits if len(held)]
    if not splits:
        raise ValueError("choose_C: no fold holds a scored row")

    def fold(rows) -> list[float]:  # one fold's macro-F1 at each C, along Cs from the previous C's weights
        fit_rows, held = rows
        model = _logistic(Cs[0], seed, warm_start=True)
        return [f1_score(y[held], model.set_params(logisticregression__C=C).fit(X[fit_rows], y[fit_rows])
                         .predict(X[held]), average="macro") for C in Cs]

    fold_scores = config.map_in_threads(fold, splits, n_jobs, limits=1)  # one thread per fit, as _fit_each
    cv_scores = {C: float(np.mean([scores[i] for scores in fold_scores])) for i, C in enumerate(Cs)}
    best = max(Cs, key=lambda C: (cv_scores[C], -C))
    return best, cv_scores


def logistic_baseline(X_train, y_train, X_test, Cs=LOGISTIC_CS, seed: int = 0, n_jobs: int = 1):
    """Standardised multinomial logistic regression, ``C`` chosen by cross-validation on the training rows.

    Returns ``(test_predictions, test_probabilities, chosen_C)``; ``C`` is
    :func:`choose_C`'s, and the final model is fitted on the training set only.
    """
    C, _ = choose_C(X_train, y_train, Cs, seed=seed, n_jobs=n_jobs)
    model, = _fit_each([_logistic(C, seed)], X_train, y_train)
    return model.predict(X_test), model.predict_proba(X_test), C


def _split_rows(X, codes, split) -> dict[str, np.ndarray]:
    """Row indices of the labelled (``codes >= 0``) rows of each split; ValueError if misaligned or empty."""
    if not len(X) == len(codes) == len(split):
        raise ValueError(f"X, codes and split need one entry per row: {len(X)}, {len(codes)}, {len(split)}")
    rows = {name: np.flatnonzero((split == name) & (codes >= 0)) for name in ("train", "val", "test")}
    empty = [name for name, r in rows.items() if not len(r)]
    if empty:
        raise ValueError(f"no labelled rows in split(s) {empty}")
    return rows


def logistic_on_splits(X, codes, split, Cs=LOGISTIC_CS, seed: int = 0, n_jobs: int = 1):
    """:func:`logistic_baseline` on the rows of ``X`` that each split holds.

    ``codes`` are class codes aligned with the rows (``-1`` = left out, see
    :func:`encode_classes`); ``split`` names each row's split (``train``,
    ``val``, ``test``). Fitted on train, ``C`` chosen by cross-validation on
    train (:func:`choose_C`); every split must hold labelled rows. Returns
    ``(test_predictions, test_codes, chosen_C)``, test rows in their order in ``X``.
    """
    X, codes, split = np.asarray(X), np.asarray(codes), np.asarray(split)
    rows = _split_rows(X, codes, split)
    pred, _, C = logistic_baseline(X[rows["train"]], codes[rows["train"]], X[rows["test"]], Cs=Cs, seed=seed,
                                   n_jobs=n_jobs)
    return pred, codes[rows["test"]], C


#: Gradient-boosted trees of :func:`classifier_on_splits` (scikit-learn's histogram
#: implementation: deterministic for a seed, whatever the thread count; classes weighed equally).
BOOSTED_TREES = dict(max_iter=200, learning_rate=0.1, class_weight="balanced")


def classifier_on_splits(X, codes, split, Cs=LOGISTIC_CS, seed: int = 0, trees: bool = True,
                         extra_train=None, tree_columns=None, groups=None, n_jobs: int = 1):
    """The better of a logistic regression and gradient-boosted trees, by validation macro-F1.

    Like :func:`logistic_on_splits` (fitted on train, the logistic
    regression's ``C`` chosen by cross-validation on train, :func:`choose_C`,
    scored on test) with one more candidate: ``HistGradientBoostingClassifier``
    (:data:`BOOSTED_TREES`), which copes better with noisy inputs such as
    descriptors of transcribed notes; validation chooses between the two.
    Returns ``(test_predictions, test_codes, chosen)``, ``chosen`` naming the
    model, e.g. ``"logistic regression, C=0.1"`` or ``"gradient-boosted
    trees"``; the validation macro-F1 of each candidate is in
    ``chosen.scores``, the cross-validated macro-F1 of each ``C`` in
    ``chosen.cv_scores``, and the fitted model (trained on the training
    rows) in ``chosen.model``, e.g. to score other renders of the test tunes.
    ``trees=False`` leaves the trees out (the logistic regression alone): on
    hundreds of dense columns, such as the audio summary features, they cost
    minutes.
    ``extra_train``: ``(X_extra, codes_extra, groups_extra)``, more training
    rows (e.g. other renders of the training tunes,
    :func:`manifest.profile_extra_renders`), appended to the training split's;
    rows with a negative code are left out. ``groups`` (one per row of ``X``,
    e.g. tune ids; required with ``extra_train``; default each row its own,
    the folds of :func:`logistic_on_splits`) and ``groups_extra`` keep a tune
    and its other renders in one fold of :func:`choose_C`, where the extra
    rows are learned from but never scored.
    ``tree_columns``: a boolean mask of the columns the trees read (default
    all), e.g. without the hundreds of n-gram columns of the score descriptors
    (:func:`symbolic.ngram_columns`), which would multiply their fitting time;
    the logistic regression reads every column.
    ``n_jobs``: threads that fit the cross-validation's folds, then the
    candidates, side by side (each fit with one thread,
    :func:`_fit_each`; the same models and choice as one after another).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, codes, split = np.asarray(X, dtype=float), np.asarray(codes), np.asarray(split)
    rows = _split_rows(X, codes, split)
    if groups is None and extra_train is not None:
        raise ValueError("extra_train needs groups: the tune of each row of X, so that a tune's other renders "
                         "stay in its cross-validation fold")
    groups = np.arange(len(X)) if groups is None else np.asarray(groups).astype(str)
    if len(groups) != len(X):
        raise ValueError(f"groups: need one per row of X ({len(X)}), got {len(groups)}")
    X_train, y_train, g_train = X[rows["train"]], codes[rows["train"]], groups[rows["train"]]
    own = np.ones(len(y_train), dtype=bool)
    if extra_train is not None:
        if len(extra_train) != 3:
            raise ValueError("extra_train: need (X_extra, codes_extra, groups_extra), the groups (e.g. tune ids) "
                             "keeping a tune's other renders in its cross-validation fold")
        X_extra, y_extra, g_extra = (np.asarray(extra_train[0], dtype=float), np.asarray(extra_train[1]),
                                     np.asarray(extra_train[2]).astype(str))
        if X_extra.ndim != 2 or X_extra.shape[1] != X.shape[1] or not len(X_extra) == len(y_extra) == len(g_extra):
            raise ValueError(f"extra_train: need ({len(y_extra)}, {X.shape[1]}) rows and one code and group per row, "
                             f"got {X_extra.shape}, {len(y_extra)} codes and {len(g_extra)} groups")
        keep = y_extra >= 0
        X_train, y_train = np.vstack([X_train, X_extra[keep]]), np.r_[y_train, y_extra[keep]]
        g_train, own = np.r_[g_train, g_extra[keep]], np.r_[own, np.zeros(keep.sum(), dtype=bool)]
    C, cv_scores = choose_C(X_train, y_train, Cs, groups=g_train, scored=own, seed=seed, n_jobs=n_jobs)
    candidates = {f"logistic regression, C={C:g}": _logistic(C, seed)}
    if trees:
        candidates["gradient-boosted trees"] = HistGradientBoostingClassifier(random_state=seed, **BOOSTED_TREES)
        if tree_columns is not None:
            tree_columns = np.asarray(tree_columns, dtype=bool)
            if tree_columns.shape != (X.shape[1],) or not tree_columns.any():
                raise ValueError(f"tree_columns: need a mask of {X.shape[1]} columns with at least one true, "
                                 f"got shape {tree_columns.shape}")
            candidates["gradient-boosted trees"] = make_pipeline(ColumnTransformer(
                [("read", "passthrough", np.flatnonzero(tree_columns))]), candidates["gradient-boosted trees"])
    fitted = _fit_each(candidates.values(), X_train, y_train, n_jobs)
    scores, best = {}, None
    for name, model in zip(candidates, fitted):
        scores[name] = f1_score(codes[rows["val"]], model.predict(X[rows["val"]]), average="macro")
        if best is None or scores[name] > scores[best]:
            best = name
    chosen = ChosenModel(best)
    chosen.scores, chosen.cv_scores, chosen.model = scores, cv_scores, candidates[best]
    return candidates[best].predict(X[rows["test"]]), codes[rows["test"]], chosen


class ChosenModel(str):
    """The name of the model that validation chose (a ``str``), with every candidate's ``scores``, the
    logistic regression's ``cv_scores`` (:func:`choose_C`) and the ``model``."""

    scores: dict
    cv_scores: dict
    model: object


def cv_parser(description: str):
    """The ``argparse`` parser of the cross-validation benchmarks (``benchmarks/``), with the arguments they
    share: ``--profile`` (small), ``--seed`` (0), ``--folds`` (5) and ``--repeats`` (2: k-fold splits, each
    shuffled by its own seed); a benchmark adds its own."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="k-fold splits, each shuffled by its own seed")
    return parser


def fold_gains(scores: dict, arm_name: str) -> pd.DataFrame:
    """Paired comparison of cross-validation arms, for the benchmarks that ask "does this help?".

    ``scores`` maps each arm (the first is the reference) to a list of
    metric dicts, one per fold, the same folds in the same order for every
    arm. One row per metric and arm: ``arm_name`` (the arm), the mean over
    folds, the mean fold-wise change from the reference, its standard error,
    and in how many folds the arm is better (lower is better for a metric
    whose name ends in "km"); the reference's own rows have a zero change.
    """
    arms = list(scores)
    reference = pd.DataFrame(scores[arms[0]])
    rows = []
    for arm in arms:
        values = pd.DataFrame(scores[arm])
        for metric in values.columns:
            gain = values[metric].to_numpy() - reference[metric].to_numpy()
            better = gain < 0 if metric.endswith("km") else gain > 0
            rows.append({"metric": metric, arm_name: arm, "mean over folds": values[metric].mean(),
                         f"change from {arm_name} = {arms[0]}": gain.mean(),
                         "its standard error": gain.std(ddof=1) / np.sqrt(len(gain)) if arm != arms[0] else 0.0,
                         "folds better": f"{int(better.sum())} of {len(gain)}" if arm != arms[0] else ""})
    return pd.DataFrame(rows).sort_values(["metric", arm_name], kind="stable", ignore_index=True)


def confusion_axes(ax, y_true, y_pred, class_names, title: str = ""):
    """Row-normalised confusion matrix (share of each true class), annotated in %."""
    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names)), normalize="true")
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    for (i, j), value in np.ndenumerate(matrix):
        if value >= 0.005:
            ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return ax


def history_figure(histories: dict[str, pd.DataFrame]):
    """Training curves: loss and accuracy per epoch, train (dashed) and validation (solid)."""
    import matplotlib.pyplot as plt  # here: training imports this module for its scores

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.2))
    for (name, frame), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        loss_ax.plot(frame["epoch"], frame["train_loss"], "--", color=color)
        loss_ax.plot(frame["epoch"], frame["val_loss"], "-", color=color, label=name)
        if frame["val_accuracy"].notna().any():
            acc_ax.plot(frame["epoch"], frame["train_accuracy"], "--", color=color)
            acc_ax.plot(frame["epoch"], frame["val_accuracy"], "-", color=color, label=name)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss (dashed: train, solid: validation)")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    loss_ax.legend(fontsize=7)
    acc_ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def encode_classes(labels: pd.Series, train_mask, min_train: int = 30) -> tuple[np.ndarray, list[str]]:
    """Integer class codes for ``labels``; classes with fewer than ``min_train``
    training examples get code -1 (left out, and reported by the caller).

    Returns ``(codes, class_names)``, class names sorted alphabetically.
    """
    labels = pd.Series(labels).astype(str).reset_index(drop=True)
    counts = labels[np.asarray(train_mask)].value_counts()
    names = sorted(counts[counts >= min_train].index)
    codes = labels.map({name: code for code, name in enumerate(names)}).fillna(-1).astype(int)
    return codes.to_numpy(), names
