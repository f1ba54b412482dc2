"""Audio -> note events (onset, duration, MIDI pitch): a melody front end.

A frame-level pitch tracker from librosa turns a mono clip into a pitch track
(one frame every ``hop_length`` samples, 10 ms at 12 kHz), and a fixed rule
turns the frames into notes. Two trackers are offered:

``yin`` (default)
    ``librosa.yin`` (de Cheveigne and Kawahara, 2002). It gives a pitch for
    every frame and no voicing decision, so the voicing is the rule below
    (level and pitch stability). About 160-300x real time per core at 12 kHz
    (machine-dependent), the frames -> notes rule and onset detection included.
``pyin``
    ``librosa.pyin`` (Mauch and Dixon, 2014), with its HMM on a one-semitone
    pitch grid (``resolution=1``: notes are rounded to semitones anyway, and the
    default 0.1-semitone grid is ~15x slower). Its voiced probability replaces
    the stability test. About 20-26x real time per core, too slow for the
    small profile's budget (about 14 minutes on two cores against 2).

The neural trackers ``pesto-pitch`` and ``torchcrepe`` both import ``torchaudio``
in their package ``__init__`` (to read files), and no ``torchaudio`` on PyPI loads
with torch 2.13 (its newest wheel, 2.11.1, is a CUDA build for torch 2.11 whose
extension fails to load; ``benchmarks/bench_transcription.py`` prints what each
import says). PESTO's model needs torch alone: ``bench_transcription.py --pesto``
runs it, installed apart, through this module's rule (:func:`notes_from_track`);
it held up better than yin on held-out instruments but ran about 70x slower.
Spotify's ``basic-pitch`` (ONNX weights in its wheel) also runs here, installed
apart: ``bench_transcription.py --basic-pitch`` found it steadier than yin on
held-out instruments but about 11x slower. Both are beyond the small profile's
budget (docs/experiments.md, "Timings").

Frames -> notes (the rule, in order; every number is a field of
:class:`TranscriptionParams`, defaults in brackets; tuned on in-domain renders only):

1. Pitch: each frame's f0 in Hz becomes a MIDI number ``69 + 12 log2(f0 / 440)``.
   yin picks the first dip of its difference function under
   ``trough_threshold`` [0.3] (higher than librosa's 0.1: fewer octave-down
   errors; 0.3 against 0.2 before 2026-12-06 on in-domain validation renders,
   note F1 0.865 -> 0.875, docs/experiments.md "The frames-to-notes rule, revised
   on validation").
2. Voicing: a frame is voiced when its RMS level is at most ``level_db`` [40]
   dB below the clip's loudest frame and above ``silence_dbfs`` [-70 dBFS,
   so a silent clip has no notes] AND, for yin, its pitch lies within
   ``stability_cents`` [35] of the median pitch of the ``median_frames`` [5]
   frames around it, or, for pyin, pyin calls it voiced with a voiced
   probability of at least ``voiced_probability`` [0.3].
3. Smoothing: voiced frames are rounded to the nearest semitone, unvoiced ones
   get a value below every note, and a running median over ``median_frames``
   [5] frames (50 ms) removes one- and two-frame blips of pitch or voicing.
4. Segments: a maximal run of frames on one voiced semitone is a segment; a
   pitch change or an unvoiced frame ends it.
5. Slips: a segment of at most ``slip_s`` [0.12 s] that ends where the next
   segment starts is given to that next segment when it is 12 or 24 semitones
   away from it (the tracker slips an octave in the attack of a note), or when
   it also starts where the segment before it ends and lies at least
   ``blip_semitones`` [5; 0 turns this off] below or above both of them (a
   legato change heard for a moment as the two notes' common subharmonic or
   as a harmonic). Chosen on in-domain validation renders (note F1 0.854 ->
   0.865; docs/experiments.md, "The frames-to-notes rule,
   revised on validation").
6. Repeated notes: a segment is split at every onset inside it that lies at
   least ``min_note_s`` from both of its ends. An onset is a peak of librosa's
   onset-strength envelope (spectral flux of the log-mel spectrogram, the
   same frames) picked by ``librosa.onset.onset_detect`` with ``delta``
   ``onset_delta`` [0.25] on the normalised envelope. So a repeated pitch
   becomes two notes only when the second one has an audible attack.
7. Minimum length: pieces shorter than ``min_note_s`` [0.07 s] are dropped.
8. Onset times, for each remaining note in turn: (a) an unvoiced gap of at
   most ``gap_s`` [0.15 s] after the previous note is given to this note (the
   gap is its attack); (b) its onset then moves back to the earliest onset
   peak at most ``snap_s`` [0.06 s] before it (the median and the tracker's
   window make pitch changes a few frames late), but no earlier than
   ``min_note_s`` after the previous note's onset, and the previous note then
   ends there. A note ends at the end of its last frame.
9. Pitch-energy backtrack (slow attacks, legato): the energy of each note's
   own pitch (its first four harmonics in a ``backtrack_fft`` [1024]-point
   magnitude STFT on the same frames) is followed back from the onset while
   it keeps falling (strictly), at most ``backtrack_s`` [0.3 s] and no earlier than
   ``min_note_s`` after the previous note's onset; the onset moves to the
   first frame after that minimum where the level (dB) has risen
   ``backtrack_rise`` [0.5] of the way to the note's peak in its first five
   frames, and the previous note then ends there. ``backtrack_s = 0`` turns
   the step off. Chosen on in-domain validation renders (note F1 0.850 ->
   0.854; docs/experiments.md, "The frames-to-notes rule,
   revised on validation").

Frame ``i`` is centred on sample ``i * hop_length`` [120, 10 ms at 12 kHz];
times are frame times. The result is deterministic: the same samples and
parameters give the same notes.

Batch use: :func:`transcribe_many` caches one ``.npz`` per clip under
``config.data_path('transcription', params.key())``, named after the SHA-256
of the file bytes and the parameters, written atomically; clips that cannot be
read or transcribed are skipped with their reason, never fatal.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from musicgeo_utils import cache, config
from musicgeo_utils.extraction import clip_items
from musicgeo_utils.features import one_blas_thread

#: Bump when the transcription code changes its outputs: every cache key changes.
#: 2: beats cached with the notes; 3: blips (step 5), backtrack (step 9), yin threshold 0.3.
TRANSCRIPTION_VERSION = "transcription-3"
TRACKERS = ("yin", "pyin")
NOTE_COLUMNS = ("onset_s", "duration_s", "pitch_midi")
_UNVOICED = -1  # the smoothed semitone track's value for unvoiced frames (below every note)


class TranscriptionError(ValueError):
    """A clip that cannot be transcribed; names the clip and the reason."""

    def __init__(self, clip_id: str, reason: str):
        super().__init__(f"clip {clip_id}: {reason}")
        self.clip_id = clip_id
        self.reason = reason

    def __reduce__(self):  # picklable across joblib workers
        return (TranscriptionError, (self.clip_id, self.reason))


@dataclass(frozen=True)
class TranscriptionParams:
    """Every setting that changes a transcription (see the module docstring for the rule).

    Frequencies in Hz, lengths in samples unless named ``_s`` (seconds), levels in dB.
    """

    tracker: str = "yin"
    sample_rate: int = 12000
    hop_length: int = 120
    frame_length: int = 512
    fmin: float = 65.0
    fmax: float = 2100.0
    trough_threshold: float = 0.3
    level_db: float = 40.0
    silence_dbfs: float = -70.0
    stability_cents: float = 35.0
    voiced_probability: float = 0.3
    median_frames: int = 5
    onset_delta: float = 0.25
    snap_s: float = 0.06
    gap_s: float = 0.15
    slip_s: float = 0.12
    blip_semitones: int = 5
    min_note_s: float = 0.07
    backtrack_s: float = 0.3
    backtrack_fft: int = 1024
    backtrack_rise: float = 0.5

    def __post_init__(self):
        if self.tracker not in TRACKERS:
            raise ValueError(f"unknown tracker {self.tracker!r}; choose one of {TRACKERS}")
        if self.sample_rate <= 0 or self.hop_length <= 0 or self.frame_length <= 0:
            raise ValueError("sample_rate, hop_length and frame_length must be positive")
        if not 0 < self.fmin < self.fmax < self.sample_rate / 2:
            raise ValueError(f"need 0 < fmin < fmax < sample_rate / 2, got {self.fmin}, {self.fmax}")
        if self.median_frames < 1 or self.median_frames % 2 == 0:
            raise ValueError(f"median_frames must be odd and positive, got {self.median_frames}")
        if self.level_db <= 0 or self.min_note_s < 0 or self.snap_s < 0:
            raise ValueError("level_db must be positive, min_note_s and snap_s non-negative")
        if self.blip_semitones < 0:
            raise ValueError(f"blip_semitones must be non-negative, got {self.blip_semitones}")
        if self.backtrack_s < 0 or self.backtrack_fft < self.frame_length or not 0 <= self.backtrack_rise <= 1:
            raise ValueError("backtrack_s must be non-negative, backtrack_fft at least frame_length and "
                             "backtrack_rise within [0, 1]")

    def key(self) -> str:
        """Cache key of these parameters (with the code version)."""
        return cache.content_key(TRANSCRIPTION_VERSION, asdict(self))

    @property
    def frame_seconds(self) -> float:
        """Seconds between frames (``hop_length / sample_rate``)."""
        return self.hop_length / self.sample_rate


class PitchTrack(NamedTuple):
    """Frame-level output: frame times (s), f0 in Hz (0 where unvoiced), voiced mask."""

    times: np.ndarray
    f0_hz: np.ndarray
    voiced: np.ndarray


def empty_notes() -> pd.DataFrame:
    """A notes table with no rows and the right columns and dtypes."""
    return pd.DataFrame({"onset_s": pd.Series(dtype="float64"),
                         "duration_s": pd.Series(dtype="float64"),
                         "pitch_midi": pd.Series(dtype="int64")})


# --------------------------------------------------------------------------- frames


def _prepared(audio, sample_rate, params: TranscriptionParams, clip_id: str) -> np.ndarray:
    """Mono float32 samples at ``params.sample_rate``, or TranscriptionError naming the clip.

    Audio at another rate is resampled with ``librosa.resample`` (soxr, deterministic).
    """
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise TranscriptionError(clip_id, f"sample rate must be a number of Hz, got {sample_rate!r}") from None
    if not (math.isfinite(rate) and rate > 0 and rate == int(rate)):
        raise TranscriptionError(clip_id, f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
    try:
        y = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TranscriptionError(clip_id, f"audio is not numeric samples: {error}") from None
    if y.ndim != 1:
        raise TranscriptionError(clip_id, f"expected mono samples (1-D), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise TranscriptionError(clip_id, f"{int(np.sum(~np.isfinite(y)))} NaN/inf samples")
    if int(rate) != params.sample_rate:
        import librosa

        y = librosa.resample(y, orig_sr=int(rate), target_sr=params.sample_rate).astype(np.float32)
    if y.size < params.frame_length:
        raise TranscriptionError(clip_id, f"{y.size} samples at {params.sample_rate} Hz is shorter than "
                                          f"one analysis frame ({params.frame_length} samples)")
    return y


def _loud_frames(y: np.ndarray, params: TranscriptionParams) -> np.ndarray:
    """Frames whose RMS level is within ``level_db`` of the loudest frame and above ``silence_dbfs``."""
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=params.frame_length,
                              hop_length=params.hop_length)[0].astype(np.float64)
    floor = max(rms.max() * 10 ** (-params.level_db / 20), 10 ** (params.silence_dbfs / 20))
    return rms >= floor


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Median over ``width`` frames centred on each frame (edges repeat the end values)."""
    if width == 1 or values.size == 0:
        return values.copy()
    from scipy.ndimage import median_filter

    return median_filter(values, size=width, mode="nearest")


