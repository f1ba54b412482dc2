"""Audio -> note events (onset, duration, MIDI pitch): a melody front end.

A frame-level pitch tracker from librosa turns a mono clip into a pitch track
(one frame every ``hop_length`` samples, 10 ms at 12 kHz), and a fixed rule
turns the frames into notes. Two trackers are offered:

``yin`` (default)
    ``librosa.yin`` (de Cheveigne and Kawahara, 2002). It gives a pitch for
    every frame and no voicing decision, so the voicing is the rule below
    (level and pitch stability). About 160-200x real time per core at 12 kHz,
    the frames -> notes rule and onset detection included.
``pyin``
    ``librosa.pyin`` (Mauch and Dixon, 2014), with its HMM on a one-semitone
    pitch grid (``resolution=1``: notes are rounded to semitones anyway, and the
    default 0.1-semitone grid is ~15x slower). Its voiced probability replaces
    the stability test. About 20-26x real time per core, too slow for the
    small profile's budget (about 14 minutes on two cores against 2).

The neural trackers ``pesto-pitch`` and ``torchcrepe`` were considered and
could not run here: both import ``torchaudio`` at module level, and no
``torchaudio`` on PyPI loads with torch 2.13 (its newest wheel, 2.11.1, is a CUDA build
for torch 2.11 whose extension fails to load; ``benchmarks/bench_transcription.py``
prints what each import says).

Frames -> notes (the rule, in order; every number is a field of
:class:`TranscriptionParams`, defaults in brackets; tuned on in-domain renders only):

1. Pitch: each frame's f0 in Hz becomes a MIDI number ``69 + 12 log2(f0 / 440)``.
   yin picks the first dip of its difference function under
   ``trough_threshold`` [0.2] (higher than librosa's 0.1: fewer octave-down errors).
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
5. Octave slips: a segment of at most ``slip_s`` [0.12 s] that ends where the
   next segment starts, 12 or 24 semitones away from it, is given to that next
   segment (the tracker slips an octave in the attack of a note).
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
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from musicgeo_utils import cache, config
from musicgeo_utils.extraction import clip_items
from musicgeo_utils.features import one_blas_thread

#: Bump when the transcription code changes its outputs: every cache key changes.
TRANSCRIPTION_VERSION = "transcription-1"
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
    trough_threshold: float = 0.2
    level_db: float = 40.0
    silence_dbfs: float = -70.0
    stability_cents: float = 35.0
    voiced_probability: float = 0.3
    median_frames: int = 5
    onset_delta: float = 0.25
    snap_s: float = 0.06
    gap_s: float = 0.15
    slip_s: float = 0.12
    min_note_s: float = 0.07

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


def _merge_octave_slips(segments: list[tuple[int, int, int]], max_frames: int) -> list[list[int]]:
    """Give a short segment one or two octaves off the segment right after it to that segment.

    The tracker's octave slips sit in the attack of a note, just before it.
    """
    merged: list[list] = []
    for i, (start, end, pitch) in enumerate(segments):
        if merged and merged[-1][3]:  # the previous segment was a slip into this one
            start = merged.pop()[0]
        following = segments[i + 1] if i + 1 < len(segments) else None
        slip = (following is not None and end - start <= max_frames and following[0] == end
                and abs(following[2] - pitch) in (12, 24))
        merged.append([start, end, pitch, slip])
    return [item[:3] for item in merged]


def frames_to_notes(track: PitchTrack, onset_frames: np.ndarray,
                    params: TranscriptionParams = TranscriptionParams()) -> pd.DataFrame:
    """Notes from a pitch track and onset frames (rule steps 3-8 of the module docstring).

    ``onset_frames``: frame indices of onset peaks (the same frames as the track).
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
    segments = _merge_octave_slips(_segments(semitones), int(round(params.slip_s / frame_s)))
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
    if not notes:
        return empty_notes()
    table = np.asarray(notes, dtype=np.int64)
    return pd.DataFrame({"onset_s": table[:, 0] * frame_s,
                         "duration_s": (table[:, 1] - table[:, 0]) * frame_s,
                         "pitch_midi": table[:, 2]})


