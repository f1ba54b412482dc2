"""Audio clips -> mel spectrograms and fixed-length summary vectors.

One short-time Fourier transform (STFT) per clip feeds every spectral
feature: its power feeds the mel spectrogram and chroma, its magnitude feeds
the spectral centroid, bandwidth, contrast and roll-off; the mel spectrogram
in decibels feeds the MFCCs and the onset-strength envelope, which in turn
feeds tempo, beats and onsets. A naive loop that calls each librosa feature
with ``y=`` recomputes the STFT about ten times per clip.

Decibel convention: the mel spectrogram is a POWER spectrogram
(``|STFT|**2`` through the mel filter bank), converted to decibels once with
``librosa.power_to_db(ref=1.0, top_db=80)``: an absolute scale (0 dB = power
1.0; a full-scale 440 Hz sine peaks near +26.5 dB at the defaults), floored
80 dB below each clip's loudest bin. ``ref=1.0`` keeps loudness differences
between clips and matches what ``librosa.feature.mfcc(y=...)`` and
``librosa.onset.onset_strength(y=...)`` compute internally.

Chroma is ``chroma_stft`` (from the shared power spectrum), not CQT chroma:
cheaper, and good enough for 12-tone-equal-tempered rendered folk tunes.

Threads: every public function here computes with one BLAS/OpenMP thread
(:func:`one_blas_thread`). A threaded BLAS splits its sums by thread count, so
the same clip's mel spectrogram differed in the last bits between a process
with two BLAS threads and one with one (up to 7.6e-6 dB); with one thread
everywhere, a notebook's cache, a worker process, a dask worker process and
``predict`` get the same bits. Threads of one process are another matter:
with numpy's OpenBLAS (0.3.31), once one thread has set the thread count,
a limit set from another thread is not seen there (``threadpool_info``
still reports two), so a dask worker *thread* in a process that extracted
before may compute with two BLAS threads (CI saw 2 ulp in 24 MFCC values
of one clip). Dask workers for this package run single-threaded processes
(README, "A large collection on a Dask cluster"). Parallelism comes from worker processes.

Many clips at once, cached and in parallel: :mod:`musicgeo_utils.extraction`.
"""
from __future__ import annotations

import functools
import io
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from musicgeo_utils import cache