def _track(y: np.ndarray, params: TranscriptionParams) -> PitchTrack:
    """Rule steps 1-2 on prepared samples."""
    import librosa

    loud = _loud_frames(y, params)
    common = dict(fmin=params.fmin, fmax=params.fmax, sr=params.sample_rate,
                  frame_length=params.frame_length, hop_length=params.hop_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        if params.tracker == "yin":
            f0 = librosa.yin(y, trough_threshold=params.trough_threshold, **common)
            midi = 69 + 12 * np.log2(f0 / 440.0)
            deviation = np.abs(midi - _running_median(midi, params.median_frames)) * 100
            n = min(len(f0), len(loud))
            voiced = loud[:n] & (deviation[:n] <= params.stability_cents)
        else:
            f0, pyin_voiced, probability = librosa.pyin(y, resolution=1.0, **common)
            n = min(len(f0), len(loud))
            voiced = (loud[:n] & pyin_voiced[:n] & (probability[:n] >= params.voiced_probability)
                      & np.isfinite(f0[:n]))
    f0 = np.where(voiced, np.nan_to_num(f0[:n], nan=0.0), 0.0)
    return PitchTrack(np.arange(n) * params.frame_seconds, f0.astype(np.float64), voiced.astype(bool))


def pitch_track(audio, sample_rate: int, params: TranscriptionParams = TranscriptionParams(), *,
                clip_id: str = "<array>") -> PitchTrack:
    """Frame times (s), f0 (Hz, 0 where unvoiced) and voicing of a mono clip (rule steps 1-2)."""
    return _track(_prepared(audio, sample_rate, params, clip_id), params)


def _onset_frames(y: np.ndarray, params: TranscriptionParams) -> np.ndarray:
    """Frames of onset-strength peaks (librosa's onset detector on the clip)."""
    import librosa

    envelope = librosa.onset.onset_strength(y=y, sr=params.sample_rate, hop_length=params.hop_length,
                                            n_fft=params.frame_length)
    if not np.any(envelope > 0):
        return np.zeros(0, dtype=np.int64)
    return librosa.onset.onset_detect(onset_envelope=envelope, sr=params.sample_rate,
                                      hop_length=params.hop_length, delta=params.onset_delta,
                                      units="frames").astype(np.int64)


def _segments(semitones: np.ndarray) -> list[tuple[int, int, int]]:
    """(first frame, end frame exclusive, semitone) of each run of one voiced semitone."""
    if semitones.size == 0:
        return []
    change = np.flatnonzero(np.diff(semitones) != 0) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, semitones.size]
    return [(int(s), int(e), int(semitones[s])) for s, e in zip(starts, ends)
            if semitones[s] != _UNVOICED]