def transcribe_with_track(audio, sample_rate: int, params: TranscriptionParams = TranscriptionParams(),
                          *, clip_id: str = "<array>") -> tuple[pd.DataFrame, PitchTrack]:
    """:func:`transcribe` and the frame-level pitch track the notes were made from."""
    y = _prepared(audio, sample_rate, params, clip_id)
    track = _track(y, params)
    return frames_to_notes(track, _onset_frames(y, params), params), track


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
    pitch_midi``; ``tracks``: clip_id -> :class:`PitchTrack`; ``skips``:
    ``clip_id, reason`` of every clip left out; ``counts``: clips, computed
    now, read from cache, skipped.
    """

    notes: pd.DataFrame
    tracks: dict
    skips: pd.DataFrame
    counts: dict = field(default_factory=dict)


class _ClipResult(NamedTuple):
    clip_id: str
    notes: np.ndarray | None  # (n, 3): onset_s, duration_s, pitch_midi
    track: PitchTrack | None
    reason: str | None
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
        return _ClipResult(clip_id, arrays["notes"], track, None)
    if skip_path.exists():
        return _ClipResult(clip_id, None, None, json.loads(skip_path.read_text())["reason"], cached_skip=True)
    return None


def _transcribe_one(clip_id: str, audio_path: str, params: TranscriptionParams, root: Path,
                    use_cache: bool) -> _ClipResult:
    """One clip: from cache when possible, else computed and cached; errors become skips."""
    try:
        data = Path(audio_path).read_bytes()
    except OSError as error:  # not cached: the file may appear later
        return _ClipResult(clip_id, None, None, f"cannot read {audio_path}: {error.strerror or error}")
    result_path, skip_path = _clip_paths(hashlib.sha256(data).hexdigest(), root, params)
    if use_cache and (hit := _from_cache(clip_id, result_path, skip_path)) is not None:
        return hit
    try:
        audio, rate = _decode(data, clip_id)
        notes, track = transcribe_with_track(audio, rate, params, clip_id=clip_id)
    except TranscriptionError as error:
        cache.write_json(skip_path, {"clip_id": clip_id, "reason": error.reason})
        return _ClipResult(clip_id, None, None, error.reason)
    except Exception as error:  # never fatal to a long run; not cached, so a rerun retries
        return _ClipResult(clip_id, None, None, f"unexpected {type(error).__name__}: {error}")
    table = notes[list(NOTE_COLUMNS)].to_numpy(dtype=np.float64).reshape(-1, 3)
    try:  # atomic: an interrupted write leaves no entry
        cache.write_npz(result_path, notes=table, times=track.times,
                        f0_hz=track.f0_hz.astype(np.float32), voiced=track.voiced)
    except OSError as error:
        return _ClipResult(clip_id, None, None, f"unexpected OSError: {error} (writing the cache)")
    return _ClipResult(clip_id, table, track, None, computed=True)


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
    (default ``config.n_jobs()``).
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
    n_jobs = n_jobs or config.n_jobs()
    if n_jobs == 1 or len(pairs) <= 1:
        results = _transcribe_chunk(pairs, params, root, use_cache)
    else:
        import joblib

        size = max(1, math.ceil(len(pairs) / (4 * n_jobs)))
        chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
        done = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
            joblib.delayed(_transcribe_chunk)(chunk, params, root, use_cache) for chunk in chunks)
        results = [result for chunk in done for result in chunk]
    kept = [r for r in results if r.reason is None]
    frames = [pd.DataFrame(r.notes, columns=list(NOTE_COLUMNS)).assign(clip_id=r.clip_id) for r in kept]
    notes = (pd.concat(frames, ignore_index=True) if frames
             else empty_notes().assign(clip_id=pd.Series(dtype=object)))
    notes = notes[["clip_id", *NOTE_COLUMNS]].astype({"pitch_midi": "int64"})
    skips = [(r.clip_id, r.reason) for r in results if r.reason is not None] + duplicates
    counts = {"clips": len(results) + len(duplicates), "computed": sum(r.computed for r in results),
              "from_cache": sum(r.reason is None and not r.computed for r in results),
              "skipped": len(skips), "skips_from_cache": sum(r.cached_skip for r in results)}
    return TranscriptionSet(notes=notes, tracks={r.clip_id: r.track for r in kept},
                            skips=pd.DataFrame(skips, columns=["clip_id", "reason"]), counts=counts)


# --------------------------------------------------------------------------- true notes


def reference_notes(clips: pd.DataFrame, notes: pd.DataFrame, params=None) -> pd.DataFrame:
    """The notes sounding in each rendered clip, from the renderer itself.

    ``clips``: one row per clip with ``tune_id, program, qpm, transpose`` (as
    :func:`render.draw_augmentation` or :func:`render.render_many` return),
    optionally ``clip_id`` (default: the tune id); ``notes``: the corpus notes
    table; ``params``: the :class:`render.RenderParams` the clips were
    rendered with. Returns ``clip_id, onset_s, offset_s, pitch_midi, program``
    (see :func:`render.clip_notes`). A tune the renderer refuses is left out.
    """
    from musicgeo_utils import render

    params = params or render.RenderParams()
    by_tune = {str(t): group for t, group in notes.groupby("tune_id", sort=False)}
    frames = []
    for row in clips.itertuples(index=False):
        tune = by_tune.get(str(row.tune_id), notes.iloc[:0])
        try:
            table = render.clip_notes(tune, row.program, row.qpm, row.transpose, params,
                                      tune_id=str(row.tune_id))
        except render.RenderError:
            continue
        frames.append(table.assign(clip_id=str(getattr(row, "clip_id", row.tune_id))))
    columns = ["clip_id", "onset_s", "offset_s", "pitch_midi", "program"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "clip_id" else "float64") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


# --------------------------------------------------------------------------- scoring

#: mir_eval's note tolerances used throughout: onsets within 50 ms, pitch within 50 cents.
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
#: mir_eval's default offset rule for the offset-aware score: within 20% of the
#: reference note's duration or 50 ms, whichever is larger.
OFFSET_RATIO = 0.2
#: Tempo bands (quarter notes per minute) for :func:`score_many`; the render default is 80-140.
TEMPO_EDGES = (80.0, 100.0, 120.0, 140.0)


def _midi_to_hz(midi) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def note_intervals(notes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(intervals in s, shape (n, 2); pitches in Hz) of a notes table with ``onset_s``,
    ``pitch_midi`` and ``offset_s`` (as :func:`render.clip_notes`) or ``duration_s``."""
    onsets = notes["onset_s"].to_numpy(float)
    offsets = (notes["offset_s"].to_numpy(float) if "offset_s" in notes
               else onsets + notes["duration_s"].to_numpy(float))
    return np.stack([onsets, offsets], axis=1).reshape(-1, 2), _midi_to_hz(notes["pitch_midi"])


