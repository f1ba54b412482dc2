"""Notes -> audio through a General MIDI soundfont.

Each tune of the corpus (a notes table: ``tune_id``, ``pitch`` as a MIDI
number, ``onset`` and ``duration`` in quarter notes) is rendered to a mono
clip of fixed length at the feature sample rate (12 kHz, so later stages never
resample). Every tune gets its own instrument, tempo and transposition, drawn
from the seed and the tune id alone, so that models learn melody and rhythm,
not one timbre or a collection's favourite key, and so that adding tunes to a
corpus never changes the draws of the others.

Rendering is offline: note-on/off events are sent to a tinysoundfont ``Synth``
(one per worker process) and sample blocks are generated between events. The
default soundfont is ``TimGM6mb.sf2`` from pretty_midi's wheel; the
``MUSICGEO_SOUNDFONT`` environment variable points at another one. Clips are
cached as 16-bit FLAC under ``data/audio/``, named after everything that
shapes them, and written atomically: an interrupted run resumes and a rerun
renders nothing.

A whole MIDI file (the Lakh MIDI Dataset's songs) is rendered the same way with
every instrument on its own channel (:func:`render_midi`, :func:`render_midi_files`).
"""
from __future__ import annotations

import base64
import functools
import html
import io
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pretty_midi
import soundfile as sf
import tinysoundfont

from . import config
from .cache import atomic_path, content_key

log = logging.getLogger(__name__)

#: Bump when the rendering algorithm changes, so cached clips are redone.
RENDER_VERSION = 1
#: Peak level of every rendered clip: -1 dBFS, headroom for 16-bit FLAC and MP3.
PEAK_LEVEL = 10 ** (-1 / 20)
#: General MIDI programs (0-based) that suit a folk melody: piano, harpsichord,
#: dulcimer, accordion, harmonica, nylon guitar, violin, harp, oboe, clarinet,
#: flute, recorder, pan flute, banjo, bagpipe, fiddle.
FOLK_PROGRAMS = (0, 6, 15, 21, 22, 24, 40, 46, 68, 71, 73, 74, 75, 105, 109, 110)
#: Instrument families kept out of training (pretty_midi's General MIDI classes): the
#: held-out-timbre evaluation renders test tunes with them. Every program of both
#: families except 55 (orchestra hit, a percussive stab, not a melody instrument).
HELD_OUT_FAMILIES = ("Ensemble", "Brass")
HELD_OUT_PROGRAMS = tuple(range(48, 55)) + tuple(range(56, 64))
#: Shortest tune (end of its last note, seconds) that is looped to fill a clip.
MIN_TUNE_SECONDS = 0.1
_CHANNEL = 0


class RenderError(ValueError):
    """A tune that cannot be rendered (no notes, bad pitch, silent output)."""


def soundfont_path() -> Path:
    """The General MIDI soundfont (``.sf2``) used for rendering.

    ``MUSICGEO_SOUNDFONT`` if set, else ``TimGM6mb.sf2`` inside pretty_midi's
    package. Raises ``FileNotFoundError`` naming the path and the fix.
    """
    env = os.environ.get("MUSICGEO_SOUNDFONT")
    if env:
        path = Path(env).expanduser()
        fix = "point MUSICGEO_SOUNDFONT at an existing .sf2 file, or unset it"
    else:
        path = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
        fix = ("reinstall pretty_midi (pip install --force-reinstall pretty_midi==0.2.11.post0) "
               "or set MUSICGEO_SOUNDFONT to a General MIDI .sf2 file")
    if not path.is_file():
        raise FileNotFoundError(f"soundfont not found: {path}; {fix}")
    return path


@dataclass(frozen=True)
class RenderParams:
    """How tunes become audio clips.

    ``sample_rate`` in Hz (the feature rate), ``clip_seconds`` in seconds,
    ``programs`` General MIDI programs (0-based) drawn per tune, ``qpm_range``
    tempo in quarter notes per minute, ``transpose_range`` in semitones (both
    ends included), ``velocity`` MIDI velocity 1-127.
    """

    sample_rate: int = 12000
    clip_seconds: float = 15.0
    programs: tuple[int, ...] = FOLK_PROGRAMS
    qpm_range: tuple[float, float] = (80.0, 140.0)
    transpose_range: tuple[int, int] = (-5, 6)
    velocity: int = 90

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.clip_seconds <= 0:
            raise ValueError("sample_rate (Hz) and clip_seconds (s) must be positive")
        if not self.programs or not all(0 <= int(p) <= 127 for p in self.programs):
            raise ValueError(f"programs must be General MIDI numbers 0-127, got {self.programs}")
        if not (0 < self.qpm_range[0] <= self.qpm_range[1]):
            raise ValueError(f"qpm_range must be positive and ordered, got {self.qpm_range}")
        if self.transpose_range[0] > self.transpose_range[1]:
            raise ValueError(f"transpose_range must be ordered, got {self.transpose_range}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity must be 1-127, got {self.velocity}")

    @property
    def n_samples(self) -> int:
        """Samples in one clip (``clip_seconds * sample_rate``)."""
        return int(round(self.clip_seconds * self.sample_rate))


