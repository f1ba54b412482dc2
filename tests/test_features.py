"""Known-answer tests of musicgeo_utils.features on synthesized signals."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import soundfile

from musicgeo_utils import config, extraction, features
from musicgeo_utils.features import FeatureError, FeatureParams

SR = 12000
PARAMS = FeatureParams()


def assert_same_features(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same clips and features to float32 rounding.

    A dask worker thread in this process may not get the one-BLAS-thread limit (see the
    features module docstring: CI once saw 2 ulp in the MFCCs of one clip), so paths are
    compared to a few ulp, never bit for bit; a wrong clip, order or parameter is far outside it.
    """
    assert list(actual.index) == list(expected.index) and list(actual.columns) == list(expected.columns)
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-5)


def tone(freq_hz: float, seconds: float = 3.0, amplitude: float = 0.3, sr: int = SR) -> np.ndarray:
    """A pure sine, float32."""
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def click_track(bpm: float, seconds: float = 12.0) -> np.ndarray:
    """Decaying 1 kHz clicks (10 ms) every 60/bpm seconds."""
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    blip = tone(1000.0, 0.01, 0.8) * np.exp(-np.linspace(0, 5, int(0.01 * SR))).astype(np.float32)
    for start in np.arange(0, seconds - 0.02, 60.0 / bpm):
        i = int(start * SR)
        y[i : i + blip.size] += blip
    return y


def note_sequence(seed: int, seconds: float = 3.0) -> np.ndarray:
    """Random melody of 0.25 s decaying notes (MIDI 60-80), seeded."""
    rng = np.random.default_rng(seed)
    note = int(0.25 * SR)
    decay = np.exp(-4 * np.arange(note) / SR)
    midi = rng.integers(60, 81, size=int(seconds / 0.25))
    return np.concatenate([tone(440 * 2 ** ((m - 69) / 12), 0.25) * decay for m in midi]).astype(np.float32)


def write_audio(path, y, sr: int = SR, subtype: str = "PCM_16"):
    soundfile.write(path, y, sr, subtype=subtype)
    return str(path)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Point the feature cache at a fresh temporary folder."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MUSICGEO_DATA", str(folder))
    monkeypatch.setattr(config, "DATA_DIR", folder)
    return folder


@pytest.fixture
def melody_items(tmp_path):
    """Three seeded 3 s note-sequence FLACs as (clip_id, path) pairs."""
    return [(f"tune{i}", write_audio(tmp_path / f"tune{i}.flac", note_sequence(i))) for i in range(3)]


def summary_dict(y, params=PARAMS) -> dict[str, float]:
    vector, names = features.extract_clip(y, params).summary, features.summary_names(params)
    return dict(zip(names, vector.tolist()))


# --------------------------------------------------------------------------- single clips