def _merge_slips(segments: list[tuple[int, int, int]], max_frames: int,
                 blip_semitones: int = 0) -> list[list[int]]:
    """Give a short segment that slipped to the segment right after it (rule step 5).

    A slip is one or two octaves off that next segment (the tracker's octave
    slips sit in the attack of a note, just before it) or, with
    ``blip_semitones`` > 0, at least that far below or above both the segment
    before it (ending where it starts) and the one after it (a transition
    heard as the two notes' common subharmonic, or as a harmonic).
    """
    merged: list[list] = []
    for i, (start, end, pitch) in enumerate(segments):
        previous = segments[i - 1] if i else None
        if merged and merged[-1][3]:  # the previous segment was a slip into this one
            start = merged.pop()[0]
        following = segments[i + 1] if i + 1 < len(segments) else None
        slip = following is not None and end - start <= max_frames and following[0] == end
        if slip:
            octave = abs(following[2] - pitch) in (12, 24)
            blip = (blip_semitones > 0 and previous is not None and previous[1] == segments[i][0]
                    and (pitch <= min(previous[2], following[2]) - blip_semitones
                         or pitch >= max(previous[2], following[2]) + blip_semitones))
            slip = octave or blip
        merged.append([start, end, pitch, slip])
    return [item[:3] for item in merged]


