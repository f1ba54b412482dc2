"""Where does the transcribed score lose to the clip score? Notes, beats and tonic swapped one at a time.

Notebook 04's style table puts the transcribed score (notes, beats and tonic all estimated from the
audio) beside the clip score (the true notes of the same window, the true tempo grid, the true
tonic). Issue 11 asks the first to reach 0.9 of the second's macro-F1. This script computes the
descriptors (``transcribed_score.descriptors_from_seconds``, the one definition both use) for all
eight mixtures: each of the three ingredients either true or estimated, and fits notebook 04's
classifier (``evaluation.classifier_on_splits``: logistic regression with C tuned, or
gradient-boosted trees, chosen on validation) on each. The two corners reproduce notebook 04's
tables exactly (checked). Validation macro-F1 is the basis of any conclusion; test is printed for
the record.

- notes: ``true`` = the notes rendered into the window; ``heard`` = the transcription.
- beats: ``true`` = the rendered tempo's grid from time 0; ``tracked`` = librosa's beat tracker.
- tonic: ``true`` = the tune's final, transposed as rendered; ``estimated`` = key-profile correlation
  over the same notes (``transcribed_score.estimate_tonic``).

Run after ``make report`` (reads the caches of notebooks 02-04; about 4 minutes on 2 cores):
``python benchmarks/score_gap.py [--profile small --seed 0]``.
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tunes, _ = runs.use("folk", "", args.profile, args.seed).features()
    codes, _ = evaluation.encode_classes(tunes["style"], tunes["split"] == "train",
                                         config.get_profile(args.profile).min_train_per_class)
    _, scored = manifest.profile_score_features(args.profile, args.seed)
    clip_ids = tunes["tune_id"].astype(str).tolist()
    split = tunes["split"].to_numpy()
    test_truth = codes[(split == "test") & (codes >= 0)]
    corners = {("true", "true", "true"): "clip score", ("heard", "tracked", "estimated"): "transcribed score"}
    rows = []
    for notes, beats, tonic in itertools.product(("true", "heard"), ("true", "tracked"), ("true", "estimated")):
        X = mixture(scored, clip_ids, notes, beats, tonic)
        family = corners.get((notes, beats, tonic))
        if family is not None and not np.allclose(X, scored.families[family].loc[clip_ids].to_numpy()):
            raise AssertionError(f"the {family} corner differs from notebook 04's table")
        pred, _, chosen = evaluation.classifier_on_splits(X, codes, split, seed=args.seed)
        rows.append({"notes": notes, "beats": beats, "tonic": tonic, "notebook 04's row": family or "",
                     "model (chosen on validation)": str(chosen), "validation macro-F1": chosen.scores[chosen],
                     "test macro-F1": evaluation.macro_f1(test_truth, pred)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    clip = table.loc[table["notebook 04's row"] == "clip score", "validation macro-F1"].iloc[0]
    table["validation, share of the clip score's"] = table["validation macro-F1"] / clip
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