def draw_augmentation(tune_ids: Iterable[str], seed: int, params: RenderParams) -> pd.DataFrame:
    """Instrument, tempo (quarter notes per minute) and transposition (semitones) per tune.

    Each tune's draw comes from a generator seeded with ``(seed, tune_id)``
    only, so it is deterministic and independent of the other tune ids.
    Returns columns ``tune_id, program, qpm, transpose``.
    """
    low, high = params.transpose_range
    rows = []
    for tune_id in tune_ids:
        rng = np.random.default_rng(int(content_key("augmentation", seed, str(tune_id)), 16))
        rows.append((str(tune_id), int(rng.choice(params.programs)),
                     round(float(rng.uniform(*params.qpm_range)), 1),
                     int(rng.integers(low, high, endpoint=True))))
    return pd.DataFrame(rows, columns=["tune_id", "program", "qpm", "transpose"])


def held_out_timbre_draws(draws: pd.DataFrame, seed: int,
                          programs: Sequence[int] = HELD_OUT_PROGRAMS) -> pd.DataFrame:
    """The same tunes at the same tempo and transposition, played by an instrument never heard in training.

    ``draws``: ``tune_id, program, qpm, transpose`` (e.g. the in-domain renders
    of the test tunes); each tune gets a program from ``programs`` (default
    :data:`HELD_OUT_PROGRAMS`) by a generator seeded with ``("held-out
    timbre", seed, tune_id)``, so only the instrument differs from its
    in-domain clip. Raises ``ValueError`` when a held-out program is in
    :data:`FOLK_PROGRAMS` (the training instruments).
    """
    overlap = sorted(set(map(int, programs)) & set(FOLK_PROGRAMS))
    if overlap:
        raise ValueError(f"held-out programs {overlap} are training instruments (FOLK_PROGRAMS)")
    out = draws[["tune_id", "program", "qpm", "transpose"]].copy()
    out["tune_id"] = out["tune_id"].astype(str)
    out["program"] = [int(np.random.default_rng(int(content_key("held-out timbre", seed, t), 16)).choice(programs))
                      for t in out["tune_id"]]
    return out.reset_index(drop=True)


def extra_timbre_draws(draws: pd.DataFrame, seed: int, k: int = 0,
                       programs: Sequence[int] = FOLK_PROGRAMS) -> pd.DataFrame:
    """The same tunes at the same tempo and transposition, played by another training instrument.

    Timbre augmentation for the models that read a clip's transcribed notes:
    ``draws`` (``tune_id, program, qpm, transpose``, e.g. the training tunes'
    renders) keep their tempo and transposition; each tune gets the ``k``-th
    program (0, 1, ...) of a permutation of ``programs`` without its own,
    drawn by a generator seeded with ``("extra render", seed, tune_id)``, so
    renders ``0 .. k`` of one tune are ``k + 1`` different instruments.
    Raises ``ValueError`` when ``k`` is negative or there are not enough
    other programs.
    """
    programs = [int(p) for p in programs]
    if k < 0 or k > len(programs) - 2:
        raise ValueError(f"render k={k}: need 0 <= k <= {len(programs) - 2} with {len(programs)} programs")
    out = draws[["tune_id", "program", "qpm", "transpose"]].copy()
    out["tune_id"] = out["tune_id"].astype(str)
    out["program"] = [int(np.random.default_rng(int(content_key("extra render", seed, t), 16))
                          .permutation([p for p in programs if p != int(own)])[k])
                      for t, own in zip(out["tune_id"], out["program"])]
    return out.reset_index(drop=True)


def _tune_name(notes: pd.DataFrame, tune_id: str | None) -> str:
    if tune_id is not None:
        return str(tune_id)
    if "tune_id" in notes and len(notes):
        return str(notes["tune_id"].iloc[0])
    return "<unnamed tune>"