def frames_to_notes(track: PitchTrack, onset_frames: np.ndarray,
                    params: TranscriptionParams = TranscriptionParams(),
                    spectrum: np.ndarray | None = None) -> pd.DataFrame:
    """Notes from a pitch track and onset frames (rule steps 3-9 of the module docstring).

    ``onset_frames``: frame indices of onset peaks (the same frames as the track);
    ``spectrum``: the clip's magnitude STFT for step 9 (:func:`_spectrum`;
    ``None`` skips the step).
    """
    frame_s = params.frame_seconds
    min_frames = max(1, int(math.ceil(params.min_note_s / frame_s - 1e-9)))
    snap_frames = int(round(params.snap_s / frame_s))
    gap_frames = int(round(params.gap_s / frame_s))
    semitones = np.full(track.f0_hz.shape, _UNVOICED, dtype=np.int64)
    voiced = np.asarray(track.voiced, bool) & (track.f0_hz > 0)
    semitones[voiced] = np.round(69 + 12 * np.log2(track.f0_hz[voiced] / 440.0)).astype(np.int64)
    semitones = _running_median(semitones, params.median_frames)
    onsets = np.unique(np.asarray(onset_frames, dtype=np.int64))
    segments = _merge_slips(_segments(semitones), int(round(params.slip_s / frame_s)), params.blip_semitones)
    pieces = []
    for start, end, pitch in segments:  # step 6: split at onsets inside a segment
        inner = onsets[(onsets >= start + min_frames) & (onsets <= end - min_frames)]
        bounds = [start, *inner.tolist(), end]
        pieces.extend((a, b, pitch) for a, b in zip(bounds[:-1], bounds[1:]))
    notes: list[list[int]] = []
    for start, end, pitch in pieces:
        if end - start < min_frames:  # step 7 (before step 8, which only lengthens notes)
            continue
        if notes and start - notes[-1][1] <= gap_frames:
            start = notes[-1][1]  # step 8a: a short gap belongs to the attack of the note after it
        earlier = onsets[(onsets <= start) & (onsets >= start - snap_frames)]
        if notes:
            earlier = earlier[earlier >= notes[-1][0] + min_frames]
        if earlier.size:  # step 8b: back to the earliest onset peak in reach
            start = int(earlier[0])
            if notes:
                notes[-1][1] = min(notes[-1][1], start)
        notes.append([start, end, pitch])
    if spectrum is not None and params.backtrack_s > 0:
        _backtrack_onsets(notes, spectrum, params, min_frames)
    if not notes:
        return empty_notes()
    table = np.asarray(notes, dtype=np.int64)
    return pd.DataFrame({"onset_s": table[:, 0] * frame_s,
                         "duration_s": (table[:, 1] - table[:, 0]) * frame_s,
                         "pitch_midi": table[:, 2]})


