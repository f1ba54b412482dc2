"""Settings of the frames-to-notes rule, compared on the small profile's validation clips.

Each ``--variant`` is a list of :class:`transcription.TranscriptionParams`
fields to change (``name=value``, comma-separated; an empty string is the
defaults). Every variant transcribes the profile's **validation** clips (the
in-domain renders of tunes no classifier trains on; cached per setting like
the pipeline's own transcriptions) and is scored against the rendered notes
with mir_eval (onset within 50 ms and pitch within 50 cents; the
offset-aware F1 beside it), pooled and by instrument family. This is where a
rule setting is chosen. ``--held-out`` then scores the same variants once on
the test tunes' held-out-timbre renders (notebook 02's condition); it reports
a choice already made and is never used to make one.

    python benchmarks/transcription_rule.py --variant backtrack_s=0 --variant "" \
        --variant backtrack_fft=512 --variant backtrack_rise=0.3 [--held-out]
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd

from musicgeo_utils import config, manifest
from musicgeo_utils import transcription as tr
from musicgeo_utils import transcription_eval as te


def parse_variant(text: str) -> tr.TranscriptionParams:
    """``"backtrack_s=0,backtrack_rise=0.3"`` -> TranscriptionParams with those fields changed."""
    fields = [f.name for f in dataclasses.fields(tr.TranscriptionParams)]
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown TranscriptionParams field {name!r}; fields: {', '.join(fields)}")
        default = getattr(tr.TranscriptionParams(), name)
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise SystemExit(f"{name} takes true or false, got {value!r}")
            changes[name] = value.lower() in ("true", "1")
        else:
            changes[name] = type(default)(value)
    return tr.TranscriptionParams(**changes)


def score_variant(clips: pd.DataFrame, reference: pd.DataFrame, params: tr.TranscriptionParams,
                  n_jobs: int) -> tuple[pd.DataFrame, float]:
    """(note scores per clip with ``family``, seconds taken) of one setting on ``clips``."""
    start = time.perf_counter()
    heard = tr.transcribe_many(clips[["clip_id", "audio_path"]], params, n_jobs=n_jobs)
    seconds = time.perf_counter() - start
    kept = reference[~reference["clip_id"].isin(heard.skips["clip_id"].astype(str))]
    return te.score_many(kept, heard.notes, heard.tracks, clips), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", default=None,
                        help='TranscriptionParams changes, "name=value,..." ("" = the defaults); repeatable')
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out", action="store_true", help="also score the test tunes' held-out renders")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    variants = args.variant if args.variant is not None else ["backtrack_s=0", ""]
    n_jobs = args.jobs or config.n_jobs()
    tunes, scored = manifest.profile_score_features(args.profile, args.seed, n_jobs=n_jobs)
    sets = {"validation (in-domain)": (tunes[tunes["split"] == "val"], scored.reference)}
    if args.held_out:
        held, _, held_scored = manifest.profile_held_out_timbre(args.profile, args.seed, n_jobs=n_jobs)
        sets["held-out timbre (test tunes)"] = (held, held_scored.reference)
    for name, (clips, reference) in sets.items():
        clips = clips.assign(clip_id=clips["tune_id"].astype(str))
        reference = reference[reference["clip_id"].isin(clips["clip_id"])]
        pooled, families = {}, {}
        for text in variants:
            scores, seconds = score_variant(clips, reference, parse_variant(text), n_jobs)
            label = text or "defaults"
            summary = te.summarize_scores(scores).iloc[0]
            pooled[label] = {"clips": int(summary["clips"]), "note_f1": summary["f1"],
                             "note_f1_offset": summary["f1_offset"], "precision": summary["precision"],
                             "recall": summary["recall"], "raw_pitch_accuracy": summary["raw_pitch_accuracy"],
                             "seconds": seconds}
            families[label] = te.summarize_scores(scores, by="family")["f1"]
        print(f"\n{name}: pooled (seconds: transcription on {n_jobs} workers, 0 where cached)")
        print(pd.DataFrame(pooled).T.round(4).to_string())
        print(f"{name}: note F1 by instrument family")
        print(pd.DataFrame(families).astype(float).round(3).to_string())


if __name__ == "__main__":
    main()