def test_mel_shape_of_a_15_s_clip():
    mel = features.mel_spectrogram(tone(440.0, 15.0))
    assert mel.dtype == np.float32
    assert mel.shape == (96, 1 + 15 * SR // 256) == (96, 704)


def test_power_to_db_applied_once_matches_direct_computation():
    import librosa
    import scipy.signal

    y = note_sequence(7)
    # Direct: zero-padded frames, periodic Hann, |rfft|^2, mel bank, 10 log10, 80 dB floor.
    padded = np.pad(y.astype(np.float64), 256)
    frames = np.lib.stride_tricks.sliding_window_view(padded, 512)[::256]
    power = np.abs(np.fft.rfft(frames * scipy.signal.get_window("hann", 512), axis=1)).T ** 2
    mel_power = librosa.filters.mel(sr=SR, n_fft=512, n_mels=96, fmin=0.0, fmax=SR / 2) @ power
    expected = 10 * np.log10(np.maximum(mel_power, 1e-10))
    expected = np.maximum(expected, expected.max() - 80.0)
    np.testing.assert_allclose(features.mel_spectrogram(y), expected, atol=2e-3)


def test_doubling_amplitude_adds_6_db_not_12():
    quiet = features.mel_spectrogram(tone(440.0, amplitude=0.1))
    loud = features.mel_spectrogram(tone(440.0, amplitude=0.2))
    assert loud.max() - quiet.max() == pytest.approx(20 * np.log10(2), abs=0.01)


@pytest.mark.parametrize("freq_hz, pitch_class", [(440.0, "A"), (261.63, "C"), (392.0, "G")])
def test_pure_tone_chroma_peak_and_centroid(freq_hz, pitch_class):
    summary = summary_dict(tone(freq_hz))
    chroma_means = {p: summary[f"chroma_{p}_mean"] for p in features.PITCH_CLASSES}
    assert max(chroma_means, key=chroma_means.get) == pitch_class
    assert summary["spectral_centroid_hz_p50"] == pytest.approx(freq_hz, rel=0.03)


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_click_track_tempo(bpm):
    summary = summary_dict(click_track(bpm))
    assert summary["tempo_bpm"] == pytest.approx(bpm, rel=0.05)
    assert summary["onset_rate_hz"] == pytest.approx(bpm / 60, rel=0.1)
    assert summary["beat_interval_cv"] < 0.05


def test_steady_tone_has_one_onset():
    assert summary_dict(tone(440.0, 10.0))["onset_rate_hz"] <= 0.1  # the attack at t = 0 only


def test_mfcc_with_deltas_of_a_steady_tone():
    coefficients = features.mfcc(tone(440.0))
    assert coefficients.shape == (60, 1 + 3 * SR // 256)
    steady = np.abs(coefficients[20:, 20:-20]).max()  # deltas away from the clip edges
    changing = np.abs(features.mfcc(note_sequence(3))[20:, 20:-20]).max()
    assert steady < 0.1 < 1.0 < changing < np.abs(coefficients[:20]).max()


def test_summary_names_are_stable_and_match_the_vector():
    vector, names = features.extract_clip(note_sequence(1)).summary, features.summary_names()
    assert vector.dtype == np.float32 and vector.shape == (len(names),)
    assert np.all(np.isfinite(vector))
    assert len(set(names)) == len(names)
    assert {"mfcc03_mean", "chroma_A_std", "spectral_contrast_band5_p90", "tempo_bpm"} <= set(names)
    assert names == features.summary_names(PARAMS)
    fewer = features.summary_names(FeatureParams(n_mfcc=13))
    assert len(names) - len(fewer) == 3 * 7 * 5  # 7 fewer coefficients, deltas, delta-deltas; 5 stats


def test_extract_clip_mel_equals_mel_spectrogram():
    y = note_sequence(2)
    clip = features.extract_clip(y)
    np.testing.assert_array_equal(clip.mel, features.mel_spectrogram(y))


@pytest.mark.parametrize(
    "samples, reason",
    [
        (np.zeros(SR, np.float32), "silent"),
        (tone(440.0, amplitude=1e-5), "silent"),  # -100 dBFS
        (tone(440.0, seconds=0.03), "shorter than one FFT window"),
        (tone(440.0, seconds=0.1), "too short for MFCC deltas"),  # 5 frames < delta width 9
        (np.r_[tone(440.0), np.float32("nan")], "NaN"),
        (np.r_[tone(440.0), np.float32("inf")], "NaN/inf"),
    ],
)
def test_bad_clips_raise_feature_error_naming_the_clip(samples, reason):
    with pytest.raises(FeatureError, match=reason) as raised:
        features.extract_clip(samples, clip_id="tune42")
    assert raised.value.clip_id == "tune42" and "tune42" in str(raised.value)


def test_params_keys_separate_mel_from_summary_settings():
    assert FeatureParams(n_mfcc=13).mel_key() == PARAMS.mel_key()
    assert FeatureParams(n_mfcc=13).key() != PARAMS.key()
    assert FeatureParams(n_mels=64).mel_key() != PARAMS.mel_key()
    with pytest.raises(ValueError, match="Nyquist"):
        FeatureParams(n_contrast_bands=6)


# --------------------------------------------------------------------------- files, and batches (extraction.py)


def test_load_audio_resamples_and_mixes_to_mono(tmp_path):
    stereo = np.stack([tone(440.0, sr=24000), tone(440.0, sr=24000)], axis=1)
    y = features.load_audio(write_audio(tmp_path / "a.flac", stereo, sr=24000), PARAMS)
    assert y.dtype == np.float32 and y.shape == (3 * SR,)
    assert summary_dict(y)["spectral_centroid_hz_p50"] == pytest.approx(440.0, rel=0.03)


def test_load_mel_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        features.load_mel(path)


def test_extract_many_counts_and_reports_skips(data_dir, tmp_path, melody_items):
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"not a flac file at all")
    bad = [
        ("silent", write_audio(tmp_path / "silent.flac", np.zeros(SR, np.float32))),
        ("short", write_audio(tmp_path / "short.flac", tone(440.0, 0.02))),
        ("nan", write_audio(tmp_path / "nan.wav", np.r_[tone(440.0), np.nan], subtype="FLOAT")),
        ("missing", str(tmp_path / "missing.flac")),
        ("corrupt", str(corrupt)),
        ("tune0", melody_items[1][1]),  # duplicate clip id
    ]
    result = extraction.extract_many(melody_items[:1] + bad, PARAMS, n_jobs=1)
    assert list(result.summary.index) == ["tune0"]
    reasons = dict(zip(result.skips["clip_id"], result.skips["reason"]))
    assert "silent" in reasons["silent"] and "FFT window" in reasons["short"]
    assert "NaN" in reasons["nan"] and "cannot read" in reasons["missing"]
    assert "cannot decode" in reasons["corrupt"] and "duplicate" in reasons["tune0"]
    assert result.counts["skipped"] == 6 and result.counts["clips"] == 7
    rerun = extraction.extract_many(melody_items[:1] + bad, PARAMS, n_jobs=1)
    assert rerun.counts["skips_from_cache"] == 4  # decodable failures are cached; missing file is not


def _mtimes(paths) -> list[int]:
    return [os.stat(path).st_mtime_ns for path in paths]


def test_cache_hit_resume_and_invalidation(data_dir, melody_items):
    first = extraction.extract_many(melody_items, PARAMS, n_jobs=1)
    assert first.counts["summary_computed"] == first.counts["mel_computed"] == 3
    mel_times = _mtimes(first.mel_paths)

    again = extraction.extract_many(melody_items, PARAMS, n_jobs=1)
    assert again.counts["from_cache"] == 3 and again.counts["summary_computed"] == 0
    assert _mtimes(again.mel_paths) == mel_times
    np.testing.assert_array_equal(again.summary.to_numpy(), first.summary.to_numpy())

    next(iter((data_dir / "features" / PARAMS.key() / "summary").glob("*.npy"))).unlink()  # interrupted
    resumed = extraction.extract_many(melody_items, PARAMS, n_jobs=1)
    assert resumed.counts["summary_computed"] == 1 and resumed.counts["mel_computed"] == 0
    np.testing.assert_array_equal(resumed.summary.to_numpy(), first.summary.to_numpy())

    summary_only = extraction.extract_many(melody_items, FeatureParams(n_mfcc=13), n_jobs=1)
    assert summary_only.counts["summary_computed"] == 3 and summary_only.counts["mel_computed"] == 0
    assert list(summary_only.mel_paths) == list(first.mel_paths) and _mtimes(first.mel_paths) == mel_times
    assert summary_only.summary.shape[1] == first.summary.shape[1] - 105

    fewer_mels = extraction.extract_many(melody_items, FeatureParams(n_mels=64), n_jobs=1)
    assert fewer_mels.counts["mel_computed"] == 3
    assert set(fewer_mels.mel_paths).isdisjoint(first.mel_paths)
    assert features.load_mel(fewer_mels.mel_paths["tune0"]).shape == (64, 1 + 3 * SR // 256)


def test_cached_mel_equals_direct_mel(data_dir, melody_items):
    items = pd.DataFrame(melody_items, columns=["clip_id", "audio_path"])
    result = extraction.extract_many(items, PARAMS, n_jobs=1)
    for clip_id, path in melody_items:
        y = soundfile.read(path, dtype="float32")[0]
        np.testing.assert_array_equal(features.load_mel(result.mel_paths[clip_id]), features.mel_spectrogram(y))
        np.testing.assert_array_equal(result.summary.loc[clip_id].to_numpy(), features.extract_clip(y).summary)


@pytest.mark.slow
def test_loky_processes_equal_sequential(data_dir, melody_items):
    sequential = extraction.extract_many(melody_items, PARAMS, n_jobs=1, use_cache=False)
    parallel = extraction.extract_many(melody_items, PARAMS, n_jobs=2, use_cache=False)
    assert parallel.counts["summary_computed"] == 3
    assert_same_features(parallel.summary, sequential.summary)


def test_dask_path_equals_joblib_path(data_dir, melody_items):
    distributed = pytest.importorskip("distributed")
    joblib_result = extraction.extract_many(melody_items, PARAMS, n_jobs=1, use_cache=False)
    # Two threads: with one core in all, joblib's dask backend runs tasks in this process instead.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            by_client = extraction.extract_many(melody_items, PARAMS, client=client, use_cache=False)
        assert len(tasks.data) >= 1  # the chunks really ran on the dask worker
        by_address = extraction.extract_many(melody_items, PARAMS, client=cluster.scheduler_address)
    for result in (by_client, by_address):
        assert result.skips.empty
        assert_same_features(result.summary, joblib_result.summary)
        assert list(result.mel_paths) == list(joblib_result.mel_paths)
    assert by_client.counts["summary_computed"] == 3 and by_address.counts["from_cache"] == 3


def test_musicgeo_dask_local_runs_on_a_local_cluster(data_dir, melody_items, monkeypatch):
    """MUSICGEO_DASK=local: every extraction without a client goes to a LocalCluster, same features."""
    pytest.importorskip("distributed")
    joblib_result = extraction.extract_many(melody_items, PARAMS, n_jobs=1, use_cache=False)
    monkeypatch.setenv("MUSICGEO_DASK", "local")
    monkeypatch.setenv("MUSICGEO_JOBS", "1")
    started = []
    real = extraction._run_parallel

    def spy(chunks, params, layout, use_cache, n_jobs, client):
        started.append(client if isinstance(client, str) else type(client).__name__)
        return real(chunks, params, layout, use_cache, n_jobs, client)

    monkeypatch.setattr(extraction, "_run_parallel", spy)
    on_cluster = extraction.extract_many(melody_items, PARAMS, use_cache=False)
    assert started == ["local", "Client"]  # the string, then the cluster's client it started
    assert_same_features(on_cluster.summary, joblib_result.summary)
