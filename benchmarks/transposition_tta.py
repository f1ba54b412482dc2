"""Would the style pitch CRNN answer better if it also heard each clip transposed? Notebook 04's network.

The pitch CRNN learns from crops transposed by up to ``pitchroll.MAX_TRANSPOSE`` semitones and takes
a maximum over pitch, so its answer should hardly depend on the key; this script measures how much it
does, and whether averaging the logits of a clip heard at several transpositions (test-time
augmentation: every window of the clip at each shift of ``-k .. k`` semitones) raises the macro-F1.
It loads notebook 04's style pitch CRNN by its training key (``pitchroll.fit_style_crnn``; trained
again if missing) and prints, for validation and, for the record, test: the macro-F1 at each single
shift and of the average over ``-k .. k`` for k = 1 .. ``--max-shift``. A choice rests on validation.

Run after ``make report``: ``python benchmarks/transposition_tta.py [--profile small --seed 0]``
(about 2 minutes on 2 cores). ``--train-seeds 0 1 2`` also scores the same recipe trained under other
training seeds (initial weights, crops, batch order; the data as notebook 04's), as
``benchmarks/ablation_crnn.py --train-seed S --variants pitch-200-mixup-corpus-cosine`` trains them,
saved in the models folder by their training keys (about 4 minutes each on 2 cores when missing).

``--prior-taus 0.02 0.05 0.1`` also scores another decision rule on the unshifted logits: logit
adjustment (Menon et al. 2021), ``logits + tau * log(prior)`` with the style prior of the profile's
training clips. The network learns with a loss weighted by inverse class frequency, which makes its
answers balanced over the styles; ``tau`` moves them back toward the styles' frequencies. A choice of
``tau`` would rest on validation.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from musicgeo_utils import config, evaluation, meldata, pitchroll, runs, training


def shifted_logits(model, rolls: pd.Series, targets, shifts) -> dict[int, np.ndarray]:
    """{shift: logits of every clip heard over notebook 04's windows, its roll moved by ``shift`` semitones}."""
    out = {}
    for shift in shifts:
        moved = [meldata.shift_rows(np.asarray(r), shift) for r in rolls]
        ds = meldata.MelDataset(moved, targets, pitchroll.ROLL_CROP_FRAMES, train=False,
                                eval_crops=meldata.CLIP_WINDOWS, window_hop=pitchroll.WINDOW_HOP)
        out[shift], _ = training.predict(model, ds)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-shift", type=int, default=3)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=None,
                        help="training seeds of the networks to score (default: --seed, notebook 04's network)")
    parser.add_argument("--prior-taus", type=float, nargs="*", default=[],
                        help="also score logits + tau * log(training style prior) for each tau")
    args = parser.parse_args(argv)

    tunes, _, codes, styles, rolls = pitchroll.style_task_inputs(args.profile, args.seed)
    both, both_rolls, both_codes = pitchroll.with_corpus_tunes(tunes, rolls, codes, styles, args.profile, args.seed)
    shifts = range(-args.max_shift, args.max_shift + 1)
    train = (tunes["split"] == "train").to_numpy() & (np.asarray(codes) >= 0)
    log_prior = np.log(np.bincount(np.asarray(codes)[train], minlength=len(styles)) / train.sum())
    rows = []
    for train_seed in args.train_seeds or [args.seed]:
        sets = meldata.split_datasets(both, both_rolls, both_codes, pitchroll.ROLL_CROP_FRAMES, train_seed,
                                      shift_bins=pitchroll.MAX_TRANSPOSE, window_hop=pitchroll.WINDOW_HOP)
        model, history, _ = pitchroll.fit_style_crnn(
            sets, len(styles), runs.use("folk", "", args.profile, args.seed).models_dir(),
            epochs=config.get_profile(args.profile).epochs, seed=train_seed)
        print(f"training seed {train_seed}: {history.checkpoint}, {len(history.frame)} epochs", flush=True)
        for split in ("val", "test"):
            keep = (tunes["split"] == split).to_numpy() & (np.asarray(codes) >= 0)
            targets = np.asarray(codes)[keep]
            logits = shifted_logits(model, rolls.loc[tunes.loc[keep, "tune_id"].astype(str)], targets, shifts)
            for shift in shifts:
                rows.append({"seed": train_seed, "split": split, "heard": f"shifted {shift:+d}",
                             "macro_f1": evaluation.macro_f1(targets, logits[shift].argmax(axis=1))})
            for k in range(1, args.max_shift + 1):
                summed = sum(logits[s] for s in range(-k, k + 1))  # the same argmax as their mean
                rows.append({"seed": train_seed, "split": split, "heard": f"average over -{k}..+{k}",
                             "macro_f1": evaluation.macro_f1(targets, summed.argmax(axis=1))})
            for tau in args.prior_taus:
                rows.append({"seed": train_seed, "split": split, "heard": f"as is, + {tau:g} log prior",
                             "macro_f1": evaluation.macro_f1(targets, (logits[0] + tau * log_prior).argmax(axis=1))})
    table = pd.DataFrame(rows).pivot(index="heard", columns=["split", "seed"], values="macro_f1")
    print(table[["val", "test"]].round(3).to_string())


if __name__ == "__main__":
    main()