#: Harmonics whose energy makes a pitch's level in step 9.
BACKTRACK_HARMONICS = 4
#: Frames after the onset in which step 9 looks for the note's peak level.
BACKTRACK_PEAK_FRAMES = 5


def _spectrum(y: np.ndarray, params: TranscriptionParams) -> np.ndarray | None:
    """Magnitude STFT (``backtrack_fft`` points, the track's frames) for step 9, or None when it is off."""
    if params.backtrack_s <= 0:
        return None
    import librosa

    return np.abs(librosa.stft(y, n_fft=params.backtrack_fft, hop_length=params.hop_length, center=True))


def _pitch_level_db(spectrum: np.ndarray, pitch: int, params: TranscriptionParams) -> np.ndarray:
    """Level (dB) of one MIDI pitch per frame: power in the two bins around each of its first harmonics."""
    bin_hz = params.sample_rate / params.backtrack_fft
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    power = np.zeros(spectrum.shape[1])
    for harmonic in range(1, BACKTRACK_HARMONICS + 1):
        position = harmonic * f0 / bin_hz
        if position >= spectrum.shape[0] - 1:
            break
        for b in sorted({int(math.floor(position)), int(math.ceil(position))}):
            power += spectrum[b].astype(np.float64) ** 2
    return 10 * np.log10(power + 1e-12)


def _backtrack_onsets(notes: list[list[int]], spectrum: np.ndarray, params: TranscriptionParams,
                      min_frames: int) -> None:
    """Rule step 9, in place on ``[start, end, pitch]`` frame lists (see the module docstring)."""
    reach = int(round(params.backtrack_s / params.frame_seconds))
    for i, note in enumerate(notes):
        onset = note[0]
        if onset >= spectrum.shape[1]:
            continue
        level = _pitch_level_db(spectrum, note[2], params)
        earliest = max(0, onset - reach, notes[i - 1][0] + min_frames if i else 0)
        low = onset
        while low - 1 >= earliest and level[low - 1] < level[low]:
            low -= 1
        if low == onset:
            continue
        peak = level[onset:onset + BACKTRACK_PEAK_FRAMES].max()
        risen = np.flatnonzero(level[low:onset + 1] >= level[low] + params.backtrack_rise * (peak - level[low]))
        start = low + int(risen[0]) if risen.size else onset
        if start < onset:
            note[0] = start
            if i:
                notes[i - 1][1] = min(notes[i - 1][1], start)


def transcribe_with_track(audio, sample_rate: int, params: TranscriptionParams = TranscriptionParams(),
                          *, clip_id: str = "<array>") -> tuple[pd.DataFrame, PitchTrack]:
    """:func:`transcribe` and the frame-level pitch track the notes were made from."""
    y = _prepared(audio, sample_rate, params, clip_id)
    track = _track(y, params)
    return _notes(y, track, params), track


def _notes(y: np.ndarray, track: PitchTrack, params: TranscriptionParams) -> pd.DataFrame:
    """Rule steps 3-9 on prepared samples and their pitch track."""
    return frames_to_notes(track, _onset_frames(y, params), params, _spectrum(y, params))


