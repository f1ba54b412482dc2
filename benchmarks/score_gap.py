"""Where does the transcribed score lose to the clip score? Notes, beats and tonic swapped one at a time.

Notebook 04's style table puts the transcribed score (notes, beats and tonic all estimated from the
audio) beside the clip score (the true notes of the same window, the true tempo grid, the true
tonic). Issue 11 asks the first to reach 0.9 of the second's macro-F1. This script computes the
descriptors (``transcribed_score.descriptors_from_seconds``, the one definition both use) for all
eight mixtures: each of the three ingredients either true or estimated, and fits notebook 04's
classifier (``evaluation.classifier_on_splits``: logistic regression with C cross-validated, or
gradient-boosted trees, chosen on validation) on each. The two corners reproduce notebook 04's
tables exactly (checked). Validation macro-F1 is the basis of any conclusion; test is printed for
the record.

- notes: ``true`` = the notes rendered into the window; ``heard`` = the transcription.
- beats: ``true`` = the rendered tempo's grid from time 0; ``tracked`` = librosa's beat tracker.
- tonic: ``true`` = the tune's final, transposed as rendered; ``estimated`` = key-profile correlation
  over the same notes (``transcribed_score.estimate_tonic``).

Run after ``make report`` (reads the caches of notebooks 02-04; about 4 minutes on 2 cores):
``python benchmarks/score_gap.py [--profile small --seed 0]``.

``--groups`` also gives the transcribed score the true values of one descriptor group at a time
(pitch classes, intervals, durations, onset positions, IOI ratios, the three scalars): does one
group carry the loss? ``--classifiers`` fits other classifiers to both corners (validation only):
does the classifier hide it?
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd

from musicgeo_utils import config, evaluation, manifest, runs, symbolic
from musicgeo_utils import transcribed_score as ts


def _durations(notes: pd.DataFrame) -> np.ndarray:
    return (notes["duration_s"] if "duration_s" in notes else notes["offset_s"] - notes["onset_s"]).to_numpy(float)


def mixture(scored, clip_ids, notes: str, beats: str, tonic: str) -> np.ndarray:
    """Descriptors of every clip with each ingredient ``true`` or estimated (module docstring)."""
    source = scored.reference if notes == "true" else scored.heard.notes
    groups = {str(c): g for c, g in source.groupby("clip_id", sort=False)}
    estimates = scored.estimates
    rows = []
    for clip_id in clip_ids:
        clip_notes = groups.get(clip_id)
        tempo, tracked = scored.heard.beats.get(clip_id) or (float("nan"), np.empty(0))
        if beats == "true":
            tempo, tracked = float(estimates.at[clip_id, "true_qpm"]), np.empty(0)
        if clip_notes is None or len(clip_notes) == 0 or not (tempo > 0 or len(tracked) >= 2):
            rows.append(np.zeros(len(symbolic.descriptor_names())))  # as the transcribed score's empty clips
            continue
        pc = (int(estimates.at[clip_id, "true_tonic_pc"]) if tonic == "true"
              else ts.estimate_tonic(clip_notes["pitch_midi"], _durations(clip_notes)))
        rows.append(ts.descriptors_from_seconds(clip_notes, tracked, tempo, pc))
    return np.vstack(rows)


#: Descriptor groups of ``symbolic.descriptor_names`` (by prefix), for ``--groups``.
GROUPS = {"pitch classes": "pc_from_final", "intervals": "interval_", "durations": "duration_",
          "onset positions": "onset_", "IOI ratios": "ioi_ratio",
          "scalars": ("range_semitones", "notes_per_quarter", "repeated_note_share")}


def group_swaps(scored, clip_ids, codes, split, seed: int) -> pd.DataFrame:
    """Validation macro-F1 of the transcribed score with one group's true (clip-score) values."""
    heard = scored.families["transcribed score"].loc[clip_ids]
    clip = scored.families["clip score"].loc[clip_ids]
    rows = []
    for name, prefix in GROUPS.items():
        columns = [c for c in heard.columns if c.startswith(prefix)]
        X = heard.assign(**{c: clip[c] for c in columns}).to_numpy()
        _, _, chosen = evaluation.classifier_on_splits(X, codes, split, seed=seed,
                                                       tree_columns=~symbolic.ngram_columns(heard.columns))
        rows.append({"true group": name, "columns": len(columns), "validation macro-F1": chosen.scores[chosen]})
    return pd.DataFrame(rows)


