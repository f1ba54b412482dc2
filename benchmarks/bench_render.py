"""How fast does render_tune turn folk melodies into audio, per CPU core?

Renders N real folk tunes (parsed with music21 from the ABC collections in its
wheel: Essen Chinese and German songs, O'Neill's Irish tunes) in one process,
each with its own drawn instrument, tempo and transposition, and prints seconds
of audio per CPU second (the real-time factor per core), per wall second, and
the ratio to the 500x target. ``--source random`` uses seeded random-walk
melodies instead (no music21 parsing).

    python benchmarks/bench_render.py --n 60 --sample-rate 12000 --clip-seconds 15
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from musicgeo_utils import render

TARGET_REALTIME = 500.0
ABC_FILES = ("essenFolksong/han1.abc", "essenFolksong/altdeu10.abc", "oneills1850/0001-0050.abc")


def _abc_tunes(relative: str) -> list[str]:
    """The tunes of one ABC file of music21's corpus, one text each (split at ``X:``)."""
    import music21

    path = Path(music21.__file__).parent / "corpus" / relative
    text = path.read_text(encoding="latin-1")
    return ["X:" + part for part in text.split("\nX:")[1:]]


def _abc_notes(tune_id: str, abc: str) -> pd.DataFrame:
    """Notes (MIDI pitch, onset/duration in quarter notes) of one ABC tune, ties merged."""
    from music21 import converter

    score = converter.parse(abc, format="abc").stripTies()
    rows = [(tune_id, p.midi, float(n.offset), float(n.quarterLength))
            for n in score.flatten().notes if n.quarterLength > 0  # not chord symbols
            for p in n.pitches]
    return pd.DataFrame(rows, columns=["tune_id", "pitch", "onset", "duration"])


def music21_melodies(n: int) -> pd.DataFrame:
    """``n`` real tunes, taken in turn from each collection; unparseable ones are counted."""
    texts = {name: _abc_tunes(name) for name in ABC_FILES}
    order = [(name, i) for i in range(max(map(len, texts.values())))
             for name in ABC_FILES if i < len(texts[name])]
    frames, failed = [], 0
    for name, index in order:
        if len(frames) == n:
            break
        try:
            frames.append(_abc_notes(f"{Path(name).stem}-{index}", texts[name][index]))
        except Exception as err:  # music21 raises many types on malformed ABC
            failed += 1
            print(f"skipped {name} tune {index}: {type(err).__name__}: {err}")
    print(f"parsed {len(frames)} tunes with music21 ({failed} skipped)")
    return pd.concat(frames, ignore_index=True)


def random_walk_melodies(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` seeded random-walk melodies of 32-96 notes in eighths, quarters and dotted quarters."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        length = int(rng.integers(32, 97))
        durations = rng.choice([0.5, 1.0, 1.5], size=length, p=[0.5, 0.35, 0.15])
        pitches = 67 + np.clip(np.cumsum(rng.choice([-2, -1, 0, 1, 2], size=length)), -10, 12)
        onsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        frames.append(pd.DataFrame({"tune_id": f"walk-{i}", "pitch": pitches,
                                    "onset": onsets, "duration": durations}))
    return pd.concat(frames, ignore_index=True)


def _time_renders(notes: pd.DataFrame, params: render.RenderParams, encode: bool) -> dict:
    """Render every tune once; CPU and wall seconds, with or without FLAC encoding."""
    tunes = list(notes.groupby("tune_id", sort=False))
    draws = render.draw_augmentation([t for t, _ in tunes], seed=0, params=params)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    rendered = 0
    for (tune_id, tune), draw in zip(tunes, draws.itertuples(index=False)):
        try:
            audio = render.render_tune(tune, draw.program, draw.qpm, draw.transpose, params)
        except render.RenderError as err:
            print(f"skipped {err}")
            continue
        rendered += 1
        if encode:
            sf.write(io.BytesIO(), audio, params.sample_rate, format="FLAC", subtype="PCM_16")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"tunes": rendered, "audio_s": rendered * params.clip_seconds,
            "cpu_s": cpu, "wall_s": wall}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, render, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="tunes to render")
    parser.add_argument("--sample-rate", type=int, default=12000, help="Hz")
    parser.add_argument("--clip-seconds", type=float, default=15.0, help="seconds per clip")
    parser.add_argument("--source", choices=["music21", "random"], default="music21")
    args = parser.parse_args(argv)

    params = render.RenderParams(sample_rate=args.sample_rate, clip_seconds=args.clip_seconds)
    notes = music21_melodies(args.n) if args.source == "music21" else random_walk_melodies(args.n)
    first = notes[notes["tune_id"] == notes["tune_id"].iloc[0]]
    render.render_tune(first, 0, 120, 0, params)  # warm-up: the soundfont loads once per process

    rows = {"render_tune": _time_renders(notes, params, encode=False),
            "render_tune + FLAC": _time_renders(notes, params, encode=True)}
    table = pd.DataFrame(rows).T
    table["audio_s_per_cpu_s"] = table["audio_s"] / table["cpu_s"]
    table["audio_s_per_wall_s"] = table["audio_s"] / table["wall_s"]
    table[f"ratio_to_{TARGET_REALTIME:.0f}x"] = table["audio_s_per_cpu_s"] / TARGET_REALTIME
    print(f"\ntinysoundfont, {args.sample_rate} Hz, {args.clip_seconds} s clips, "
          f"one process, source {args.source}")
    print("real-time factor per core = seconds of audio per CPU second (time.process_time)")
    print(table.to_string(float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    main()