def one_blas_thread(function):
    """Run ``function`` with BLAS and OpenMP limited to one thread (see the module docstring)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return function(*args, **kwargs)
    return wrapper


#: Bump when the feature code changes its outputs: every cache key changes.
FEATURES_VERSION = "features-1"

#: Pitch classes in chroma-row order (librosa: row 0 = C).
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: FeatureParams fields that change the mel spectrogram; the rest only change
#: the summary vector (or which clips are skipped).
MEL_FIELDS = ("sample_rate", "n_fft", "hop_length", "window", "n_mels", "fmin", "fmax", "top_db")

RHYTHM_NAMES = ("tempo_bpm", "beat_interval_cv", "pulse_salience", "onset_rate_hz")


class FeatureError(ValueError):
    """A clip cannot be turned into features; names the clip and the reason."""

    def __init__(self, clip_id: str, reason: str):
        super().__init__(f"clip {clip_id}: {reason}")
        self.clip_id = clip_id
        self.reason = reason

    def __reduce__(self):  # picklable across joblib / dask workers
        return (FeatureError, (self.clip_id, self.reason))


@dataclass(frozen=True)
class FeatureParams:
    """Every setting that changes a feature value (Music-Mapp's mel defaults).

    Frequencies in Hz, lengths in samples, levels in dB.
    """

    sample_rate: int = 12000
    n_fft: int = 512
    hop_length: int = 256
    window: str = "hann"
    n_mels: int = 96
    fmin: float = 0.0
    #: Upper mel edge in Hz; ``None`` = Nyquist (sample_rate / 2).
    fmax: float | None = None
    #: Floor of the dB mel spectrogram below its maximum, dB (``None``: no floor).
    top_db: float | None = 80.0
    n_mfcc: int = 20
    #: Frames in the delta (derivative) window of the MFCC deltas; odd, >= 3.
    delta_width: int = 9
    #: Chroma tuning offset in fractions of a bin; ``None`` = estimate per clip.
    chroma_tuning: float | None = None
    contrast_fmin: float = 200.0
    #: Octave bands of spectral contrast; fmin * 2**(bands-1) must be < Nyquist.
    n_contrast_bands: int = 5
    rolloff_percent: float = 0.85
    #: Prior centre of the beat tracker's tempo estimate, BPM.
    start_bpm: float = 120.0
    #: Percentiles (0-100) of each frame-wise feature kept in the summary.
    percentiles: tuple[float, ...] = (10.0, 50.0, 90.0)
    #: Clips whose RMS level is below this (dBFS) are rejected as silent.
    min_level_dbfs: float = -80.0
    #: FFT and hop (samples) of the finer chroma behind the tonal descriptors:
    #: 4096 samples at 12 kHz resolve 2.9 Hz, a semitone down to ~50 Hz
    #: (the shared 512-sample STFT resolves 23 Hz, a semitone only above ~400 Hz).
    tonal_n_fft: int = 4096
    tonal_hop: int = 512
    #: Tuning of the tonal chroma in fractions of a bin (0: A = 440 Hz, as rendered).
    tonal_tuning: float = 0.0
    #: Lags, in beats, of the pitch-interval profiles.
    interval_lags_beats: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    #: Meter profile: onset autocorrelation at 1/steps_per_beat-beat lags up to ``meter_beats`` beats.
    meter_steps_per_beat: int = 12
    meter_beats: int = 4

    def __post_init__(self):
        nyquist = self.sample_rate / 2
        checks = {
            "hop_length must be in 1..n_fft": 0 < self.hop_length <= self.n_fft,
            "fmin must be below fmax": self.fmin < (self.fmax or nyquist) <= nyquist,
            "delta_width must be odd and >= 3": self.delta_width >= 3 and self.delta_width % 2,
            "percentiles must lie in 0..100": all(0 <= p <= 100 for p in self.percentiles),
            "contrast bands exceed Nyquist": self.contrast_fmin * 2 ** (self.n_contrast_bands - 1) < nyquist,
            "tonal_hop must be in 1..tonal_n_fft": 0 < self.tonal_hop <= self.tonal_n_fft,
            "interval lags must be positive": all(lag > 0 for lag in self.interval_lags_beats),
            "meter_steps_per_beat and meter_beats must be >= 1": min(self.meter_steps_per_beat, self.meter_beats) >= 1,
        }
        bad = [message for message, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid FeatureParams: {'; '.join(bad)}")
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        object.__setattr__(self, "interval_lags_beats", tuple(float(b) for b in self.interval_lags_beats))

    def key(self) -> str:
        """Content key of every field and FEATURES_VERSION: names the summary cache."""
        return cache.content_key(FEATURES_VERSION, asdict(self))

    def mel_key(self) -> str:
        """Content key of the mel-relevant fields only: names the mel cache."""
        return cache.content_key(FEATURES_VERSION, "mel", {f: getattr(self, f) for f in MEL_FIELDS})

    @property
    def mel_fmax(self) -> float:
        """Upper mel edge in Hz (Nyquist when ``fmax`` is None)."""
        return float(self.fmax) if self.fmax is not None else self.sample_rate / 2


class ClipFeatures(NamedTuple):
    """Features of one clip: mel in dB (n_mels, frames) and the summary vector."""

    mel: np.ndarray
    summary: np.ndarray


# --------------------------------------------------------------------------- audio


def _validated(y: np.ndarray, params: FeatureParams, clip_id: str) -> np.ndarray:
    """Mono float32 samples, or FeatureError for NaN/inf, too short or silent clips."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise FeatureError(clip_id, f"expected mono samples (1-D), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise FeatureError(clip_id, f"{int(np.sum(~np.isfinite(y)))} NaN/inf samples")
    if y.size < params.n_fft:
        raise FeatureError(
            clip_id, f"{y.size} samples is shorter than one FFT window ({params.n_fft} samples)"
        )
    level_dbfs = 10 * math.log10(max(float(np.mean(np.square(y, dtype=np.float64))), 1e-30))
    if level_dbfs < params.min_level_dbfs:
        raise FeatureError(
            clip_id, f"silent: RMS level {level_dbfs:.1f} dBFS < {params.min_level_dbfs} dBFS"
        )
    return y


def decode_audio(data: bytes, params: FeatureParams, clip_id: str = "<bytes>") -> np.ndarray:
    """Decode audio file bytes (FLAC, WAV, OGG) to mono float32 at ``params.sample_rate`` Hz.

    Uses soundfile; resamples with librosa only when the file's rate differs.
    """
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as error:  # LibsndfileError is a RuntimeError
        raise FeatureError(clip_id, f"cannot decode audio: {error}") from None
    return mono_at_rate(samples, rate, params)


def mono_at_rate(samples: np.ndarray, rate: int, params: FeatureParams) -> np.ndarray:
    """``(frames, channels)`` float32 samples at ``rate`` -> mono float32 at ``params.sample_rate``."""
    y = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if rate != params.sample_rate:
        import librosa

        y = librosa.resample(y, orig_sr=rate, target_sr=params.sample_rate)
    return np.ascontiguousarray(y, dtype=np.float32)


def load_audio(path: str | os.PathLike, params: FeatureParams, clip_id: str | None = None) -> np.ndarray:
    """Read an audio file as mono float32 at ``params.sample_rate`` Hz (see :func:`decode_audio`)."""
    return decode_audio(Path(path).read_bytes(), params, clip_id or str(path))


# --------------------------------------------------------------------------- spectra


class _Spectra(NamedTuple):
    y: np.ndarray
    magnitude: np.ndarray  # |STFT|, (1 + n_fft/2, frames)
    power: np.ndarray  # |STFT|**2
    mel_db: np.ndarray  # (n_mels, frames), dB of mel power


@functools.lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


def _mel_db_from_power(power: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Mel filter bank on a power spectrogram, then dB once (never squared twice)."""
    import librosa

    basis = _mel_basis(params.sample_rate, params.n_fft, params.n_mels, params.fmin, params.mel_fmax)
    mel_power = basis @ power
    return librosa.power_to_db(mel_power, ref=1.0, top_db=params.top_db).astype(np.float32, copy=False)


def _spectra(y: np.ndarray, params: FeatureParams, clip_id: str) -> _Spectra:
    """Validate ``y`` and compute its one STFT and the spectra derived from it."""
    import librosa

    y = _validated(y, params, clip_id)
    stft = librosa.stft(y, n_fft=params.n_fft, hop_length=params.hop_length, window=params.window)
    magnitude = np.abs(stft)
    power = np.square(magnitude)
    return _Spectra(y, magnitude, power, _mel_db_from_power(power, params))


@one_blas_thread
def mel_spectrogram(y: np.ndarray, params: FeatureParams = FeatureParams(), *, clip_id: str = "<array>") -> np.ndarray:
    """Mel spectrogram of mono samples at ``params.sample_rate`` Hz, in dB (ref power 1.0).

    Returns float32 of shape (n_mels, 1 + len(y) // hop_length): the POWER mel
    spectrogram converted once with ``power_to_db``; frames are hop_length
    samples apart (21.3 ms at the defaults). Raises :class:`FeatureError` for
    NaN/inf, too-short or silent clips.
    """
    return _spectra(y, params, clip_id).mel_db


# --------------------------------------------------------------------------- frame features


def _mfcc_with_deltas(mel_db: np.ndarray, params: FeatureParams) -> np.ndarray:
    import librosa

    coefficients = librosa.feature.mfcc(S=mel_db, n_mfcc=params.n_mfcc)
    deltas = [librosa.feature.delta(coefficients, width=params.delta_width, order=k) for k in (1, 2)]
    return np.vstack([coefficients, *deltas]).astype(np.float32, copy=False)


@one_blas_thread
def mfcc(y: np.ndarray, params: FeatureParams = FeatureParams(), *, clip_id: str = "<array>") -> np.ndarray:
    """MFCCs of the dB mel spectrogram, stacked with their first and second deltas.

    Returns float32 (3 * n_mfcc, frames): rows 0..n_mfcc-1 are the
    coefficients, then the deltas (per frame), then the delta-deltas.
    """
    spectra = _spectra(y, params, clip_id)
    _require_frames(spectra.mel_db.shape[1], params, clip_id)
    return _mfcc_with_deltas(spectra.mel_db, params)


def _require_frames(frames: int, params: FeatureParams, clip_id: str) -> None:
    if frames < params.delta_width:
        raise FeatureError(
            clip_id, f"{frames} frames is too short for MFCC deltas (delta_width={params.delta_width})"
        )


def _spectral_shape(spectra: _Spectra, params: FeatureParams) -> dict[str, np.ndarray]:
    """Centroid, bandwidth, roll-off (Hz) and contrast (dB) from the shared magnitude."""
    import librosa

    common = dict(S=spectra.magnitude, sr=params.sample_rate, n_fft=params.n_fft)
    centroid = librosa.feature.spectral_centroid(**common)
    return {
        "spectral_centroid_hz": centroid,
        "spectral_bandwidth_hz": librosa.feature.spectral_bandwidth(**common, centroid=centroid),
        "spectral_rolloff_hz": librosa.feature.spectral_rolloff(**common, roll_percent=params.rolloff_percent),
        "spectral_contrast": librosa.feature.spectral_contrast(
            **common, fmin=params.contrast_fmin, n_bands=params.n_contrast_bands
        ),
    }


def _time_domain(y: np.ndarray, params: FeatureParams) -> dict[str, np.ndarray]:
    """Zero-crossing rate and RMS level, framed like the STFT."""
    import librosa

    framing = dict(frame_length=params.n_fft, hop_length=params.hop_length)
    return {
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y, **framing),
        "rms": librosa.feature.rms(y=y, **framing),
    }


def _frame_features(spectra: _Spectra, params: FeatureParams) -> dict[str, np.ndarray]:
    import librosa

    n = params.n_mfcc
    cepstra = _mfcc_with_deltas(spectra.mel_db, params)
    chroma = librosa.feature.chroma_stft(S=spectra.power, sr=params.sample_rate, tuning=params.chroma_tuning)
    # n_fft sets the centring shift of the envelope; librosa's default (2048) would misalign it.
    onset = librosa.onset.onset_strength(
        S=spectra.mel_db, sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length
    )
    return {
        "mfcc": cepstra[:n],
        "mfcc_delta": cepstra[n : 2 * n],
        "mfcc_delta2": cepstra[2 * n :],
        "chroma": chroma,
        **_spectral_shape(spectra, params),
        **_time_domain(spectra.y, params),
        "onset_strength": onset[np.newaxis, :],
    }


@one_blas_thread
def frame_features(y: np.ndarray, params: FeatureParams = FeatureParams(), *, clip_id: str = "<array>") -> dict[str, np.ndarray]:
    """Every frame-wise feature of a clip, all from one STFT; arrays (rows, frames).

    Keys: mfcc, mfcc_delta, mfcc_delta2, chroma (12 pitch classes, C first,
    each frame max-normalised), spectral_centroid_hz, spectral_bandwidth_hz,
    spectral_rolloff_hz, spectral_contrast (dB, n_contrast_bands + 1 rows),
    zero_crossing_rate (crossings per sample), rms (linear amplitude),
    onset_strength (1 row, mean positive dB flux across mel bands).
    """
    spectra = _spectra(y, params, clip_id)
    _require_frames(spectra.mel_db.shape[1], params, clip_id)
    return _frame_features(spectra, params)


# --------------------------------------------------------------------------- rhythm


def rhythm_descriptors(onset_envelope: np.ndarray, params: FeatureParams = FeatureParams()) -> dict[str, float]:
    """Tempo and rhythm descriptors of one clip from its onset-strength envelope.

    ``tempo_bpm``: global tempo of the dynamic-programming beat tracker (BPM);
    ``beat_interval_cv``: standard deviation / mean of inter-beat intervals
    (0 = metronomic; 0 also when fewer than 3 beats are found);
    ``pulse_salience``: mean onset strength on beats / mean onset strength
    (1 = beats no stronger than elsewhere); ``onset_rate_hz``: onsets per
    second, peaks of the envelope at least 0.07 dB above its local mean.
    """
    import librosa

    envelope = np.asarray(onset_envelope, dtype=np.float32).ravel()
    rate, hop = params.sample_rate, params.hop_length
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=envelope, sr=rate, hop_length=hop, start_bpm=params.start_bpm
    )
    # Unnormalised: peak-normalising would turn the float noise of a steady tone into onsets.
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, hop_length=hop, normalize=False)
    intervals = np.diff(beats)
    mean_strength = float(envelope.mean())
    return {
        "tempo_bpm": float(np.atleast_1d(tempo)[0]),
        "beat_interval_cv": float(intervals.std() / intervals.mean()) if intervals.size >= 2 else 0.0,
        "pulse_salience": float(envelope[beats].mean() / mean_strength) if beats.size and mean_strength > 0 else 0.0,
        "onset_rate_hz": len(onsets) / (envelope.size * hop / rate),
    }


# --------------------------------------------------------------------------- invariant descriptors
#
# The renderer draws a random instrument, tempo and transposition for every tune
# (so that models learn the music, not the rendering). Most summary statistics
# above then describe mainly the instrument. The descriptors below are built to
# ignore all three: pitch classes relative to the clip's strongest one, scale
# shape (|DFT| of the profile), intervals between pitch classes a fixed number
# of BEATS apart, and the onset envelope's autocorrelation at lags measured in
# beats (the meter), all of which survive a transposition and a tempo change.

#: Key profiles (Krumhansl & Kessler 1982 major/minor probe-tone ratings) and
#: the anhemitonic pentatonic scale, tonic first.
KEY_PROFILES = {
    "major": (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
    "minor": (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    "pentatonic": (1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0),
}


@one_blas_thread
def tonal_chroma(y: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Pitch-class energy per frame from a long-window STFT, shape (12, frames), C first.

    What ``librosa.feature.chroma_stft`` computes with
    ``n_fft=params.tonal_n_fft``, ``hop_length=params.tonal_hop``,
    ``tuning=params.tonal_tuning`` and ``norm=None`` (a silent frame stays
    zero), but with the filter bank applied in float64 by numpy's own loops:
    librosa's threaded float32 BLAS product sums in an order that depends on
    the thread count, so a worker process and its parent differed in the last
    bit. A clip shorter than one window is zero-padded to it.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < params.tonal_n_fft:
        y = np.pad(y, (0, params.tonal_n_fft - y.size))
    power = np.abs(librosa.stft(y, n_fft=params.tonal_n_fft, hop_length=params.tonal_hop)) ** 2
    return np.einsum("cf,ft->ct", _chroma_basis(params.sample_rate, params.tonal_n_fft, params.tonal_tuning),
                     power.astype(np.float64))


@functools.lru_cache(maxsize=4)
def _chroma_basis(sample_rate: int, n_fft: int, tuning: float) -> np.ndarray:
    import librosa

    return librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, tuning=tuning).astype(np.float64)


def _lag_names(params: FeatureParams) -> list[str]:
    return [f"{lag:g}beat" for lag in params.interval_lags_beats]


def invariant_names(params: FeatureParams = FeatureParams()) -> list[str]:
    """Names of :func:`invariant_descriptors`' values, in summary order."""
    names = [f"pc_rel{k:02d}" for k in range(12)]
    names += [f"pc_dft{k}" for k in range(1, 7)]
    names += [f"key_corr_{name}" for name in KEY_PROFILES] + ["pc_clarity"]
    names += [f"interval_{lag}_{k:02d}" for lag in _lag_names(params) for k in range(12)]
    steps = params.meter_steps_per_beat
    names += [f"meter_ac_{j}of{steps}" for j in range(1, steps * params.meter_beats + 1)]
    return names + ["onsets_per_beat"]


def _interval_profile(chroma: np.ndarray, lag_frames: int) -> np.ndarray:
    """Share of pitch-class pairs ``lag_frames`` apart that lie k = 0..11 semitones apart (upwards)."""
    if lag_frames >= chroma.shape[1]:
        return np.zeros(12)
    earlier, later = chroma[:, :-lag_frames], chroma[:, lag_frames:]
    # joint[p, q] = sum over t of earlier[p, t] * later[q, t]; interval k collects q = p + k (mod 12)
    # einsum's own loops, in float64: the same sums in every process (a threaded BLAS
    # float32 product differed in the last bit between a loky worker and the parent)
    joint = np.einsum("pt,qt->pq", earlier.astype(np.float64), later.astype(np.float64))
    profile = np.array([np.trace(np.roll(joint, -k, axis=1)) for k in range(12)])
    total = profile.sum()
    return profile / total if total > 0 else profile


@one_blas_thread
def invariant_descriptors(y: np.ndarray, onset_envelope: np.ndarray, tempo_bpm: float,
                          params: FeatureParams = FeatureParams()) -> dict[str, float]:
    """Transposition-, tempo- and (largely) timbre-invariant descriptors of one clip.

    Tonal (from :func:`tonal_chroma`, each frame normalised to sum 1):
    ``pc_rel00..11`` the mean pitch-class profile rotated so that its
    strongest class comes first; ``pc_dft1..6`` |DFT| of the profile
    (5 = diatonic/pentatonic, 6 = whole-tone; Quinn 2006); ``key_corr_*`` the
    best correlation over the 12 rotations with the major, minor and
    pentatonic profiles of :data:`KEY_PROFILES`; ``pc_clarity`` the mean
    largest share per frame (1 = one pitch class at a time);
    ``interval_<lag>_kk`` for every lag of ``params.interval_lags_beats``:
    the share of pitch-class pairs that many beats apart lying kk semitones
    apart (upwards, mod 12). Meter (from the onset envelope at
    ``hop_length``): ``meter_ac_jofN`` the envelope's normalised
    autocorrelation at j/N beats; ``onsets_per_beat``. The beat is
    ``60 / tempo_bpm`` s; with no tempo (0) the beat-based values are 0.
    """
    import librosa

    chroma = tonal_chroma(y, params)
    frame_total = chroma.sum(axis=0, keepdims=True)
    chroma = np.divide(chroma, frame_total, out=np.zeros_like(chroma), where=frame_total > 0)
    profile = chroma.mean(axis=1)
    profile = profile / profile.sum() if profile.sum() > 0 else np.full(12, 1 / 12)
    values = list(np.roll(profile, -int(np.argmax(profile))))
    values += list(np.abs(np.fft.fft(profile))[1:7])
    for template in KEY_PROFILES.values():
        rotations = np.stack([np.roll(np.asarray(template, dtype=float), k) for k in range(12)])
        values.append(float(np.nan_to_num(np.corrcoef(profile, rotations)[0, 1:]).max())
                      if profile.std() > 0 else 0.0)
    values.append(float(chroma.max(axis=0).mean()))

    beat_seconds = 60.0 / tempo_bpm if tempo_bpm > 0 else 0.0
    for lag in params.interval_lags_beats:
        frames = int(round(lag * beat_seconds * params.sample_rate / params.tonal_hop))
        values += list(_interval_profile(chroma, frames)) if frames >= 1 else [0.0] * 12

    envelope = np.asarray(onset_envelope, dtype=np.float64).ravel()
    autocorrelation = librosa.autocorrelate(envelope - envelope.mean())
    if autocorrelation[0] > 0:
        autocorrelation = autocorrelation / autocorrelation[0]
    beat_frames = beat_seconds * params.sample_rate / params.hop_length
    steps = params.meter_steps_per_beat
    for j in range(1, steps * params.meter_beats + 1):
        lag = int(round(j / steps * beat_frames))
        values.append(float(autocorrelation[lag]) if 0 < lag < autocorrelation.size else 0.0)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope.astype(np.float32), sr=params.sample_rate,
                                        hop_length=params.hop_length, normalize=False)
    values.append(len(onsets) / (envelope.size / beat_frames) if beat_frames > 0 else 0.0)
    return dict(zip(invariant_names(params), map(float, values)))


# --------------------------------------------------------------------------- summary


def _frame_row_labels(params: FeatureParams) -> list[tuple[str, list[str]]]:
    """(feature key, one label per row) in summary order; mirrors _frame_features."""
    coefficient = [f"mfcc{i:02d}" for i in range(params.n_mfcc)]
    return [
        ("mfcc", coefficient),
        ("mfcc_delta", [f"{c}_delta" for c in coefficient]),
        ("mfcc_delta2", [f"{c}_delta2" for c in coefficient]),
        ("chroma", [f"chroma_{p}" for p in PITCH_CLASSES]),
        ("spectral_centroid_hz", ["spectral_centroid_hz"]),
        ("spectral_bandwidth_hz", ["spectral_bandwidth_hz"]),
        ("spectral_rolloff_hz", ["spectral_rolloff_hz"]),
        ("spectral_contrast", [f"spectral_contrast_band{b}" for b in range(params.n_contrast_bands + 1)]),
        ("zero_crossing_rate", ["zero_crossing_rate"]),
        ("rms", ["rms"]),
        ("onset_strength", ["onset_strength"]),
    ]


def _stat_names(params: FeatureParams) -> list[str]:
    return ["mean", "std", *[f"p{p:g}" for p in params.percentiles]]


def summary_names(params: FeatureParams = FeatureParams()) -> list[str]:
    """Names of the summary vector's entries, in order, e.g. 'mfcc03_mean', 'chroma_A_std'."""
    stats = _stat_names(params)
    names = [f"{row}_{stat}" for _, rows in _frame_row_labels(params) for row in rows for stat in stats]
    return names + list(RHYTHM_NAMES) + invariant_names(params)


def _row_statistics(matrix: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Per row: mean, std, percentiles over frames; flattened row by row."""
    matrix = np.asarray(matrix, dtype=np.float64)
    columns = [matrix.mean(axis=1), matrix.std(axis=1)]
    columns += list(np.percentile(matrix, params.percentiles, axis=1))
    return np.stack(columns, axis=1).ravel()


def _summary_from_spectra(spectra: _Spectra, params: FeatureParams, clip_id: str) -> np.ndarray:
    _require_frames(spectra.mel_db.shape[1], params, clip_id)
    frames = _frame_features(spectra, params)
    parts = [_row_statistics(frames[key], params) for key, _ in _frame_row_labels(params)]
    rhythm = rhythm_descriptors(frames["onset_strength"], params)
    parts.append(np.array([rhythm[name] for name in RHYTHM_NAMES]))
    invariant = invariant_descriptors(spectra.y, frames["onset_strength"], rhythm["tempo_bpm"], params)
    parts.append(np.array(list(invariant.values())))
    return np.concatenate(parts).astype(np.float32)


@one_blas_thread
def extract_clip(y: np.ndarray, params: FeatureParams = FeatureParams(), *, clip_id: str = "<array>") -> ClipFeatures:
    """Mel spectrogram (dB) and summary vector of one clip from a single STFT.

    The summary is a fixed-length float32 vector named by :func:`summary_names`:
    mean, standard deviation and percentiles over frames of every frame-wise
    feature (units as in :func:`frame_features`), then tempo (BPM) and the
    other :func:`rhythm_descriptors`, then the transposition- and
    tempo-invariant :func:`invariant_descriptors`.
    """
    spectra = _spectra(y, params, clip_id)
    return ClipFeatures(spectra.mel_db, _summary_from_spectra(spectra, params, clip_id))


def load_mel(path: str | os.PathLike) -> np.ndarray:
    """Load a cached mel spectrogram (dB, (n_mels, frames) float32); pickles refused."""
    return cache.read_npy(path)


# --------------------------------------------------------------------------- analysis helpers


def chroma_entropy_bits(summary: pd.DataFrame) -> pd.Series:
    """Shannon entropy, bits, of each clip's mean chroma (pitch-class) distribution.

    Uses the ``chroma_<pitch class>_mean`` columns of a summary table,
    normalised to sum to 1: 0 bits = one pitch class only, log2(12) = 3.58
    bits = all twelve equally strong. Tonal tunes in one key sit well below
    the maximum; a clip that wanders through keys (or noise) sits near it.
    """
    p = _pitch_class_profile(summary)
    terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return pd.Series(terms.sum(axis=1), index=summary.index, name="chroma_entropy_bits")


def _pitch_class_profile(summary: pd.DataFrame) -> np.ndarray:
    """Mean chroma per clip normalised to sum to 1 (uniform for an all-zero row)."""
    columns = [f"chroma_{p}_mean" for p in PITCH_CLASSES]
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks chroma mean column(s) {missing}")
    weights = summary[columns].to_numpy(dtype=float)
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("chroma means must be finite and non-negative")
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.full_like(weights, 1 / 12), where=totals > 0)


def standardise_summary(summary: pd.DataFrame, train: np.ndarray | pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """Z-scores of a summary table with the mean and std of the ``train`` rows only.

    ``train`` is a boolean mask over the rows (fitting the scaling on all rows
    would leak the test set's statistics). Columns that are constant on the
    training rows carry no information and would divide by zero: they are
    dropped and their names returned. Raises ``ValueError`` naming the clips
    whose features are NaN or infinite, so the error surfaces here rather
    than deep inside scikit-learn. Returns ``(z-scores, dropped columns)``.
    """
    train = np.asarray(train, dtype=bool)
    if train.shape != (len(summary),) or not train.any():
        raise ValueError(f"train must be a boolean mask with {len(summary)} entries and at least one True")
    values = summary.to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} clip(s) have NaN/infinite features, e.g. "
                         f"{list(summary.index[bad][:5])}; drop or re-extract them first")
    mean, std = values[train].mean(axis=0), values[train].std(axis=0)
    keep = std > 1e-12 * np.maximum(1.0, np.abs(mean))
    z = apply_standardisation(values[:, keep], mean[keep], std[keep])
    dropped = [name for name, k in zip(summary.columns, keep) if not k]
    return pd.DataFrame(z, index=summary.index, columns=summary.columns[keep]), dropped


def apply_standardisation(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(values - mean) / std`` in float64: the one formula behind every z-score here (and ``predict``'s)."""
    return (np.asarray(values, dtype=float) - mean) / std


def standardisation(summary: pd.DataFrame, train: np.ndarray | pd.Series) -> pd.DataFrame:
    """The ``mean`` and ``std`` (float64, train rows) of each column that :func:`standardise_summary` keeps.

    Index: the kept column names, in order; what a saved model needs to scale
    a new clip exactly as its training clips were scaled.
    """
    z, _ = standardise_summary(summary, train)
    values = summary[z.columns].to_numpy(dtype=float)[np.asarray(train, dtype=bool)]
    return pd.DataFrame({"mean": values.mean(axis=0), "std": values.std(axis=0)}, index=z.columns)


def standardise_like(summary: pd.DataFrame, train: np.ndarray | pd.Series, other: pd.DataFrame) -> pd.DataFrame:
    """Z-scores of ``other``'s rows with the mean and std of ``summary``'s ``train`` rows.

    The columns kept by :func:`standardise_summary` on ``summary``, in its
    order (``other`` must hold them): new clips, e.g. other renders of the
    test tunes, are scaled exactly as the clips the models were fitted on.
    """
    missing = [c for c in summary.columns if c not in other.columns]
    if missing:
        raise ValueError(f"other lacks {len(missing)} column(s), e.g. {missing[:5]}")
    stacked = pd.concat([summary, other[summary.columns]], ignore_index=True)
    mask = np.r_[np.asarray(train, dtype=bool), np.zeros(len(other), dtype=bool)]
    z, _ = standardise_summary(stacked, mask)
    return z.iloc[len(summary):].set_axis(other.index)


def summary_families(params: FeatureParams = FeatureParams()) -> pd.DataFrame:
    """One row per summary entry: ``name``, ``family`` (mfcc, chroma, spectral ..., rhythm), ``statistic``.

    Families: ``mfcc``, ``mfcc_delta``, ``mfcc_delta2``, ``chroma``,
    ``spectral`` (centroid, bandwidth, roll-off, contrast), ``zero_crossing_rate``,
    ``rms``, ``onset_strength``, ``rhythm`` (tempo and the other
    :func:`rhythm_descriptors`), ``tonal`` and ``meter`` (the
    :func:`invariant_descriptors`); the last three have one value per clip
    (statistic ``value``).
    """
    family_of = {"spectral_centroid_hz": "spectral", "spectral_bandwidth_hz": "spectral",
                 "spectral_rolloff_hz": "spectral", "spectral_contrast": "spectral"}
    rows = [(f"{row}_{stat}", family_of.get(key, key), stat)
            for key, labels in _frame_row_labels(params) for row in labels for stat in _stat_names(params)]
    rows += [(name, "rhythm", "value") for name in RHYTHM_NAMES]
    rows += [(name, "meter" if name.startswith(("meter", "onsets")) else "tonal", "value")
             for name in invariant_names(params)]
    return pd.DataFrame(rows, columns=["name", "family", "statistic"])
