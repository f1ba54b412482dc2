"""How fast and how well do the candidate pitch trackers transcribe rendered folk tunes?

Parses N tunes from music21's corpus (taken in turn from one file of each of
the five collections, skipping the tunes the rule was tuned on), renders each
tune twice with its seeded tempo and transposition: once with an instrument
drawn from ``render.FOLK_PROGRAMS`` (in-domain) and once with one drawn from
``HELD_OUT_PROGRAMS`` (General MIDI programs the pipeline never renders and
the rule was not tuned on). Every clip is transcribed with each tracker in
one process and scored against the notes the renderer sent to the synth
(``render.clip_notes``) with mir_eval. Prints, per tracker and set, the
real-time factor per core (seconds of audio per CPU second, after a warm-up,
one BLAS thread), pooled note precision/recall/F1 (onset within 50 ms, pitch
within 50 cents, offsets ignored), the offset-aware F1, the raw pitch
accuracy, the targets (in-domain F1 >= 0.80; held-out >= 0.85 of it) and the
estimated time for the small profile; then the chosen tracker's scores by
instrument family, tempo and program. Also says which neural trackers import here;
``--basic-pitch`` adds Spotify's basic-pitch where it is installed (see
:func:`basic_pitch_tracker`; not a dependency of the project), ``--pesto`` PESTO's
pitch under the project's frames-to-notes rule (see :func:`pesto_tracker`; not a
dependency either).

    python benchmarks/bench_transcription.py --n 24 --figure reports/transcription_roll.png
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import pandas as pd

from musicgeo_utils import corpus, render
from musicgeo_utils import transcription as tr
from musicgeo_utils import transcription_eval as te

#: General MIDI programs (0-based) held out: none is in FOLK_PROGRAMS. Vibraphone,
#: church organ, steel guitar, viola, trumpet, alto sax, ocarina, koto.
HELD_OUT_PROGRAMS = (11, 19, 25, 41, 56, 65, 79, 107)
#: One file per collection; the first TUNE_OFFSET tunes of the files the rule was
#: tuned on (essenFolksong/han1, altdeu10, oneills1850/0001-0050) are not used anyway.
FILES = (("essenFolksong", "han2.abc"), ("oneills1850", "0051-0100.abc"), ("airdsAirs", "book2.abc"),
         ("miscFolk", "americanfifeopus.abc"), ("essenFolksong", "altdeu20.abc"))
TUNE_OFFSET = 10
SMALL_PROFILE_CLIPS, SMALL_PROFILE_SECONDS, CORES = 3420, 10.0, 2
NEURAL = ("pesto", "torchcrepe", "basic_pitch")


def corpus_tunes(n: int) -> pd.DataFrame:
    """Notes of ``n`` tunes, taken in turn from FILES (tunes TUNE_OFFSET on); failures skipped."""
    texts = []
    for collection, name in FILES:
        path = corpus.corpus_root() / collection / name
        tunes = corpus.split_tunes(corpus.decode_abc(path.read_bytes()))[TUNE_OFFSET:]
        texts.append([(collection, name, x, text) for x, text in tunes])
    frames, failed = [], 0
    for index in range(max(map(len, texts))):
        for collection, name, x, text in (t[index] for t in texts if index < len(t)):
            if len(frames) == n:
                break
            try:
                _, notes = corpus.parse_tune(text, collection=collection, file=name, x=x)
            except corpus.TuneParseError:
                failed += 1
                continue
            frames.append(notes.assign(tune_id=f"{collection}/{name}/{x}"))
    print(f"parsed {len(frames)} tunes ({failed} could not be parsed)")
    return pd.concat(frames, ignore_index=True)


def render_set(notes: pd.DataFrame, programs: tuple[int, ...], seconds: float, label: str) -> list[dict]:
    """Render every tune with instruments drawn from ``programs``; clips with their true notes."""
    params = render.RenderParams(clip_seconds=seconds, programs=programs)
    tune_ids = list(dict.fromkeys(notes["tune_id"]))
    draws = render.draw_augmentation(tune_ids, seed=0, params=params)
    by_tune = dict(tuple(notes.groupby("tune_id")))
    clips = []
    for draw in draws.itertuples(index=False):
        tune = by_tune[draw.tune_id]
        try:
            audio = render.render_tune(tune, draw.program, draw.qpm, draw.transpose, params)
        except render.RenderError as error:
            print(f"skipped: {error}")
            continue
        clips.append({"clip_id": f"{label}:{draw.tune_id}", "set": label, "program": draw.program,
                      "qpm": draw.qpm, "audio": audio,
                      "reference": render.clip_notes(tune, draw.program, draw.qpm, draw.transpose, params)})
    return clips


def neural_trackers() -> dict[str, str]:
    """Whether each neural tracker's package imports here: 'ok' or the error."""
    status = {}
    for name in NEURAL:
        try:
            __import__(name)
        except Exception as error:  # ImportError, or OSError from torchaudio's shared library
            status[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
        else:
            status[name] = {"basic_pitch": "imports: --basic-pitch benchmarks it",
                            "pesto": "imports: --pesto benchmarks it"}.get(
                                name, "imports (not benchmarked: no code path for it yet)")
    return status


def run_tracker(clips: list[dict], name: str, transcribe) -> tuple[pd.DataFrame, dict]:
    """Transcribe every clip with ``transcribe(audio, clip_id) -> (notes, track or None)``;
    per-clip scores and CPU seconds per set."""
    from threadpoolctl import threadpool_limits

    rows, cpu = [], {}
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transcribe(clips[0]["audio"], "warm-up")  # imports, numba compilation, model loading
        for clip in clips:
            start = time.process_time()
            notes, track = transcribe(clip["audio"], clip["clip_id"])
            cpu[clip["set"]] = cpu.get(clip["set"], 0.0) + time.process_time() - start
            clip.setdefault("estimates", {})[name] = (notes, track)
            scores = te.score_clip(clip["reference"], notes, track)
            rows.append({"clip_id": clip["clip_id"], "set": clip["set"], "program": clip["program"],
                         "qpm": clip["qpm"], "family": te.instrument_family(clip["program"]), **scores})
    table = pd.DataFrame(rows)
    table["tempo"] = te.tempo_band(table["qpm"]).to_numpy()
    return table, cpu


def librosa_tracker(tracker: str):
    """The project's front end (:mod:`musicgeo_utils.transcription`) with one of its trackers."""
    params = tr.TranscriptionParams(tracker=tracker)
    return lambda audio, clip_id: tr.transcribe_with_track(audio, 12000, params, clip_id=clip_id)


def basic_pitch_tracker():
    """Spotify's basic-pitch (Bittner et al. 2022; its ONNX weights ship in the wheel), reduced to a melody.

    Not a dependency of the project: ``pip install --no-deps basic-pitch==0.4.0 onnxruntime
    flatbuffers protobuf 'resampy<0.4.3' 'setuptools<81'`` (its declared dependency on
    TensorFlow is not needed with onnxruntime). Each clip goes through a temporary WAV file
    (basic-pitch reads files; loading and resampling to 22.05 kHz are timed with it) with the
    package's default thresholds. It transcribes polyphony, so its notes are reduced to a melody
    by a stated rule: notes in order of decreasing amplitude, each kept unless half of its
    duration or more overlaps notes already kept. It gives no frame-level pitch track, so no raw
    pitch accuracy.
    """
    import atexit
    import os
    import shutil
    import tempfile

    import soundfile as sf
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    model = Model(ICASSP_2022_MODEL_PATH)
    folder = tempfile.mkdtemp(prefix="bench-basic-pitch-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)

    def transcribe(audio, clip_id):
        path = os.path.join(folder, "clip.wav")
        sf.write(path, audio, 12000)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
            _, _, events = predict(path, model)
        kept = []
        for start, end, pitch, amplitude, _ in sorted(events, key=lambda event: -event[3]):
            overlap = sum(max(0.0, min(end, k_end) - max(start, k_start)) for k_start, k_end, _ in kept)
            if overlap < 0.5 * (end - start):
                kept.append((start, end, pitch))
        notes = pd.DataFrame(sorted(kept), columns=["onset_s", "offset_s", "pitch_midi"])
        return notes.assign(duration_s=notes["offset_s"] - notes["onset_s"]), None

    return transcribe


#: PESTO's confidence at or above which a loud frame is voiced (``--pesto``; not tuned).
PESTO_CONFIDENCE = 0.5


def pesto_tracker():
    """PESTO (Riou et al. 2023; weights in the ``pesto-pitch`` wheel) as the tracker of the project's rule.

    Not a dependency of the project: ``pip install --no-deps pesto-pitch==2.0.1 omegaconf==2.4.0``
    beside it (omegaconf's PyYAML is in the lock). Its package ``__init__`` imports ``pesto.core``, which
    imports ``torchaudio`` to read files, and no ``torchaudio`` on PyPI loads with torch 2.13; the
    model and its loader (``pesto.loader``, ``pesto.model``, ``pesto.data``) need only torch. So the
    package is entered here without running its ``__init__`` (an empty package module whose
    ``__path__`` is the installed folder), and ``pesto.loader.load_model`` reads the shipped
    ``mir-1k_g7`` checkpoint (with ``weights_only=False``, as its loader does: it holds omegaconf
    settings; a file from the wheel, never user data). Each clip is resampled to 16 kHz (PESTO's
    constant-Q front end does not fit under 6 kHz) and tracked every 10 ms, the rule's hop; a frame is
    voiced when it is loud (the rule's step 2) and PESTO's confidence is at least
    :data:`PESTO_CONFIDENCE`. Then the project's rule (steps 3-9, ``transcription.notes_from_track``)
    makes the notes, as for yin.
    """
    import importlib.util
    import sys
    import types

    import librosa
    import numpy as np
    import torch

    spec = importlib.util.find_spec("pesto")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pesto-pitch is not installed")
    if "pesto" not in sys.modules:
        package = types.ModuleType("pesto")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["pesto"] = package
    from pesto.loader import load_model

    model = load_model("mir-1k_g7", step_size=10.0, sampling_rate=16000)
    params = tr.TranscriptionParams()

    def transcribe(audio, clip_id):
        y = np.asarray(audio, dtype=np.float32)
        with torch.no_grad():
            f0, confidence, _ = model(torch.from_numpy(librosa.resample(y, orig_sr=12000, target_sr=16000))[None],
                                      sr=16000, convert_to_freq=True, return_activations=False)
        f0, confidence = f0[0].numpy().astype(float), confidence[0].numpy()
        voiced = (confidence >= PESTO_CONFIDENCE) & (f0 > params.fmin) & (f0 < params.fmax)
        track = tr.PitchTrack(np.arange(len(f0)) * params.frame_seconds, np.where(voiced, f0, 0.0), voiced)
        return tr.notes_from_track(y, 12000, track, params, clip_id=clip_id), track

    return transcribe


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, render, transcribe with each tracker, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="tunes (each rendered twice)")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="seconds per clip")
    parser.add_argument("--trackers", nargs="+", default=list(tr.TRACKERS), choices=tr.TRACKERS)
    parser.add_argument("--basic-pitch", action="store_true",
                        help="also basic-pitch, reduced to a melody (installed apart: see basic_pitch_tracker)")
    parser.add_argument("--pesto", action="store_true",
                        help="also PESTO's pitch under the project's rule (installed apart: see pesto_tracker)")
    parser.add_argument("--choice", default="yin", choices=tr.TRACKERS, help="tracker broken down by group")
    parser.add_argument("--figure", help="write one in-domain clip's piano rolls here (PNG)")
    args = parser.parse_args(argv)

    for name, state in neural_trackers().items():
        print(f"{name}: {state}")
    trackers = {name: librosa_tracker(name) for name in args.trackers}
    if args.basic_pitch:
        try:
            trackers["basic-pitch"] = basic_pitch_tracker()
        except ImportError as error:
            parser.error(f"--basic-pitch: {error} (see basic_pitch_tracker's docstring for the install)")
    if args.pesto:
        try:
            trackers["pesto"] = pesto_tracker()
        except ImportError as error:
            parser.error(f"--pesto: {error} (see pesto_tracker's docstring for the install)")
    notes = corpus_tunes(args.n)
    clips = (render_set(notes, render.FOLK_PROGRAMS, args.clip_seconds, "in-domain")
             + render_set(notes, HELD_OUT_PROGRAMS, args.clip_seconds, "held-out"))
    print(f"{len(clips)} clips of {args.clip_seconds:g} s, 12 kHz")

    summary, tables = [], {}
    for tracker, transcribe in trackers.items():
        table, cpu = run_tracker(clips, tracker, transcribe)
        tables[tracker] = table
        for label, group in table.groupby("set", sort=False):
            pooled = te.summarize_scores(group).iloc[0]
            rtf = len(group) * args.clip_seconds / cpu[label]
            summary.append({"tracker": tracker, "set": label, "clips": len(group),
                            "rtf_per_core": rtf, "f1": pooled["f1"], "precision": pooled["precision"],
                            "recall": pooled["recall"], "f1_offset": pooled["f1_offset"],
                            "raw_pitch_accuracy": pooled["raw_pitch_accuracy"],
                            "f1_clip_mean": pooled["f1_clip_mean"],
                            "small_profile_min_2_cores": SMALL_PROFILE_CLIPS * SMALL_PROFILE_SECONDS
                            / rtf / CORES / 60})
    table = pd.DataFrame(summary)
    print("\nreal-time factor per core = seconds of audio per CPU second (time.process_time, one thread);")
    print("note scores pooled over all notes of the set (mir_eval, 50 ms onsets, 50 cents)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))

    print("\ntargets: in-domain note F1 >= 0.80; held-out F1 >= 0.85 x in-domain F1")
    for tracker, group in table.groupby("tracker", sort=False):
        f1 = group.set_index("set")["f1"]
        print(f"  {tracker}: in-domain {f1['in-domain']:.3f} ({'met' if f1['in-domain'] >= 0.8 else 'NOT met'}), "
              f"held-out / in-domain {f1['held-out'] / f1['in-domain']:.3f} "
              f"({'met' if f1['held-out'] >= 0.85 * f1['in-domain'] else 'NOT met'})")

    if args.choice in tables:
        chosen = tables[args.choice]
        columns = ["clips", "n_ref", "f1", "f1_offset", "raw_pitch_accuracy"]
        for by in ("family", "tempo", "program"):
            grouped = te.summarize_scores(chosen, by=["set", by])[columns]
            print(f"\n{args.choice} by {by}:")
            print(grouped.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.figure and args.choice in tables:
        import matplotlib

        matplotlib.use("Agg")
        clip = next(c for c in clips if c["set"] == "in-domain")
        notes_est, track = clip["estimates"][args.choice]
        figure = te.piano_roll_figure(clip["reference"], notes_est, track,
                                      title=f"{clip['clip_id']} (program {clip['program']}, "
                                            f"{clip['qpm']:g} qpm, {args.choice})")
        figure.savefig(args.figure, dpi=80)
        print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
