"""Classifier evaluation helpers: known answers on small separable problems."""
import numpy as np
import pytest

from musicgeo_utils import evaluation


def separable(n=90, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    X = rng.normal(0.0, 0.3, (n, 4)) + np.eye(3, 4)[codes] * 3.0
    split = np.array(["train", "train", "val", "test"] * (n // 4 + 1))[:n]
    return X, codes, split


def test_encode_classes_leaves_rare_classes_out():
    labels = ["a"] * 5 + ["b"] * 2 + ["c"]
    codes, names = evaluation.encode_classes(labels, np.ones(8, dtype=bool), min_train=2)
    assert names == ["a", "b"] and codes.tolist() == [0] * 5 + [1] * 2 + [-1]


def test_logistic_on_splits_uses_each_split_for_its_purpose():
    X, codes, split = separable()
    codes = codes.copy()
    left_out = np.flatnonzero(split == "test")[:3]
    codes[left_out] = -1  # excluded rows are never scored
    pred, y_test, C = evaluation.logistic_on_splits(X, codes, split, seed=0)
    expected = codes[(split == "test") & (codes >= 0)]
    assert y_test.tolist() == expected.tolist() and len(pred) == len(y_test)
    assert (pred == y_test).mean() == 1.0 and C in evaluation.LOGISTIC_CS
    # the same as calling logistic_baseline on the rows by hand; C from the training rows alone
    rows = {s: np.flatnonzero((split == s) & (codes >= 0)) for s in ("train", "val", "test")}
    by_hand = evaluation.logistic_baseline(X[rows["train"]], codes[rows["train"]], X[rows["test"]], seed=0)
    assert by_hand[2] == C == evaluation.choose_C(X[rows["train"]], codes[rows["train"]], seed=0)[0]
    assert (by_hand[0] == pred).all()
    shuffled_val = codes.copy()
    shuffled_val[rows["val"]] = np.random.default_rng(1).permutation(codes[rows["val"]])
    assert evaluation.logistic_on_splits(X, shuffled_val, split, seed=0)[2] == C  # validation plays no part


def test_choose_C_keeps_a_group_in_one_fold_and_scores_only_the_scored_rows():
    rng = np.random.default_rng(0)
    tunes = rng.normal(size=(60, 20))
    labels = rng.integers(0, 3, 60)  # nothing to learn: a label per tune, drawn at random
    X = np.repeat(tunes, 4, axis=0) + rng.normal(scale=0.01, size=(240, 20))  # four renders of each tune
    y, groups = np.repeat(labels, 4), np.repeat(np.arange(60), 4)
    # rows on their own: a weak penalty memorises the other renders of a held-out tune and looks good
    _, leaky = evaluation.choose_C(X, y, seed=0)
    assert leaky[max(evaluation.LOGISTIC_CS)] > 0.8
    # a tune's renders in one fold: nothing to memorise, every C near chance
    C, grouped = evaluation.choose_C(X, y, groups=groups, seed=0)
    assert max(grouped.values()) < 0.6 and set(grouped) == set(evaluation.LOGISTIC_CS) and C in grouped
    assert evaluation.choose_C(X, y, groups=groups, seed=0) == (C, grouped)  # the same folds for a seed
    # only the scored rows count: scoring the first render of each tune alone gives other means
    first = np.tile([True, False, False, False], 60)
    _, first_only = evaluation.choose_C(X, y, groups=groups, scored=first, seed=0)
    assert first_only != grouped
    with pytest.raises(ValueError, match="no fold holds a scored row"):
        evaluation.choose_C(X, y, groups=groups, scored=np.zeros(240, bool))
    with pytest.raises(ValueError, match="one entry per row"):
        evaluation.choose_C(X, y[:-1])


def test_choose_C_takes_the_smaller_C_on_a_tie():
    rng = np.random.default_rng(0)
    y = np.arange(300) % 3
    X = rng.normal(0.0, 0.1, (300, 4)) + np.eye(3, 4)[y] * 3.0  # far apart: every C scores 1
    C, scores = evaluation.choose_C(X, y, seed=0)
    assert set(scores.values()) == {1.0} and C == min(evaluation.LOGISTIC_CS)


def test_logistic_on_splits_refuses_misaligned_or_empty_splits():
    X, codes, split = separable()
    with pytest.raises(ValueError, match="one entry per row"):
        evaluation.logistic_on_splits(X[:-1], codes, split)
    with pytest.raises(ValueError, match=r"no labelled rows in split\(s\) \['val'\]"):
        evaluation.logistic_on_splits(X, codes, np.where(split == "val", "train", split))


def test_accuracy_and_macro_f1_known_answers():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    assert evaluation.accuracy(y_true, y_pred) == 0.75
    # F1 class 0: P=1, R=1/2 -> 2/3; class 1: P=2/3, R=1 -> 4/5; mean 11/15
    assert evaluation.macro_f1(y_true, y_pred) == pytest.approx(11 / 15)
    assert evaluation.macro_f1(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx(22 / 45)
    assert evaluation.scores("m", y_true, y_pred) == {"model": "m", "accuracy": 0.75,
                                                      "macro_f1": pytest.approx(11 / 15), "n": 4}


def test_classifier_on_splits_lets_validation_choose_trees_for_a_nonlinear_problem():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(900, 2))
    codes = ((X[:, 0] * X[:, 1]) > 0).astype(int)  # XOR-like: no line separates it
    split = np.array(["train"] * 600 + ["val"] * 150 + ["test"] * 150)
    pred, y_test, chosen = evaluation.classifier_on_splits(X, codes, split, seed=0)
    logistic = f"logistic regression, C={max(chosen.cv_scores, key=chosen.cv_scores.get):g}"
    assert chosen == "gradient-boosted trees" and set(chosen.scores) == {logistic, "gradient-boosted trees"}
    assert chosen.scores["gradient-boosted trees"] > max(v for k, v in chosen.scores.items() if k != chosen) + 0.2
    assert evaluation.accuracy(y_test, pred) > 0.9
    np.testing.assert_array_equal(chosen.model.predict(X[split == "test"]), pred)
    # a linear problem with few, clean rows: the logistic regression may win; whatever wins, its score is the best
    linear = (X[:, 0] > 0).astype(int)
    _, _, chosen = evaluation.classifier_on_splits(X, linear, split, seed=0)
    assert chosen.scores[chosen] == max(chosen.scores.values())
    # without trees: the logistic regression alone, C chosen by cross-validation as logistic_on_splits does
    pred, _, chosen = evaluation.classifier_on_splits(X, linear, split, seed=0, trees=False)
    assert "gradient-boosted trees" not in chosen.scores and chosen.startswith("logistic regression, C=")
    logistic_pred, _, C = evaluation.logistic_on_splits(X, linear, split, seed=0)
    assert chosen == f"logistic regression, C={C:g}"
    np.testing.assert_array_equal(pred, logistic_pred)
    with pytest.raises(ValueError, match="one entry per row"):
        evaluation.classifier_on_splits(X[:-1], codes, split)


def test_classifier_on_splits_learns_from_extra_training_rows_and_is_scored_on_the_splits_own():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 2))
    codes = (X[:, 0] > 0).astype(int)
    split = np.array(["train"] * 200 + ["val"] * 100 + ["test"] * 100)
    codes[:200] = rng.integers(0, 2, 200)  # the training split's own labels carry nothing
    extra = rng.uniform(-1, 1, size=(300, 2))
    extra_codes = (extra[:, 0] > 0).astype(int)
    extra_codes[:10] = -1  # rows without a class are left out
    groups, extra_groups = np.arange(400).astype(str), np.array([f"extra {i}" for i in range(300)])
    alone, y_test, _ = evaluation.classifier_on_splits(X, codes, split, seed=0, trees=False)
    pred, y_again, chosen = evaluation.classifier_on_splits(X, codes, split, seed=0, trees=False, groups=groups,
                                                            extra_train=(extra, extra_codes, extra_groups))
    np.testing.assert_array_equal(y_test, y_again)  # scored on the test split's own rows
    assert evaluation.accuracy(y_test, pred) > 0.9 > evaluation.accuracy(y_test, alone) + 0.2
    # C's folds score the training split's own rows only, whose labels carry nothing
    assert max(chosen.cv_scores.values()) < 0.65
    with pytest.raises(ValueError, match="extra_train"):
        evaluation.classifier_on_splits(X, codes, split, groups=groups,
                                        extra_train=(extra[:, :1], extra_codes, extra_groups))
    with pytest.raises(ValueError, match="groups_extra"):
        evaluation.classifier_on_splits(X, codes, split, groups=groups, extra_train=(extra, extra_codes))
    with pytest.raises(ValueError, match="extra_train needs groups"):
        evaluation.classifier_on_splits(X, codes, split, extra_train=(extra, extra_codes, extra_groups))


def test_tree_columns_hide_columns_from_the_trees_only():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(900, 3))
    codes = ((X[:, 0] * X[:, 1]) > 0).astype(int)  # XOR-like: the trees win
    split = np.array(["train"] * 600 + ["val"] * 150 + ["test"] * 150)
    mask = np.array([True, True, False])
    pred, _, chosen = evaluation.classifier_on_splits(X, codes, split, seed=0, tree_columns=mask)
    assert chosen == "gradient-boosted trees"
    # the trees never read the third column: changing it changes no answer; they read the first
    noisy = X.copy()
    noisy[:, 2] = rng.uniform(-1, 1, size=900)
    np.testing.assert_array_equal(chosen.model.predict(noisy[split == "test"]), pred)
    moved = X.copy()
    moved[:, 0] = -moved[:, 0]
    assert (chosen.model.predict(moved[split == "test"]) != pred).mean() > 0.8
    # the same trees as on the two columns alone
    alone, _, again = evaluation.classifier_on_splits(X[:, :2], codes, split, seed=0)
    np.testing.assert_array_equal(pred, alone)
    assert again.scores["gradient-boosted trees"] == chosen.scores["gradient-boosted trees"]
    with pytest.raises(ValueError, match="tree_columns"):
        evaluation.classifier_on_splits(X, codes, split, tree_columns=mask[:2])