def notes_from_track(audio, sample_rate: int, track: PitchTrack,
                     params: TranscriptionParams = TranscriptionParams(), *, clip_id: str = "<array>") -> pd.DataFrame:
    """The rule on a pitch track from any tracker (f0 and voicing every ``params.hop_length`` samples at
    ``params.sample_rate``): step 2's level test (a voiced frame must also be loud), then steps 3-9 with
    the onsets and spectrum of the clip's own samples. How a tracker outside this module is compared under
    the same frames-to-notes rule (``benchmarks/bench_transcription.py --pesto``)."""
    y = _prepared(audio, sample_rate, params, clip_id)
    loud = _loud_frames(y, params)
    n = min(len(track.f0_hz), len(loud))
    voiced = np.asarray(track.voiced[:n], dtype=bool) & loud[:n]
    heard = PitchTrack(np.arange(n) * params.frame_seconds, np.where(voiced, track.f0_hz[:n], 0.0), voiced)
    return _notes(y, heard, params)


#: Hop of the beat tracker's onset envelope, samples (librosa's default).
BEAT_HOP = 512


def beat_times(audio: np.ndarray, sample_rate: int) -> tuple[float, np.ndarray]:
    """(tempo in beats per minute, beat times in seconds) of a mono clip, by librosa's beat tracker.

    ``librosa.beat.beat_track`` (Ellis 2007: onset envelope, global tempo,
    dynamic programming). Fewer than two beats (silence, a clip too short)
    gives the tempo librosa reports and whatever beats it found.
    """
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sample_rate, hop_length=BEAT_HOP, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=float)


def transcribe(audio, sample_rate: int, params: TranscriptionParams = TranscriptionParams(), *,
               clip_id: str = "<array>") -> pd.DataFrame:
    """Notes of a monophonic mono clip: ``onset_s``, ``duration_s`` (seconds), ``pitch_midi`` (int).

    Audio at a rate other than ``params.sample_rate`` (12 kHz) is resampled
    first. Raises :class:`TranscriptionError` naming ``clip_id`` for
    multichannel, non-numeric, non-finite or too short audio or a bad sample
    rate. A silent clip gives no notes (an empty table), not an error.
    """
    return transcribe_with_track(audio, sample_rate, params, clip_id=clip_id)[0]


# --------------------------------------------------------------------------- batch, cached


@dataclass
class TranscriptionSet:
    """What :func:`transcribe_many` returns.

    ``notes``: one row per note, columns ``clip_id, onset_s, duration_s,
    pitch_midi``; ``tracks``: clip_id -> :class:`PitchTrack`; ``beats``:
    clip_id -> (tempo in bpm, beat times in s) from :func:`beat_times`;
    ``skips``: ``clip_id, reason`` of every clip left out; ``counts``: clips,
    computed now, read from cache, skipped.
    """

    notes: pd.DataFrame
    tracks: dict
    skips: pd.DataFrame
    counts: dict = field(default_factory=dict)
    beats: dict = field(default_factory=dict)


class _ClipResult(NamedTuple):
    clip_id: str
    notes: np.ndarray | None  # (n, 3): onset_s, duration_s, pitch_midi
    track: PitchTrack | None
    reason: str | None
    beats: tuple | None = None  # (tempo_bpm, beat times)
    computed: bool = False
    cached_skip: bool = False


def _cache_root(params: TranscriptionParams) -> Path:
    return config.data_path("transcription", params.key(), "notes").parent


def _clip_paths(audio_sha: str, root: Path, params: TranscriptionParams) -> tuple[Path, Path]:
    """(result .npz, skip .json) of a clip whose file bytes hash to ``audio_sha``."""
    key = cache.content_key(audio_sha, params.key())
    return root / "notes" / f"{key}.npz", root / "skips" / f"{key}.json"


def _decode(data: bytes, clip_id: str) -> tuple[np.ndarray, int]:
    """Audio file bytes (FLAC, WAV, OGG) -> mono float32 samples and their rate."""
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as error:  # LibsndfileError is a RuntimeError
        raise TranscriptionError(clip_id, f"cannot decode audio: {error}") from None
    return samples.mean(axis=1), int(rate)


def _from_cache(clip_id: str, result_path: Path, skip_path: Path) -> _ClipResult | None:
    if result_path.exists():
        arrays = cache.read_npz(result_path)
        track = PitchTrack(arrays["times"], arrays["f0_hz"].astype(np.float64), arrays["voiced"])
        return _ClipResult(clip_id, arrays["notes"], track, None,
                           beats=(float(arrays["tempo_bpm"]), arrays["beats"].astype(np.float64)))
    if skip_path.exists():
        return _ClipResult(clip_id, None, None, json.loads(skip_path.read_text())["reason"], cached_skip=True)
    return None