def other_classifiers(scored, clip_ids, codes, split, seed: int) -> pd.DataFrame:
    """Validation macro-F1 of other classifiers, and of a probability average, on both corners."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    candidates = {
        "notebook 04's gradient-boosted trees": lambda: HistGradientBoostingClassifier(
            random_state=seed, **evaluation.BOOSTED_TREES),
        "slower, regularised trees": lambda: HistGradientBoostingClassifier(
            random_state=seed, max_iter=400, learning_rate=0.05, l2_regularization=1.0, min_samples_leaf=30,
            max_leaf_nodes=15, class_weight="balanced"),
        "random forest": lambda: RandomForestClassifier(500, class_weight="balanced_subsample", min_samples_leaf=2,
                                                        random_state=seed, n_jobs=config.n_jobs()),
        "extra trees": lambda: ExtraTreesClassifier(500, class_weight="balanced_subsample", min_samples_leaf=2,
                                                    random_state=seed, n_jobs=config.n_jobs()),
        "logistic regression (balanced, C=0.1)": lambda: make_pipeline(StandardScaler(), LogisticRegression(
            C=0.1, max_iter=3000, class_weight="balanced")),
        "RBF SVM": lambda: make_pipeline(StandardScaler(), SVC(C=3, class_weight="balanced", probability=True,
                                                               random_state=seed)),
    }
    train, val = ((split == name) & (codes >= 0) for name in ("train", "val"))
    rows = []
    for family in ("transcribed score", "clip score"):
        X = scored.families[family].loc[clip_ids].to_numpy()
        probabilities = {}
        for name, make in candidates.items():
            probabilities[name] = make().fit(X[train], codes[train]).predict_proba(X[val])
            rows.append({"family": family, "classifier": name,
                         "validation macro-F1": evaluation.macro_f1(codes[val], probabilities[name].argmax(1))})
        average = (probabilities["notebook 04's gradient-boosted trees"]
                   + probabilities["logistic regression (balanced, C=0.1)"]) / 2
        rows.append({"family": family, "classifier": "trees and logistic regression, probabilities averaged",
                     "validation macro-F1": evaluation.macro_f1(codes[val], average.argmax(1))})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--groups", action="store_true", help="also swap one descriptor group at a time")
    parser.add_argument("--classifiers", action="store_true", help="also fit other classifiers to both corners")
    args = parser.parse_args(argv)
    tunes, _ = runs.use("folk", "", args.profile, args.seed).features()
    codes, _ = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                         config.get_profile(args.profile).min_train_per_class)
    _, scored = manifest.profile_score_features(args.profile, args.seed)
    clip_ids = tunes["tune_id"].astype(str).tolist()
    split = tunes["split"].to_numpy()
    test_truth = codes[(split == "test") & (codes >= 0)]
    trees_read = ~symbolic.ngram_columns(symbolic.descriptor_names())  # as notebook 04's trees
    corners = {("true", "true", "true"): "clip score", ("heard", "tracked", "estimated"): "transcribed score"}
    rows = []
    for notes, beats, tonic in itertools.product(("true", "heard"), ("true", "tracked"), ("true", "estimated")):
        X = mixture(scored, clip_ids, notes, beats, tonic)
        family = corners.get((notes, beats, tonic))
        if family is not None and not np.allclose(X, scored.families[family].loc[clip_ids].to_numpy()):
            raise AssertionError(f"the {family} corner differs from notebook 04's table")
        pred, _, chosen = evaluation.classifier_on_splits(X, codes, split, seed=args.seed, tree_columns=trees_read)
        rows.append({"notes": notes, "beats": beats, "tonic": tonic, "notebook 04's row": family or "",
                     "model (chosen on validation)": str(chosen), "validation macro-F1": chosen.scores[chosen],
                     "test macro-F1": evaluation.macro_f1(test_truth, pred)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    clip = table.loc[table["notebook 04's row"] == "clip score", "validation macro-F1"].iloc[0]
    table["validation, share of the clip score's"] = table["validation macro-F1"] / clip
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
        if args.groups:
            print(group_swaps(scored, clip_ids, codes, split, args.seed).round(3).to_string(index=False))
        if args.classifiers:
            print(other_classifiers(scored, clip_ids, codes, split, args.seed).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