def test_fold_gains_pair_each_fold_with_the_reference():
    scores = {0: [{"macro-F1": 0.40, "median km": 900.0}, {"macro-F1": 0.50, "median km": 800.0}],
              2: [{"macro-F1": 0.45, "median km": 950.0}, {"macro-F1": 0.52, "median km": 700.0}]}
    table = evaluation.fold_gains(scores, "K").set_index(["metric", "K"])
    assert table.loc[("macro-F1", 2), "change from K = 0"] == pytest.approx(0.035)
    assert table.loc[("macro-F1", 2), "its standard error"] == pytest.approx(np.std([0.05, 0.02], ddof=1) / np.sqrt(2))
    assert table.loc[("macro-F1", 2), "folds better"] == "2 of 2"
    assert table.loc[("median km", 2), "folds better"] == "1 of 2"  # lower is better for km
    assert table.loc[("median km", 0), "change from K = 0"] == 0 and table.loc[("median km", 0), "folds better"] == ""
    assert table.loc[("median km", 2), "mean over folds"] == pytest.approx(825.0)


def test_cv_parser_gives_the_benchmarks_shared_arguments():
    parser = evaluation.cv_parser("a benchmark")
    parser.add_argument("--Cs", type=float, nargs="+", default=[1.0])
    args = parser.parse_args([])
    assert (args.profile, args.seed, args.folds, args.repeats, args.Cs) == ("small", 0, 5, 2, [1.0])
    args = parser.parse_args(["--profile", "full", "--seed", "3", "--folds", "4", "--repeats", "1"])
    assert (args.profile, args.seed, args.folds, args.repeats) == ("full", 3, 4, 1)