def notes_to_midi(notes: pd.DataFrame, program: int, qpm: float, transpose: int,
                  velocity: int = 90, tune_id: str | None = None) -> pretty_midi.PrettyMIDI:
    """One tune's notes (onset/duration in quarter notes) as a one-track MIDI.

    ``qpm`` sets seconds per quarter note (60 / qpm), ``transpose`` shifts every
    pitch by that many semitones. Notes of zero duration (grace notes, which
    have no written length) are dropped. Raises ``RenderError`` naming the tune
    for no notes, missing values or a pitch outside MIDI 0-127.
    """
    name = _tune_name(notes, tune_id)
    if qpm <= 0:
        raise RenderError(f"tune {name!r}: tempo must be positive, got {qpm} qpm")
    table = notes[["pitch", "onset", "duration"]].to_numpy(dtype=float)
    if not np.isfinite(table).all():
        raise RenderError(f"tune {name!r}: missing or infinite pitch/onset/duration")
    table = table[table[:, 2] > 0]
    if len(table) == 0:
        raise RenderError(f"tune {name!r}: no notes to render")
    pitches = table[:, 0].astype(int) + int(transpose)
    if pitches.min() < 0 or pitches.max() > 127:
        raise RenderError(f"tune {name!r}: pitch outside MIDI 0-127 after transposing "
                          f"by {transpose} ({pitches.min()}..{pitches.max()})")
    seconds_per_quarter = 60.0 / qpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(qpm))
    instrument = pretty_midi.Instrument(program=int(program), name=name)
    instrument.notes = [
        pretty_midi.Note(velocity=int(velocity), pitch=int(pitch),
                         start=onset * seconds_per_quarter,
                         end=(onset + duration) * seconds_per_quarter)
        for pitch, (onset, duration) in zip(pitches, table[:, 1:])
    ]
    midi.instruments.append(instrument)
    return midi


def _looped_notes(midi: pretty_midi.PrettyMIDI, clip_seconds: float) -> np.ndarray:
    """(start s, end s, pitch) rows, the tune repeated until ``clip_seconds``, then cut."""
    notes = np.array([(n.start, n.end, n.pitch) for n in midi.instruments[0].notes])
    period = notes[:, 1].max()
    if period < MIN_TUNE_SECONDS:  # a near-zero period would loop into millions of notes
        raise RenderError(f"tune {midi.instruments[0].name!r}: ends after {period:.3g} s, "
                          f"shorter than {MIN_TUNE_SECONDS} s")
    repeats = math.ceil(clip_seconds / period)
    shifts = np.repeat(np.arange(repeats) * period, len(notes))
    looped = np.tile(notes, (repeats, 1))
    looped[:, :2] += shifts[:, None]
    looped = looped[looped[:, 0] < clip_seconds]
    looped[:, 1] = np.minimum(looped[:, 1], clip_seconds)
    return looped


