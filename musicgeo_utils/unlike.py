"""Clips unlike the training data: what the out-of-distribution check (:mod:`novelty`) should flag.

The models learn monophonic folk melodies, one instrument at a time. Four
kinds of clip that no folk render resembles, made here from what installs
with the project (music21's Bach chorales, the shipped General MIDI
soundfont, a seeded noise generator), so that every machine gets the same
clips:

``polyphonic piano``
    a four-part Bach chorale, every part on the acoustic grand piano;
``chords with drums``
    the chorale's parts on a nylon guitar over a General MIDI drum kit
    (kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every eighth);
``voice with accompaniment``
    the chorale's top part sung on the soundfont's "Voice Oohs", the lower
    parts on the piano (a sampled voice: the soundfont has no words);
``noise``
    white, pink (1/f) and brown (1/f^2) noise in turn.

Chorales are rendered at 80 quarter notes per minute through
:func:`render.render_midi` (the clip from the middle of the piece), noise at
the same sample rate and peak level as every render.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import render

KINDS = ("polyphonic piano", "chords with drums", "voice with accompaniment", "noise")
CHORALE_QPM = 80.0
_PIANO, _NYLON_GUITAR, _VOICE_OOHS = 0, 24, 53
_KICK, _SNARE, _HIHAT = 36, 38, 42


def chorale_paths(n: int, seed: int) -> list:
    """``n`` Bach chorales from music21's corpus, drawn by ``seed`` from the sorted list."""
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getComposer("bach"))
    if len(paths) < n:
        raise ValueError(f"music21's corpus has {len(paths)} Bach files, {n} wanted")
    picked = np.random.default_rng([seed, 0x0DD]).choice(len(paths), size=n, replace=False)
    return [paths[i] for i in sorted(picked)]


def chorale_midi(path, programs, drums: bool = False, qpm: float = CHORALE_QPM):
    """A chorale as ``pretty_midi``: part ``i`` on ``programs[min(i, len - 1)]``; ``drums`` adds a kit."""
    import pretty_midi
    from music21 import converter

    score = converter.parse(path)
    seconds = 60.0 / qpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=qpm)
    end = 0.0
    for i, part in enumerate(score.parts):
        inst = pretty_midi.Instrument(program=programs[min(i, len(programs) - 1)])
        for note in part.flatten().notes:
            start, length = float(note.offset) * seconds, float(note.quarterLength) * seconds
            for pitch in note.pitches:
                inst.notes.append(pretty_midi.Note(80, int(pitch.midi), start, start + max(length, 0.05)))
            end = max(end, start + length)
        midi.instruments.append(inst)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        for eighth in range(int(end / (seconds / 2))):
            t = eighth * seconds / 2
            kit.notes.append(pretty_midi.Note(70, _HIHAT, t, t + 0.05))
            if eighth % 2 == 0:
                beat = eighth // 2
                kit.notes.append(pretty_midi.Note(100, _KICK if beat % 2 == 0 else _SNARE, t, t + 0.1))
        midi.instruments.append(kit)
    return midi


def noise(colour: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise, peak-normalised to :data:`render.PEAK_LEVEL`."""
    white = rng.standard_normal(n_samples)
    exponent = {"white": 0.0, "pink": 0.5, "brown": 1.0}[colour]
    spectrum = np.fft.rfft(white)
    frequency = np.fft.rfftfreq(n_samples)
    spectrum[1:] /= frequency[1:] ** exponent
    spectrum[0] = 0.0
    samples = np.fft.irfft(spectrum, n_samples)
    return (samples * (render.PEAK_LEVEL / np.abs(samples).max())).astype(np.float32)


def unlike_clips(per_kind: int, seed: int, params: render.RenderParams) -> pd.DataFrame:
    """``per_kind`` clips of each of :data:`KINDS`: columns ``kind, name, audio`` (mono float32 at
    ``params.sample_rate``). A chorale that cannot be rendered is skipped and named in ``attrs["skips"]``."""
    rng = np.random.default_rng([seed, 0x0DD, 1])
    rows, skips = [], []
    arrangements = {"polyphonic piano": ([_PIANO], False), "chords with drums": ([_NYLON_GUITAR], True),
                    "voice with accompaniment": ([_VOICE_OOHS, _PIANO], False)}
    for path in chorale_paths(per_kind, seed):
        name = Path(path).name.rsplit(".", 1)[0]  # bwv40.2.mxl -> bwv40.2
        for kind, (programs, drums) in arrangements.items():
            try:
                audio = render.render_midi(chorale_midi(path, programs, drums), params)
            except (render.RenderError, ValueError) as err:
                skips.append((kind, name, str(err)))
                continue
            rows.append((kind, name, audio))
    colours = ("white", "pink", "brown")
    for i in range(per_kind):
        colour = colours[i % len(colours)]
        rows.append(("noise", f"{colour} noise {i + 1}", noise(colour, params.n_samples, rng)))
    clips = pd.DataFrame(rows, columns=["kind", "name", "audio"])
    clips.attrs["skips"] = pd.DataFrame(skips, columns=["kind", "name", "reason"])
    return clips


def answers(predictor, clips: pd.DataFrame, sample_rate: int) -> pd.DataFrame:
    """``clips`` with what ``predictor`` (a :class:`predict.Predictor`) says of each: ``unfamiliar``,
    ``reason`` (the novelty statistic that decided), the top ``style`` and its ``style_probability``."""
    import warnings

    rows = []
    for clip in clips.itertuples():
        with warnings.catch_warnings():  # noise has no pitch: librosa's tuning estimate says so, expectedly
            warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set")
            answer = predictor(clip.audio, sample_rate=sample_rate, name=clip.name)
        rows.append({"unfamiliar": answer.unfamiliar, "reason": answer.novelty_reason,
                     "style": answer.styles.iloc[0]["style"], "style_probability": answer.styles.iloc[0]["probability"]})
    return clips.assign(**pd.DataFrame(rows, index=clips.index))