def transcribe_bytes(data: bytes, clip_id: str, params: TranscriptionParams = TranscriptionParams()) -> _ClipResult:
    """One audio file's bytes -> its notes table, pitch track and beats, uncached.

    What :func:`transcribe_many` computes for each clip (and caches), so that
    ``predict`` hears a file exactly as the notebooks did. Raises
    :class:`TranscriptionError` for undecodable or unusable audio.
    """
    audio, rate = _decode(data, clip_id)
    return transcribe_samples(audio, rate, clip_id, params)


def transcribe_samples(audio: np.ndarray, rate: int, clip_id: str,
                       params: TranscriptionParams = TranscriptionParams()) -> _ClipResult:
    """:func:`transcribe_bytes` for mono samples at their own ``rate`` (as decoded from a file)."""
    notes, track = transcribe_with_track(audio, rate, params, clip_id=clip_id)
    tempo, beats = beat_times(audio, rate)
    table = notes[list(NOTE_COLUMNS)].to_numpy(dtype=np.float64).reshape(-1, 3)
    return _ClipResult(clip_id, table, track, None, computed=True, beats=(tempo, beats))


def transcribe_clip(audio: np.ndarray, rate: int, clip_id: str,
                    params: TranscriptionParams = TranscriptionParams()) -> TranscriptionSet:
    """One clip's samples as a :class:`TranscriptionSet`, by :func:`transcribe_many`'s rule (uncached):
    a clip that raises :class:`TranscriptionError` becomes a skip with its reason."""
    try:
        result = transcribe_samples(audio, rate, clip_id, params)
    except TranscriptionError as error:
        result = _ClipResult(clip_id, None, None, error.reason)
    return transcription_set([result])


def _read_clip(audio_path: str, params: TranscriptionParams, root: Path) -> tuple[bytes, Path, Path]:
    """A clip's file bytes and its cache paths (result .npz, skip .json); raises ``OSError`` if unreadable."""
    data = Path(audio_path).read_bytes()
    return (data, *_clip_paths(hashlib.sha256(data).hexdigest(), root, params))


def _cached_one(clip_id: str, audio_path: str, params: TranscriptionParams, root: Path) -> _ClipResult | None:
    """One clip's cached result, or None (not cached yet, or its file cannot be read)."""
    try:
        _, result_path, skip_path = _read_clip(audio_path, params, root)
    except OSError:
        return None
    return _from_cache(clip_id, result_path, skip_path)


def _transcribe_one(clip_id: str, audio_path: str, params: TranscriptionParams, root: Path,
                    use_cache: bool) -> _ClipResult:
    """One clip: from cache when possible, else computed and cached; errors become skips."""
    try:
        data, result_path, skip_path = _read_clip(audio_path, params, root)
    except OSError as error:  # not cached: the file may appear later
        return _ClipResult(clip_id, None, None, f"cannot read {audio_path}: {error.strerror or error}")
    if use_cache and (hit := _from_cache(clip_id, result_path, skip_path)) is not None:
        return hit
    try:
        result = transcribe_bytes(data, clip_id, params)
    except TranscriptionError as error:
        cache.write_json(skip_path, {"clip_id": clip_id, "reason": error.reason})
        return _ClipResult(clip_id, None, None, error.reason)
    except Exception as error:  # never fatal to a long run; not cached, so a rerun retries
        return _ClipResult(clip_id, None, None, f"unexpected {type(error).__name__}: {error}")
    table, track, (tempo, beats) = result.notes, result.track, result.beats
    try:  # atomic: an interrupted write leaves no entry
        cache.write_npz(result_path, notes=table, times=track.times, f0_hz=track.f0_hz.astype(np.float32),
                        voiced=track.voiced, tempo_bpm=np.float64(tempo), beats=beats)
    except OSError as error:
        return _ClipResult(clip_id, None, None, f"unexpected OSError: {error} (writing the cache)")
    return _ClipResult(clip_id, table, track, None, computed=True, beats=(tempo, beats))


@one_blas_thread
def _transcribe_chunk(chunk, params, root, use_cache) -> list[_ClipResult]:
    """A batch of clips per worker task, one BLAS/OpenMP thread each (as features do)."""
    return [_transcribe_one(clip_id, path, params, root, use_cache) for clip_id, path in chunk]


