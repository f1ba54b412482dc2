"""How far apart should the windows be that score a whole clip? Notebook 04's style CRNNs on validation.

Notebook 04 and ``predict`` score a clip by averaging a CRNN's logits over windows of its training
crop (``meldata.CLIP_WINDOWS``), ``window_hop`` frames apart. This script loads notebook 04's two style
CRNNs (found by their training keys, or trained again if missing: ``pitchroll.fit_style_crnn`` and
the mel CRNN of ``training.style_config``) and prints the validation macro-F1 and the number of
windows for several hops. Only the validation split is scored: the hop is chosen here.

Run after ``make report``: ``python benchmarks/window_hop.py [--profile small --seed 0]``.

``--per-epoch`` (about 6 minutes on 2 cores) also trains notebook 04's pitch CRNN again with its
recipe for all the profile's epochs, without early stopping, keeps every epoch's weights
(``training.fit(on_epoch=...)``) and compares one window (half a window apart) with windows
``pitchroll.WINDOW_HOP`` apart at each of the last three fifths of the epochs, on validation and, for the record,
on test: does the gain hold beyond the one epoch that early stopping kept?
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from musicgeo_utils import config, evaluation, meldata, models, pitchroll, pipeline, runs, training


def _macro_f1(model, ds, crop: int, hop) -> float:
    """Macro-F1 of ``model`` on ``ds``'s clips, each scored over windows ``hop`` frames apart (None: half a window)."""
    logits, _ = training.predict(model, meldata.MelDataset(ds.sources, ds.targets, crop, train=False,
                                                           eval_crops=meldata.CLIP_WINDOWS, window_hop=hop))
    return evaluation.macro_f1(ds.targets, logits.argmax(axis=1))


def _scores(model, sets, crop: int, hops) -> list[dict]:
    """Validation macro-F1 of ``model`` with windows ``hop`` frames apart, for each hop."""
    val = sets["val"]
    frames = meldata._load_mel(val.sources[0]).shape[1]
    return [{"hop (frames)": "half a window" if hop is None else hop,
             "windows per clip": len(meldata.window_starts(frames, crop, hop)),
             "validation macro-F1": _macro_f1(model, val, crop, hop)} for hop in hops]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-epoch", action="store_true", help="also compare at every epoch (retrains, ~6 min)")
    args = parser.parse_args(argv)
    profile, seed = args.profile, args.seed
    p = pipeline.parameter_defaults(Path(__file__).resolve().parents[1] / "notebooks" / "04_crnn_training.ipynb")
    epochs = config.get_profile(profile).epochs
    run = runs.use("folk", "", profile, seed)
    tunes, feats, codes, styles, rolls = pitchroll.style_task_inputs(profile, seed)
    roll_sets, _ = pitchroll.style_roll_sets(tunes, rolls, codes, styles, profile, seed, crop_frames=p["roll_crop_frames"],
                                             max_transpose=p["max_transpose"])
    pitch_model, _, _ = pitchroll.fit_style_crnn(roll_sets, len(styles), run.models_dir(), epochs=epochs, seed=seed,
                                                 crop_frames=p["roll_crop_frames"], batch_size=p["batch_size"])
    mel_sets = meldata.split_datasets(tunes, feats.mel_paths, codes, p["crop_frames"], seed)
    mel_config = training.style_config(epochs=epochs, batch_size=p["batch_size"], crop_frames=p["crop_frames"],
                                       seed=seed, model_kwargs=models.COMPACT_CRNN_KWARGS,
                                       patience=training.MEL_STYLE_PATIENCE)
    config.seed_everything(seed)
    mel_model, _ = training.fit_or_load(models.CRNN(len(styles), **models.COMPACT_CRNN_KWARGS), mel_sets["train"],
                                        mel_sets["val"], mel_config, run.models_dir(), "style-crnn")
    roll_crop, mel_crop = p["roll_crop_frames"], p["crop_frames"]
    table = pd.DataFrame(
        [{"network": "pitch CRNN", **row} for row in _scores(pitch_model, roll_sets, roll_crop,
                                                             [None, roll_crop // 4, roll_crop // 8, roll_crop // 16])]
        + [{"network": "mel CRNN", **row} for row in _scores(mel_model, mel_sets, mel_crop,
                                                           [None, mel_crop // 4, mel_crop // 8, mel_crop // 16])])
    print(table.round(3).to_string(index=False))
    if args.per_epoch:
        _per_epoch(roll_sets, len(styles), epochs, seed, p)


def _per_epoch(roll_sets, n_styles: int, epochs: int, seed: int, p: dict) -> None:
    """Every epoch's weights of notebook 04's pitch CRNN recipe, scored with one window and with WINDOW_HOP."""
    import copy
    import dataclasses

    cfg = dataclasses.replace(training.style_config(epochs=epochs, batch_size=p["batch_size"],
                                                    crop_frames=p["roll_crop_frames"], seed=seed,
                                                    model_kwargs=pitchroll.PITCH_CRNN_KWARGS), patience=epochs)
    model = pitchroll.initial_style_crnn(n_styles, roll_sets["train"].sources, seed)
    weights = {}
    training.fit(model, roll_sets["train"], roll_sets["val"], cfg,
                 on_epoch=lambda epoch, m: weights.setdefault(epoch, copy.deepcopy(m.state_dict())))
    rows = []
    for epoch in sorted(weights)[len(weights) * 2 // 5:]:  # the last three fifths (epochs 13-30 of 30)
        model.load_state_dict(weights[epoch])
        row = {"epoch": epoch}
        for split in ("val", "test"):
            for label, hop in (("1 window", None), (f"hop {pitchroll.WINDOW_HOP}", pitchroll.WINDOW_HOP)):
                row[f"{split} {label}"] = _macro_f1(model, roll_sets[split], p["roll_crop_frames"], hop)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("epoch")
    print(table.round(3).to_string())
    for split in ("val", "test"):
        gain = table[f"{split} hop {pitchroll.WINDOW_HOP}"] - table[f"{split} 1 window"]
        print(f"{split}: windows {pitchroll.WINDOW_HOP} frames apart minus one window: mean {gain.mean():+.3f}, "
              f"better at {int((gain > 0).sum())} of {len(gain)} epochs")


if __name__ == "__main__":
    main()