def notes_to_frames(notes: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """f0 in Hz at each time (0 where no note sounds; the highest where notes overlap)."""
    intervals, pitches = note_intervals(notes)
    f0 = np.zeros(len(times))
    for index in np.argsort(pitches, kind="stable"):
        start, end = intervals[index]
        f0[(times >= start) & (times < end)] = pitches[index]
    return f0


def score_clip(reference: pd.DataFrame, estimate: pd.DataFrame,
               track: PitchTrack | None = None) -> dict:
    """mir_eval scores of one clip's transcription against its true notes.

    ``precision, recall, f1``: a note matches on onset (within 50 ms) and
    pitch (within 50 cents), offsets ignored (``offset_ratio=None``);
    ``*_offset``: the same and the offset within 20% of the true note's
    duration or 50 ms; ``raw_pitch_accuracy``: mir_eval.melody's share of
    truly voiced frames (a true note sounding, note-on to note-off) whose
    tracked pitch is within 50 cents, on the track's frame times (NaN without
    a ``track``). Also the counts for pooling: ``n_ref, n_est, n_match,
    n_match_offset, n_voiced_frames, n_pitch_frames``. An empty reference or
    estimate scores 0 where mir_eval would divide by zero.
    """
    import mir_eval

    ref_intervals, ref_pitches = note_intervals(reference)
    est_intervals, est_pitches = note_intervals(estimate)
    n_ref, n_est = len(ref_intervals), len(est_intervals)
    scores: dict = {"n_ref": n_ref, "n_est": n_est}
    for suffix, offset_ratio in (("", None), ("_offset", OFFSET_RATIO)):
        matched = 0
        if n_ref and n_est:
            matched = len(mir_eval.transcription.match_notes(
                ref_intervals, ref_pitches, est_intervals, est_pitches,
                onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS,
                offset_ratio=offset_ratio))
        scores[f"n_match{suffix}"] = matched
        scores.update(_prf(matched, n_ref, n_est, suffix))
    scores.update(raw_pitch_accuracy=float("nan"), n_voiced_frames=0, n_pitch_frames=0)
    if track is not None and len(track.times):
        ref_f0 = notes_to_frames(reference, np.asarray(track.times))
        ref_v, ref_c, est_v, est_c = mir_eval.melody.to_cent_voicing(
            np.asarray(track.times), ref_f0, np.asarray(track.times),
            np.where(track.voiced, track.f0_hz, 0.0))
        voiced = int(np.sum(ref_v > 0))
        if voiced:
            rpa = float(mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c,
                                                           cent_tolerance=PITCH_TOLERANCE_CENTS))
            scores.update(raw_pitch_accuracy=rpa, n_voiced_frames=voiced,
                          n_pitch_frames=int(round(rpa * voiced)))
    return scores


