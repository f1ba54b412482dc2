"""Notebook 04's two style CRNNs on a profile (meant: ``full`` on a GPU), each stage timed.

Runs, in order, the calls that notebooks 02 and 04 make for the style task,
with notebook 04's parameters (read from its ``parameters`` cell, resolved as
its setup cell resolves them), and times each stage. The pitch CRNN (the
better network, the one the music map is drawn from) comes first, so that a
run stopped at a time limit has measured it:

1. ``render``: every clip of the profile through the shipped soundfont
   (``manifest.profile_audio``, as notebook 02);
2. ``transcription``: the melody front end on every rendered clip
   (``transcription.transcribe_many``, which notebook 02's
   ``manifest.profile_score_features`` calls; the score descriptors it also
   computes are not needed for the networks and not timed here);
3. ``pitch CRNN``: notebook 04's pitch CRNN (``pitchroll.fit_style_crnn``) on
   the rolls of the transcribed notes, scored on the test clips over every
   window, as notebook 04 scores it;
4. ``features``: mel spectrograms and summary features (``run.features()``);
5. ``mel CRNN``: notebook 04's style CRNN (its section 2), scored the same way.

The pitch CRNN's tunes are the rendered ones; notebook 04 takes those that
also have features, the same tunes unless a feature extraction fails (the
``features`` line counts its skips).

Every stage is cached or resumable as in the notebooks, so a run stopped at a
time limit continues where it stopped. One JSON line per stage is appended to
``--log`` as soon as the stage ends (README, "Reproduce the report (graders)": the GPU figures).

    python benchmarks/gpu_full_profile.py --profile full --device cuda --log gpu-full.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from musicgeo_utils import (config, evaluation, manifest, meldata, models, pipeline, pitchroll, runs, training,
                            transcription)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_crnn_training.ipynb"


def log_stage(path: Path | None, stage: str, **values) -> None:
    """Print one stage's figures and append them to ``path`` as a JSON line (flushed to disk)."""
    line = json.dumps({"stage": stage, **values}, default=float)
    print(line, flush=True)
    if path is not None:
        with open(path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def timed(fn, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def scores_on_test(model, datasets: dict, device) -> dict:
    """Test accuracy, macro-F1 and count of ``model`` over every window of each clip (notebook 04's scoring)."""
    logits, _ = training.predict(model, datasets["test"].as_eval(meldata.CLIP_WINDOWS), device)
    row = evaluation.scores("", datasets["test"].targets, logits.argmax(axis=1))
    return {f"test_{k}": v for k, v in row.items() if k != "model"}


def history_figures(history, n_train: int) -> dict:
    """Epochs run, best epoch, mean seconds per epoch (validation included), the same per 1,000 training clips."""
    seconds = history.frame["seconds"]
    return {"epochs_run": len(history.frame), "best_epoch": int(history.best_epoch),
            "seconds_per_epoch": float(seconds.mean()), "seconds_per_1000_clips": 1000 * float(seconds.mean()) / n_train,
            "training_seconds": float(seconds.sum())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: as notebook 04 picks)")
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per stage here")
    args = parser.parse_args(argv)

    import torch

    p = pipeline.parameter_defaults(NOTEBOOK)  # notebook 04's parameters, resolved as its setup cell does
    profile = config.get_profile(args.profile)
    epochs, batch_size, crop_frames = profile.epochs, p["batch_size"], p["crop_frames"]
    crnn_kwargs = p["crnn_kwargs"] or models.COMPACT_CRNN_KWARGS
    min_train = p["min_train_per_class"] or profile.min_train_per_class
    device = training.pick_device(args.device)
    log_stage(args.log, "machine", profile=args.profile, seed=args.seed, device=str(device),
              gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
              cpu_cores=os.cpu_count(), n_jobs=config.n_jobs(), torch=torch.__version__,
              python=platform.python_version(), epochs=epochs)
    config.seed_everything(args.seed)
    run = runs.use("folk", "", args.profile, args.seed)
    checkpoints = run.models_dir()

    audio, seconds = timed(manifest.profile_audio, args.profile, args.seed)
    tunes = audio[(audio["status"] != "skipped").to_numpy()].reset_index(drop=True)
    log_stage(args.log, "render", seconds=seconds, clips=len(tunes), skipped=len(audio) - len(tunes),
              audio_hours=len(tunes) * profile.clip_seconds / 3600)
    style_codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train", min_train)
    n_train = int(((tunes["split"] == "train").to_numpy() & (style_codes >= 0)).sum())

    items = tunes[["tune_id", "audio_path"]].rename(columns={"tune_id": "clip_id"})
    heard, seconds = timed(transcription.transcribe_many, items)
    log_stage(args.log, "transcription", seconds=seconds, clips=len(items), skipped=len(heard.skips),
              notes=len(heard.notes))

    rolls = pitchroll.clip_rolls(heard.notes, tunes["tune_id"], profile.clip_seconds)
    roll_sets, _ = pitchroll.style_roll_sets(tunes, rolls, style_codes, styles, profile.name, args.seed,
                                             crop_frames=p["roll_crop_frames"], max_transpose=p["max_transpose"])
    (pitch_model, pitch_history, _), seconds = timed(
        pitchroll.fit_style_crnn, roll_sets, len(styles), checkpoints, epochs=epochs, seed=args.seed,
        crop_frames=p["roll_crop_frames"], batch_size=batch_size, device=args.device)
    log_stage(args.log, "pitch CRNN", seconds=seconds, styles=len(styles), train=n_train,
              **history_figures(pitch_history, n_train), **scores_on_test(pitch_model, roll_sets, args.device))

    (tunes, feats), seconds = timed(run.features)
    log_stage(args.log, "features", seconds=seconds, clips=len(tunes), skipped=len(feats.skips))

    style_codes, styles = evaluation.encode_classes(tunes["style"], tunes["split"] == "train", min_train)
    n_train = int(((tunes["split"] == "train").to_numpy() & (style_codes >= 0)).sum())
    style_sets = meldata.split_datasets(tunes, feats.mel_paths, style_codes, crop_frames, args.seed)
    style_config = training.style_config(epochs=epochs, batch_size=batch_size, crop_frames=crop_frames, seed=args.seed,
                                         model_kwargs=crnn_kwargs, device=args.device,
                                         patience=training.MEL_STYLE_PATIENCE)
    config.seed_everything(args.seed)
    (mel_model, mel_history), seconds = timed(
        training.fit_or_load, models.CRNN(len(styles), **crnn_kwargs), style_sets["train"], style_sets["val"],
        style_config, checkpoints, "style-crnn")
    log_stage(args.log, "mel CRNN", seconds=seconds, styles=len(styles), train=n_train,
              **history_figures(mel_history, n_train), **scores_on_test(mel_model, style_sets, args.device))

if __name__ == "__main__":
    main()