def test_classifier_on_splits_gives_the_same_models_whatever_the_threads():
    """Each fit runs with one thread: the cross-validation's scores, the choice, the weights and the
    predictions are bit for bit the same under the caller's one or two BLAS threads and with the folds
    and candidates fitted one after another or side by side (on this problem a logistic regression
    fitted with two OpenBLAS threads ends 1e-15 away from one fitted with one)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2600, 300))
    codes = (X[:, :5] @ rng.normal(size=(5, 4))).argmax(axis=1)
    split = np.array(["train"] * 2000 + ["val"] * 300 + ["test"] * 300)
    runs = {}
    for caller, n_jobs in ((1, 1), (2, 1), (2, 2)):
        with threadpool_limits(caller, user_api="blas"):
            runs[caller, n_jobs] = evaluation.classifier_on_splits(X, codes, split, Cs=(0.01, 0.1), seed=0,
                                                                   tree_columns=np.arange(300) == 299,  # noise
                                                                   n_jobs=n_jobs)
    (pred, y_test, chosen), *others = runs.values()
    assert chosen.startswith("logistic regression") and set(chosen.scores) == {chosen, "gradient-boosted trees"}
    for other_pred, other_y, other in others:
        assert other == chosen and other.scores == chosen.scores and other.cv_scores == chosen.cv_scores
        np.testing.assert_array_equal(other.model[-1].coef_, chosen.model[-1].coef_)
        np.testing.assert_array_equal(other_pred, pred)
        np.testing.assert_array_equal(other_y, y_test)


class LogisticRegression(evaluation.LogisticRegression):  # named so that make_pipeline names its step as before
    """Records how many BLAS threads each fit had, from start to end."""

    seen: list = []

    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        def blas():
            return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

        before = blas()
        fitted = super().fit(X, y)
        LogisticRegression.seen.append(before | blas())
        return fitted


def test_every_fit_of_the_cross_validation_and_the_candidates_has_one_blas_thread(monkeypatch):
    """OpenBLAS's thread limit is one for the whole process: fits side by side that each set and
    restored their own would leave one another two threads now and then (the numbers then change
    from run to run). Every fit, side by side under a caller with two, sees one from start to end."""
    from threadpoolctl import threadpool_limits

    def recording(C, seed, warm_start=False):
        return evaluation.make_pipeline(evaluation.StandardScaler(),
                                        LogisticRegression(C=C, max_iter=3000, random_state=seed, warm_start=warm_start))

    monkeypatch.setattr(evaluation, "_logistic", recording)
    monkeypatch.setattr(LogisticRegression, "seen", [])
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 200))
    codes = (X[:, :3] @ rng.normal(size=(3, 3))).argmax(axis=1)
    split = np.array(["train"] * 1000 + ["val"] * 250 + ["test"] * 250)
    with threadpool_limits(2, user_api="blas"):
        evaluation.classifier_on_splits(X, codes, split, Cs=(0.01, 0.1, 1.0), seed=0, n_jobs=2,
                                        tree_columns=np.arange(200) < 2)
        evaluation.logistic_on_splits(X, codes, split, Cs=(0.01, 0.1), seed=0, n_jobs=2)
    assert len(LogisticRegression.seen) == 3 * 3 + 1 + 3 * 2 + 1  # folds x Cs and the final fit, twice
    assert all(seen == {1} for seen in LogisticRegression.seen)