def _prf(matched: int, n_ref: int, n_est: int, suffix: str = "") -> dict:
    precision = matched / n_est if n_est else 0.0
    recall = matched / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"precision{suffix}": precision, f"recall{suffix}": recall, f"f1{suffix}": f1}


def instrument_family(program: int) -> str:
    """General MIDI family of a 0-based program (pretty_midi's names: 'Piano', 'Reed', ...)."""
    import pretty_midi

    return pretty_midi.program_to_instrument_class(int(program))


def tempo_band(qpm, edges: Sequence[float] = TEMPO_EDGES) -> pd.Series:
    """Tempo bands like ``'100-120 qpm'`` (lower end included); outside the edges ``'<80 qpm'``, ``'>=140 qpm'``."""
    qpm = pd.Series(np.asarray(qpm, dtype=float))
    edges = [float(e) for e in edges]
    labels = ([f"<{edges[0]:g} qpm"] + [f"{a:g}-{b:g} qpm" for a, b in zip(edges[:-1], edges[1:])]
              + [f">={edges[-1]:g} qpm"])
    bins = [-np.inf, *edges, np.inf]
    return pd.cut(qpm, bins=bins, labels=labels, right=False).astype(str)


def score_many(references: pd.DataFrame, estimates: pd.DataFrame, tracks: dict | None = None,
               clips: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`score_clip` for every clip of ``references``, one row each.

    ``references``: true notes of many clips (``clip_id, onset_s, offset_s,
    pitch_midi``, as :func:`reference_notes` returns); ``estimates``:
    transcribed notes (``clip_id, onset_s, duration_s, pitch_midi``, as
    :attr:`TranscriptionSet.notes`); a clip with no estimated notes scores
    zero recall (drop skipped clips first if they should not count).
    ``tracks``: clip_id -> PitchTrack for the raw pitch accuracy. ``clips``:
    optional ``clip_id, program, qpm`` per clip, adding ``family`` and
    ``tempo`` (see :func:`instrument_family`, :func:`tempo_band`).
    """
    estimated = {str(k): g for k, g in estimates.groupby("clip_id", sort=False)}
    empty = empty_notes()
    rows = []
    for clip_id, reference in references.groupby("clip_id", sort=False):
        clip_id = str(clip_id)
        scores = score_clip(reference, estimated.get(clip_id, empty), (tracks or {}).get(clip_id))
        rows.append({"clip_id": clip_id, **scores})
    table = pd.DataFrame(rows)
    if clips is not None and len(table):
        info = clips.assign(clip_id=clips["clip_id"].astype(str))[["clip_id", "program", "qpm"]]
        table = table.merge(info, on="clip_id", how="left")
        table["family"] = [instrument_family(p) if pd.notna(p) else "unknown" for p in table["program"]]
        table["tempo"] = tempo_band(table["qpm"]).to_numpy()
    return table


def summarize_scores(scores: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Pooled scores, overall or per group (e.g. ``by='family'`` or ``'tempo'``).

    Pooled = from the summed counts (all notes of the group together), so
    long clips weigh more; ``f1_clip_mean`` is the plain mean of per-clip F1
    beside it. Columns: ``clips, n_ref, n_est, precision, recall, f1,
    precision_offset, recall_offset, f1_offset, raw_pitch_accuracy, f1_clip_mean``.
    """
    def pooled(group: pd.DataFrame) -> pd.Series:
        n_ref, n_est = int(group["n_ref"].sum()), int(group["n_est"].sum())
        row = {"clips": len(group), "n_ref": n_ref, "n_est": n_est,
               **_prf(int(group["n_match"].sum()), n_ref, n_est),
               **_prf(int(group["n_match_offset"].sum()), n_ref, n_est, "_offset")}
        voiced = int(group["n_voiced_frames"].sum())
        row["raw_pitch_accuracy"] = group["n_pitch_frames"].sum() / voiced if voiced else float("nan")
        row["f1_clip_mean"] = float(group["f1"].mean())
        return pd.Series(row)

    if by is None:
        return pooled(scores).to_frame("all").T
    return pd.DataFrame({key: pooled(group) for key, group in scores.groupby(by, sort=True)}).T


# --------------------------------------------------------------------------- figure


def piano_roll_figure(reference: pd.DataFrame, estimate: pd.DataFrame, track: PitchTrack | None = None,
                      title: str = "", seconds: float | None = None):
    """True and transcribed piano rolls of one clip, one above the other (matplotlib Figure).

    Top: the true notes. Bottom: the transcribed notes, green where they
    match a true note (onset within 50 ms, pitch within 50 cents), red where
    not, over the tracked pitch of voiced frames (grey dots) when ``track`` is
    given. Time in seconds (the first ``seconds`` only, if given), pitch in MIDI numbers.
    """
    import matplotlib.pyplot as plt
    import mir_eval

    ref_intervals, ref_pitches = note_intervals(reference)
    est_intervals, est_pitches = note_intervals(estimate)
    matched = set()
    if len(ref_intervals) and len(est_intervals):
        matched = {j for _, j in mir_eval.transcription.match_notes(
            ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE_S,
            pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, sharey=True)
    top.barh(reference["pitch_midi"], ref_intervals[:, 1] - ref_intervals[:, 0], left=ref_intervals[:, 0],
             height=0.8, color="#1f77b4")
    top.set_title(f"{title} true notes ({len(ref_intervals)})".strip(), fontsize=9)
    colors = ["#2ca02c" if j in matched else "#d62728" for j in range(len(est_intervals))]
    if track is not None:
        voiced = np.asarray(track.voiced, bool) & (np.asarray(track.f0_hz) > 0)
        bottom.plot(np.asarray(track.times)[voiced], 69 + 12 * np.log2(np.asarray(track.f0_hz)[voiced] / 440.0),
                    ".", color="#999999", markersize=1.5, label="tracked pitch (voiced frames)")
    bottom.barh(estimate["pitch_midi"], est_intervals[:, 1] - est_intervals[:, 0], left=est_intervals[:, 0],
                height=0.8, color=colors, alpha=0.8)
    bottom.set_title(f"transcribed ({len(est_intervals)} notes, {len(matched)} matched: green; "
                     f"unmatched: red)", fontsize=9)
    for ax in (top, bottom):
        ax.set_ylabel("MIDI pitch")
        ax.grid(axis="y", linewidth=0.3)
    bottom.set_xlabel("time (s)")
    if seconds is not None:
        bottom.set_xlim(0, seconds)
    fig.tight_layout()
    return fig


__all__ = [
    "NOTE_COLUMNS", "TRACKERS", "PitchTrack", "TranscriptionError", "TranscriptionParams",
    "TranscriptionSet", "empty_notes", "frames_to_notes", "instrument_family", "note_intervals",
    "notes_to_frames", "piano_roll_figure", "pitch_track", "reference_notes", "score_clip", "score_many",
    "summarize_scores", "tempo_band", "transcribe", "transcribe_many", "transcribe_with_track",
]