def transcribe_many(items: pd.DataFrame | Iterable[tuple[str, str]],
                    params: TranscriptionParams = TranscriptionParams(),
                    n_jobs: int | None = None, use_cache: bool = True) -> TranscriptionSet:
    """Transcribe many audio files, cached and in parallel.

    ``items``: a DataFrame with columns ``clip_id`` and ``audio_path`` (or
    ``clip_id`` as index), or (clip_id, audio_path) pairs. Each clip's notes
    and pitch track are cached in one ``.npz`` under
    ``config.data_path('transcription', params.key())``, named after the
    SHA-256 of the file bytes and the parameters, written atomically, so a
    rerun reads the cache and an interrupted run resumes. ``use_cache=False``
    recomputes and overwrites. Clips that cannot be read, decoded or
    transcribed are skipped with their reason, never fatal (a clip that
    raised :class:`TranscriptionError` is remembered as a skip; a read error is
    not). A duplicate clip_id is skipped. ``n_jobs``: worker processes
    (default ``config.n_jobs()``) for the clips not in the cache; cached clips
    are read in this process.
    """
    pairs, seen, duplicates = [], set(), []
    for clip_id, path in clip_items(items):
        if clip_id in seen:
            duplicates.append((clip_id, f"duplicate clip_id (second path {path} ignored)"))
        else:
            seen.add(clip_id)
            pairs.append((clip_id, path))
    root = _cache_root(params)
    if not (root / "params.json").exists():
        cache.write_json(root / "params.json", {"version": TRANSCRIPTION_VERSION, **asdict(params)})
    # Cached clips are read here: sending their pitch tracks back from worker processes costs more than reading them.
    cached = [_cached_one(clip_id, path, params, root) if use_cache else None for clip_id, path in pairs]
    todo = [pair for pair, hit in zip(pairs, cached) if hit is None]
    n_jobs = n_jobs or config.n_jobs()
    if n_jobs == 1 or len(todo) <= 1:
        computed = _transcribe_chunk(todo, params, root, use_cache)
    else:
        import joblib

        size = max(1, math.ceil(len(todo) / (4 * n_jobs)))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        done = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
            joblib.delayed(_transcribe_chunk)(chunk, params, root, use_cache) for chunk in chunks)
        computed = [result for chunk in done for result in chunk]
    fresh = iter(computed)
    return transcription_set([hit if hit is not None else next(fresh) for hit in cached], duplicates)


def transcription_set(results: list[_ClipResult], duplicates: list[tuple[str, str]] = ()) -> TranscriptionSet:
    """Per-clip results (of :func:`transcribe_bytes` or the cache) as one :class:`TranscriptionSet`."""
    kept = [r for r in results if r.reason is None]
    if kept:
        values = np.concatenate([np.asarray(r.notes, dtype=np.float64).reshape(-1, len(NOTE_COLUMNS)) for r in kept])
        notes = pd.DataFrame(values, columns=list(NOTE_COLUMNS)).astype({"pitch_midi": "int64"})
        notes.insert(0, "clip_id", np.repeat(np.array([r.clip_id for r in kept], dtype=object),
                                             [len(r.notes) for r in kept]))
        notes["clip_id"] = notes["clip_id"].astype(str)
    else:
        notes = empty_notes().assign(clip_id=pd.Series(dtype=object))[["clip_id", *NOTE_COLUMNS]]
    skips = [(r.clip_id, r.reason) for r in results if r.reason is not None] + list(duplicates)
    counts = {"clips": len(results) + len(duplicates), "computed": sum(r.computed for r in results),
              "from_cache": sum(r.reason is None and not r.computed for r in results),
              "skipped": len(skips), "skips_from_cache": sum(r.cached_skip for r in results)}
    return TranscriptionSet(notes=notes, tracks={r.clip_id: r.track for r in kept},
                            skips=pd.DataFrame(skips, columns=["clip_id", "reason"]), counts=counts,
                            beats={r.clip_id: r.beats for r in kept})


__all__ = [
    "NOTE_COLUMNS", "TRACKERS", "PitchTrack", "TranscriptionError", "TranscriptionParams",
    "TranscriptionSet", "beat_times", "empty_notes", "frames_to_notes", "pitch_track", "transcribe", "transcribe_bytes",
    "transcribe_clip", "transcribe_many", "transcribe_samples", "transcribe_with_track", "transcription_set",
]