def _note_samples(looped: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(note-on sample, note-off sample, pitch) of each looped note, as sent to the synth."""
    on = np.round(looped[:, 0] * sample_rate).astype(np.int64)
    off = np.maximum(np.round(looped[:, 1] * sample_rate).astype(np.int64), on + 1)
    return on, off, looped[:, 2].astype(np.int64)


def _note_events(looped: np.ndarray, sample_rate: int) -> np.ndarray:
    """(sample, is_on, pitch) rows in time order, note-offs before note-ons at a tie."""
    on, off, pitch = _note_samples(looped, sample_rate)
    events = np.concatenate([np.stack([on, np.ones_like(on), pitch], axis=1),
                             np.stack([off, np.zeros_like(off), pitch], axis=1)])
    # A repeated pitch must be released before it is struck again.
    return events[np.lexsort((events[:, 1], events[:, 0]))]


def _play_events(events: np.ndarray, n_samples: int, note_on, note_off, generate) -> np.ndarray:
    """Mono float32 audio of ``n_samples``: ``generate(n)`` blocks between note events.

    ``events`` rows are ``(sample, is_on, *args)``; ``note_on(*args)`` or
    ``note_off(*args)`` is called at each.
    """
    blocks, position = [], 0
    for sample, is_on, *args in events.tolist():
        sample = min(int(sample), n_samples)
        if sample > position:
            blocks.append(generate(sample - position))
            position = sample
        (note_on if is_on else note_off)(*args)
    if position < n_samples:
        blocks.append(generate(n_samples - position))
    return np.concatenate(blocks)


def _flush_until_silent(generate, block: int, max_blocks: int = 1000) -> None:
    """Generate and drop blocks until one is all zero: stopped voices still fade out."""
    for _ in range(max_blocks):
        if not np.any(generate(block)):
            return
    raise RuntimeError(f"synthesizer voices did not stop within {max_blocks} blocks")


@functools.lru_cache(maxsize=2)
def _tinysoundfont_synth(path: str, sample_rate: int):
    """One Synth with the soundfont loaded, kept for the life of the (worker) process."""
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    return synth, synth.sfload(path)


def _silent_synth(soundfont: Path, sample_rate: int):
    """``(synth, sfid, generate)``: the process's Synth, silent, and a mono block generator."""
    synth, sfid = _tinysoundfont_synth(str(soundfont), sample_rate)

    def generate(n: int) -> np.ndarray:
        stereo = np.frombuffer(synth.generate_simple(n), dtype=np.float32)
        return 0.5 * (stereo[0::2] + stereo[1::2])

    # A reused Synth must start from silence, never with the last tune's tail.
    synth.sounds_off()
    _flush_until_silent(generate, sample_rate // 100)
    return synth, sfid, generate


def _synthesize(looped: np.ndarray, program: int, params: RenderParams,
                              soundfont: Path) -> np.ndarray:
    """Mono float32 audio through tinysoundfont, events placed to the sample."""
    synth, sfid, generate = _silent_synth(soundfont, params.sample_rate)
    synth.program_select(_CHANNEL, sfid, 0, int(program))
    return _play_events(_note_events(looped, params.sample_rate), params.n_samples,
                        lambda key: synth.noteon(_CHANNEL, key, params.velocity),
                        lambda key: synth.noteoff(_CHANNEL, key), generate)


def _peak_normalised(raw: np.ndarray, name: str, what: str) -> np.ndarray:
    """``raw`` scaled to ``PEAK_LEVEL``; ``RenderError`` naming ``name`` if it is silent or not finite."""
    if not np.isfinite(raw).all() or is_silent(raw):
        raise RenderError(f"{name}: rendered audio is silent or not finite{what}")
    return (raw * (PEAK_LEVEL / np.abs(raw).max())).astype(np.float32)


def is_silent(audio: np.ndarray, threshold_db: float = -60.0) -> bool:
    """Whether the RMS level of ``audio`` is below ``threshold_db`` dB full scale.

    Empty audio counts as silent.
    """
    audio = np.asarray(audio, dtype=np.float32).ravel()
    if audio.size == 0:
        return True
    rms = math.sqrt(float(np.dot(audio, audio)) / audio.size)
    return rms == 0.0 or 20 * math.log10(rms) < threshold_db


def _clip_looped_notes(notes: pd.DataFrame, program: int, qpm: float, transpose: int,
                       params: RenderParams, name: str) -> np.ndarray:
    """(start s, end s, pitch) rows that :func:`render_tune` sends to the synth for one clip."""
    midi = notes_to_midi(notes, program, qpm, transpose, params.velocity, tune_id=name)
    return _looped_notes(midi, params.clip_seconds)


def clip_notes(notes: pd.DataFrame, program: int, qpm: float, transpose: int,
               params: RenderParams = RenderParams(), tune_id: str | None = None) -> pd.DataFrame:
    """The notes sounding in the clip that :func:`render_tune` makes from the same arguments.

    One row per note-on sent to the synthesizer, in time order: ``onset_s`` and
    ``offset_s`` (the note-on and note-off sample over the sample rate, so the
    rounding to samples is the renderer's), ``pitch_midi`` after transposition,
    ``program``. Tempo, transposition and looping are applied by the same code
    that renders the clip; a note cut by the clip end ends at ``clip_seconds``,
    and a note whose note-on falls on or after the last sample is left out (it
    never sounds). ``offset_s`` is the note-off: instruments with a release
    keep sounding a little after it. Raises ``RenderError`` as render_tune does
    for a tune without notes or with an out-of-range pitch (not for silent
    output, which only synthesis reveals).
    """
    name = _tune_name(notes, tune_id)
    on, off, pitch = _note_samples(_clip_looped_notes(notes, program, qpm, transpose, params, name),
                                   params.sample_rate)
    keep = on < params.n_samples
    order = np.lexsort((pitch[keep], on[keep]))
    rate = float(params.sample_rate)
    return pd.DataFrame({"onset_s": on[keep][order] / rate,
                         "offset_s": np.minimum(off[keep], params.n_samples)[order] / rate,
                         "pitch_midi": pitch[keep][order].astype(np.int64),
                         "program": np.full(int(keep.sum()), int(program), dtype=np.int64)})


def render_tune(notes: pd.DataFrame, program: int, qpm: float, transpose: int,
                params: RenderParams = RenderParams(), soundfont: Path | None = None,
                tune_id: str | None = None) -> np.ndarray:
    """One tune as a mono float32 clip of exactly ``clip_seconds * sample_rate`` samples.

    Folk tunes are played round and round, so a tune shorter than the clip is
    repeated (period: the end of its last note) until the clip is full; a
    longer tune is cut at ``clip_seconds``. The clip is peak-normalized to
    ``PEAK_LEVEL`` (-1 dBFS). Raises ``RenderError`` naming the tune for no
    notes, an out-of-range pitch or silent output.
    """
    name = _tune_name(notes, tune_id)
    looped = _clip_looped_notes(notes, program, qpm, transpose, params, name)
    raw = _synthesize(looped, program, params, soundfont or soundfont_path())
    return _peak_normalised(raw, f"tune {name!r}", f" (program {program})")


#: MIDI channel of the drums (General MIDI channel 10) and the soundfont bank of drum kits.
_DRUM_CHANNEL, _DRUM_BANK = 9, 128
#: Channels for pitched instruments: every channel but the drums'.
_MELODIC_CHANNELS = tuple(c for c in range(16) if c != _DRUM_CHANNEL)


def midi_clip_start(midi: pretty_midi.PrettyMIDI, clip_seconds: float) -> float:
    """Where :func:`render_midi`'s clip starts (s): the middle of the song, never before its first note.

    The song spans its first note's onset to its last note's end; a clip of
    ``clip_seconds`` is centred on that span (GTZAN's and FMA's 30 s excerpts
    are likewise cut from inside a recording, not from its intro).
    """
    notes = [(n.start, n.end) for inst in midi.instruments for n in inst.notes]
    if not notes:
        raise RenderError("the MIDI file has no notes")
    first, last = min(n[0] for n in notes), max(n[1] for n in notes)
    return max(first, first + (last - first - clip_seconds) / 2)


def _midi_events(midi: pretty_midi.PrettyMIDI, start: float, params: RenderParams) -> tuple[np.ndarray, dict]:
    """(sample, is_on, channel, pitch, velocity) rows of the clip window, time-ordered; channel -> program.

    Drums go to channel 10 (bank 128); each distinct pitched program gets a
    channel of its own, in order of first appearance; programs beyond the
    fifteen pitched channels (rare) are left out. Notes sounding at ``start``
    are struck there.
    """
    pitched: dict[int, int] = {}  # program -> channel, in order of first appearance
    channels: dict[int, int] = {}
    rows = []
    for inst in midi.instruments:
        if inst.is_drum:
            channel = _DRUM_CHANNEL
        elif inst.program in pitched or len(pitched) < len(_MELODIC_CHANNELS):
            channel = pitched.setdefault(inst.program, _MELODIC_CHANNELS[len(pitched)])
        else:
            continue
        channels[channel] = -1 if inst.is_drum else inst.program
        for note in inst.notes:
            on, off = note.start - start, note.end - start
            if off > 0 and on < params.clip_seconds:
                rows.append((max(on, 0.0), min(off, params.clip_seconds), channel, note.pitch, note.velocity))
    if not rows:
        raise RenderError("no note sounds in the clip window")
    table = np.array(rows)
    on = np.round(table[:, 0] * params.sample_rate).astype(np.int64)
    off = np.maximum(np.round(table[:, 1] * params.sample_rate).astype(np.int64), on + 1)
    rest = table[:, 2:].astype(np.int64)
    events = np.concatenate([np.column_stack([on, np.ones_like(on), rest]),
                             np.column_stack([off, np.zeros_like(off), rest])])
    # A repeated pitch must be released before it is struck again.
    return events[np.lexsort((events[:, 1], events[:, 0]))], channels


def render_midi(midi: str | os.PathLike | pretty_midi.PrettyMIDI, params: RenderParams = RenderParams(),
                soundfont: Path | None = None) -> np.ndarray:
    """A MIDI file's ``clip_seconds`` from the middle of the song, every instrument, mono float32.

    Each note keeps its own velocity; pitch bends and controllers are not
    played. Peak-normalised to ``PEAK_LEVEL`` like :func:`render_tune`.
    Raises ``RenderError`` naming the file for an unreadable file, no notes or
    silent output.
    """
    name = str(midi) if not isinstance(midi, pretty_midi.PrettyMIDI) else "MIDI data"
    try:
        if not isinstance(midi, pretty_midi.PrettyMIDI):
            midi = pretty_midi.PrettyMIDI(str(midi))
        events, channels = _midi_events(midi, midi_clip_start(midi, params.clip_seconds), params)
    except RenderError as err:
        raise RenderError(f"{name}: {err}") from None
    except Exception as err:  # mido / pretty_midi raise many types on a corrupt file
        raise RenderError(f"{name}: not a readable MIDI file ({type(err).__name__}: {err})") from None
    synth, sfid, generate = _silent_synth(soundfont or soundfont_path(), params.sample_rate)
    for channel, program in channels.items():
        synth.program_select(channel, sfid, _DRUM_BANK if program < 0 else 0, max(program, 0))
    raw = _play_events(events, params.n_samples, synth.noteon,
                       lambda channel, pitch, velocity: synth.noteoff(channel, pitch), generate)
    return _peak_normalised(raw, name, "")


def render_midi_files(items: pd.DataFrame, params: RenderParams = RenderParams(), n_jobs: int | None = None,
                      use_cache: bool = True) -> pd.DataFrame:
    """Render each ``items`` row (``tune_id``, ``midi_path``) with :func:`render_midi` to a cached FLAC.

    Cached under ``data/audio/midi/``, keyed by the file's bytes, the
    soundfont and the clip settings. Returns ``tune_id, audio_path, status,
    reason`` like :func:`render_many`: a file that cannot be rendered is a
    ``skipped`` row with the reason, never fatal.
    """
    soundfont = soundfont_path()
    stat = soundfont.stat()
    shaping = {k: v for k, v in asdict(params).items() if k in ("sample_rate", "clip_seconds")}
    font = _soundfont_key(str(soundfont), stat.st_size, stat.st_mtime_ns)
    jobs = []
    for row in items.itertuples(index=False):
        path = Path(row.midi_path)
        key = content_key(RENDER_VERSION, "midi file", shaping, font, path.read_bytes() if path.is_file() else b"")
        jobs.append({"tune_id": str(row.tune_id), "midi_path": str(path),
                     "audio_path": str(config.data_path("audio", "midi", f"{key}.flac"))})
    todo = [job for job in jobs if not (use_cache and Path(job["audio_path"]).is_file())]
    outcome = dict(zip((id(job) for job in todo), _run_parallel(todo, params, soundfont, n_jobs or config.n_jobs())))
    rows = []
    for job in jobs:
        status, reason = outcome.get(id(job), ("cached", ""))
        rows.append({"tune_id": job["tune_id"], "audio_path": None if status == "skipped" else job["audio_path"],
                     "status": status, "reason": reason})
    return pd.DataFrame(rows, columns=["tune_id", "audio_path", "status", "reason"])


@functools.lru_cache(maxsize=4)
def _soundfont_key(path: str, size: int, mtime_ns: int) -> str:
    return content_key(Path(path).read_bytes())


def _clip_key(params: RenderParams, soundfont: Path, table: np.ndarray,
              program: int, qpm: float, transpose: int, effects: dict | None = None) -> str:
    """Cache key of one clip: the fields that shape the audio, not the draw ranges (and its effect chain,
    :mod:`musicgeo_utils.effects`, when it has one: a clip without effects keeps its key)."""
    stat = soundfont.stat()
    shaping = {k: v for k, v in asdict(params).items() if k in ("sample_rate", "clip_seconds", "velocity")}
    shaping["backend"] = "tinysoundfont"  # the synthesizer; kept in the key so existing caches stay valid
    chain = () if effects is None else ("effects", effects)
    return content_key(RENDER_VERSION, shaping, _soundfont_key(str(soundfont), stat.st_size,
                                                               stat.st_mtime_ns),
                       table, int(program), float(qpm), int(transpose), *chain)


def _render_to_file(job: dict, params: RenderParams, soundfont: Path) -> tuple[str, str]:
    """Render one tune (or MIDI file: ``midi_path``) and write its FLAC atomically; ``(status, reason)``."""
    try:
        if "midi_path" in job:
            audio = render_midi(job["midi_path"], params, soundfont)
        else:
            notes = pd.DataFrame(job["table"], columns=["pitch", "onset", "duration"])
            audio = render_tune(notes, job["program"], job["qpm"], job["transpose"], params,
                                soundfont, tune_id=job["tune_id"])
            if job.get("effects") is not None:
                from .effects import apply_effects

                try:
                    audio = apply_effects(audio, params.sample_rate, job["effects"])
                except ValueError as err:
                    raise RenderError(f"tune {job['tune_id']!r}: effects: {err}") from err
    except (RenderError, RuntimeError, tinysoundfont.SoundFontException) as err:
        return "skipped", str(err)
    with atomic_path(job["audio_path"]) as tmp:
        sf.write(tmp, audio, params.sample_rate, format="FLAC", subtype="PCM_16")
    return "rendered", ""


def _render_chunk(jobs: list[dict], params: RenderParams, soundfont: Path) -> list[tuple[str, str]]:
    return [_render_to_file(job, params, soundfont) for job in jobs]


def _notes_by_tune(notes: pd.DataFrame) -> dict[str, np.ndarray]:
    """{tune_id: (n, 3) array of pitch, onset, duration}; one sort, no per-group pandas."""
    ordered = notes.sort_values("tune_id", kind="stable")
    ids = ordered["tune_id"].astype(str).to_numpy()
    if len(ids) == 0:
        return {}
    values = ordered[["pitch", "onset", "duration"]].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return dict(zip(ids[starts], np.split(values, starts[1:])))


def _render_jobs(manifest: pd.DataFrame, notes: pd.DataFrame, params: RenderParams,
                 seed: int, soundfont: Path, draws: pd.DataFrame | None = None) -> list[dict]:
    """One job per manifest tune: its notes, its augmentation (``draws`` or drawn now) and its cache path."""
    tune_ids = manifest["tune_id"].astype(str)
    duplicated = tune_ids[tune_ids.duplicated()].unique()
    if len(duplicated):
        raise ValueError(f"manifest has duplicate tune ids: {list(duplicated[:5])}")
    by_tune = _notes_by_tune(notes)
    empty = np.zeros((0, 3))
    jobs = []
    if draws is None:
        draws = draw_augmentation(tune_ids, seed, params)
    elif sorted(draws["tune_id"].astype(str)) != sorted(tune_ids):
        raise ValueError("draws must hold exactly one row per manifest tune")
    for row in draws.itertuples(index=False):
        table = by_tune.get(row.tune_id, empty)
        key = _clip_key(params, soundfont, table, row.program, row.qpm, row.transpose, getattr(row, "effects", None))
        jobs.append(dict(row._asdict(), table=table,
                         audio_path=str(config.data_path("audio", f"{key}.flac"))))
    return jobs


def _run_parallel(jobs: list[dict], params: RenderParams, soundfont: Path,
                  n_jobs: int) -> list[tuple[str, str]]:
    """Render ``jobs`` in chunks over ``n_jobs`` processes (in-process for one)."""
    if n_jobs == 1 or len(jobs) <= 1:
        return _render_chunk(jobs, params, soundfont)
    from joblib import Parallel, delayed

    # A few chunks per worker balance long and short tunes without per-tune overhead.
    chunks = [list(c) for c in np.array_split(np.array(jobs, dtype=object),
                                              min(len(jobs), 4 * n_jobs)) if len(c)]
    results = Parallel(n_jobs=n_jobs)(delayed(_render_chunk)(c, params, soundfont)
                                      for c in chunks)
    return [status for chunk in results for status in chunk]


def render_many(manifest: pd.DataFrame, notes: pd.DataFrame, params: RenderParams,
                seed: int, n_jobs: int | None = None, use_cache: bool = True,
                draws: pd.DataFrame | None = None) -> pd.DataFrame:
    """Render every tune of ``manifest`` to a cached FLAC clip, in parallel.

    ``draws`` (``tune_id, program, qpm, transpose``, one row per tune) replaces
    the seeded :func:`draw_augmentation`, e.g. :func:`held_out_timbre_draws`;
    an ``effects`` column (:func:`effects.draw_effects`' chains) puts each
    rendered clip through its chain (:func:`effects.apply_effects`).

    Returns one row per manifest tune: ``tune_id, program, qpm, transpose,
    audio_path, status, reason`` with status ``rendered`` (written now),
    ``cached`` (already on disk) or ``skipped`` (no notes, bad pitch, silent
    output, synth error; ``reason`` says which; ``audio_path`` is missing). A
    skipped tune is never fatal. ``n_jobs`` defaults to ``config.n_jobs()``.
    """
    soundfont = soundfont_path()  # fail before any work, with the fix in the message
    jobs = _render_jobs(manifest, notes, params, seed, soundfont, draws)
    todo = [job for job in jobs if not (use_cache and Path(job["audio_path"]).is_file())]
    outcome = dict(zip((id(job) for job in todo),
                       _run_parallel(todo, params, soundfont, n_jobs or config.n_jobs())))
    rows = []
    for job in jobs:
        status, reason = outcome.get(id(job), ("cached", ""))
        rows.append({**{k: job[k] for k in ("tune_id", "program", "qpm", "transpose")},
                     "audio_path": None if status == "skipped" else job["audio_path"],
                     "status": status, "reason": reason})
    result = pd.DataFrame(rows, columns=["tune_id", "program", "qpm", "transpose",
                                         "audio_path", "status", "reason"])
    log.info("render_many: %s", result["status"].value_counts().to_dict())
    return result


def load_clip(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A cached clip as (mono float32 audio in [-1, 1], sample rate in Hz)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio clip not found: {path}; run render.render_many first")
    audio, sample_rate = sf.read(path, dtype="float32", always_2d=False)
    return (audio.mean(axis=1) if audio.ndim == 2 else audio), int(sample_rate)


def preview_format() -> tuple[str, str]:
    """(soundfile format, MIME type) of previews: MP3 if libsndfile has it, else OGG Vorbis."""
    if "MP3" in sf.available_formats():
        return "MP3", "audio/mpeg"
    return "OGG", "audio/ogg"


def clip_to_mp3_bytes(audio: np.ndarray, sample_rate: int,
                      compression_level: float = 0.5) -> bytes:
    """A clip encoded for listening: MP3 (OGG Vorbis where libsndfile lacks MP3).

    ``compression_level`` is soundfile's, 0 (best) to <1 (smallest); at 12 kHz
    the default gives a constant 32 kbit/s, about 40 KB per 10 s.
    """
    fmt, _ = preview_format()
    options = ({"subtype": "MPEG_LAYER_III", "bitrate_mode": "CONSTANT"} if fmt == "MP3"
               else {"subtype": "VORBIS"})
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, dtype=np.float32), int(sample_rate), format=fmt,
             compression_level=min(compression_level, 0.95), **options)
    return buffer.getvalue()


def audio_html(audio: np.ndarray, sample_rate: int, title: str = "") -> str:
    """An ``<audio controls>`` HTML snippet with the clip inlined as base64 MP3/OGG.

    ``title`` is HTML-escaped. About 55 KB of HTML for 10 s at 12 kHz.
    """
    _, mime = preview_format()
    data = base64.b64encode(clip_to_mp3_bytes(audio, sample_rate)).decode("ascii")
    label = html.escape(str(title), quote=True)
    caption = f'<div class="musicgeo-audio-title">{label}</div>' if label else ""
    return (f'<div class="musicgeo-audio">{caption}<audio controls preload="none" '
            f'title="{label}" src="data:{mime};base64,{data}"></audio></div>')


def preview_clips(tunes: pd.DataFrame, notes: pd.DataFrame, params: RenderParams,
                  seed: int) -> pd.DataFrame:
    """Render a few tunes in memory (no cache), with their seeded augmentation.

    Returns ``tunes``' ``tune_id``, ``title``, ``style`` and ``country`` plus
    ``instrument`` (General MIDI name), ``qpm``, ``transpose`` and ``audio``
    (float32 array at ``params.sample_rate`` Hz). For showing and hearing
    examples in a notebook; a tune that cannot be rendered raises RenderError.
    """
    draws = draw_augmentation(tunes["tune_id"], seed, params).set_index("tune_id")
    by_tune = dict(tuple(notes.groupby("tune_id")))
    rows = []
    for tune in tunes.itertuples(index=False):
        draw = draws.loc[tune.tune_id]
        audio = render_tune(by_tune.get(tune.tune_id, notes.iloc[:0]), int(draw["program"]),
                            float(draw["qpm"]), int(draw["transpose"]), params, tune_id=tune.tune_id)
        rows.append({"tune_id": tune.tune_id, "title": tune.title, "style": getattr(tune, "style", ""),
                     "country": getattr(tune, "country", ""),
                     "instrument": pretty_midi.program_to_instrument_name(int(draw["program"])),
                     "qpm": round(float(draw["qpm"])), "transpose": int(draw["transpose"]),
                     "audio": audio})
    return pd.DataFrame(rows)


def clips_table_html(clips: pd.DataFrame, sample_rate: int) -> str:
    """An HTML table of :func:`preview_clips` rows with an audio player each (all text escaped)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in
                   ("style", "tune", "country", "instrument", "tempo (qpm)", "transpose", "listen"))
    rows = []
    for clip in clips.itertuples(index=False):
        cells = [clip.style, f"{clip.title} ({clip.tune_id})", clip.country, clip.instrument,
                 clip.qpm, f"{clip.transpose:+d}"]
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        rows.append(f"<tr>{tds}<td>{audio_html(clip.audio, sample_rate)}</td></tr>")
    return f'<table class="musicgeo-clips"><tr>{head}</tr>{"".join(rows)}</table>'


__all__ = [
    "FOLK_PROGRAMS", "PEAK_LEVEL", "RenderError", "RenderParams", "audio_html",
    "clip_notes", "clip_to_mp3_bytes", "clips_table_html", "draw_augmentation", "is_silent",
    "load_clip", "notes_to_midi", "preview_clips", "preview_format", "render_many", "render_tune",
    "soundfont_path",
]
