"""Benchmark: extraction.extract_many against the per-clip librosa loop a student writes.

Writes N seeded note-sequence clips as FLAC files in a temporary folder, then
times (a) a plain single-process loop that calls librosa.load and every
feature with ``y=`` (each recomputing its own STFT) and (b)
``extraction.extract_many(n_jobs=J, use_cache=False)``. Checks that the shared
features agree, and prints clips/s, the ratio and peak memory, measured in
one run. Both sides are warmed up on one clip first (numba JIT, loky worker
start-up); the cold first extract_many call is reported separately.
With ``--dask`` it also runs (d) the same extraction on a dask
``LocalCluster`` of J single-threaded worker processes (the backend a real
cluster uses: README, "A large collection on a Dask cluster") and checks that
its summaries are bit-identical to (b)'s.

    python benchmarks/bench_features.py --n 48 --clip-seconds 15 --jobs 2 [--dask]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def note_sequence(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random melody of decaying harmonic notes (MIDI 55-84, 0.1-0.5 s each), float32."""
    y = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    start = 0
    while start < y.size:
        length = min(int(rng.uniform(0.1, 0.5) * sample_rate), y.size - start)
        t = np.arange(length) / sample_rate
        f0 = 440.0 * 2 ** ((rng.integers(55, 85) - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3) if k * f0 < sample_rate / 2)
        y[start : start + length] = 0.3 * tone * np.exp(-3.0 * t)
        start += length
    return y


def write_clips(folder: Path, n: int, seconds: float, sample_rate: int, seed: int) -> list[tuple[str, str]]:
    """N FLAC clips (16-bit, mono) in ``folder``; returns (clip_id, path) pairs."""
    import soundfile

    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        path = folder / f"clip{i:03d}.flac"
        soundfile.write(path, note_sequence(seconds, sample_rate, rng), sample_rate, subtype="PCM_16")
        items.append((f"clip{i:03d}", str(path)))
    return items


def naive_features(path: str, p) -> dict[str, np.ndarray]:
    """The per-clip loop: librosa.load, then each feature from ``y`` with its own STFT."""
    import librosa

    y, sr = librosa.load(path, sr=p.sample_rate)
    spec = dict(sr=sr, n_fft=p.n_fft, hop_length=p.hop_length)
    mel_args = dict(spec, n_mels=p.n_mels, fmin=p.fmin, fmax=p.mel_fmax)
    mfcc = librosa.feature.mfcc(y=y, n_mfcc=p.n_mfcc, **mel_args)
    out = {
        "mel": librosa.power_to_db(librosa.feature.melspectrogram(y=y, power=2.0, **mel_args)),
        "mfcc": mfcc,
        "mfcc_delta": librosa.feature.delta(mfcc),
        "mfcc_delta2": librosa.feature.delta(mfcc, order=2),
        "chroma": librosa.feature.chroma_stft(y=y, **spec),
        "spectral_centroid_hz": librosa.feature.spectral_centroid(y=y, **spec),
        "spectral_bandwidth_hz": librosa.feature.spectral_bandwidth(y=y, **spec),
        "spectral_contrast": librosa.feature.spectral_contrast(y=y, fmin=p.contrast_fmin, n_bands=p.n_contrast_bands, **spec),
        "spectral_rolloff_hz": librosa.feature.spectral_rolloff(y=y, **spec),
        "rms": librosa.feature.rms(y=y, frame_length=p.n_fft, hop_length=p.hop_length),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y, frame_length=p.n_fft, hop_length=p.hop_length),
        "onset_strength": librosa.onset.onset_strength(y=y, **mel_args)[np.newaxis],
        "tempo": librosa.feature.tempo(y=y, sr=sr, hop_length=p.hop_length),
        "beats": librosa.beat.beat_track(y=y, sr=sr, hop_length=p.hop_length)[1],
        "onsets": librosa.onset.onset_detect(y=y, sr=sr, hop_length=p.hop_length),
        # the long-window chroma behind the transposition-invariant descriptors
        "tonal_chroma": librosa.feature.chroma_stft(y=y, sr=sr, n_fft=p.tonal_n_fft, hop_length=p.tonal_hop,
                                                    tuning=p.tonal_tuning, norm=None),
    }
    # The student's summary: mean and std of every frame-wise feature.
    out["summary"] = np.concatenate([np.r_[v.mean(axis=1), v.std(axis=1)] for v in out.values() if v.ndim == 2])
    return out


def max_rss_mib(who: int) -> float:
    """Peak resident memory in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def worker_peak_rss_mib(n_jobs: int) -> float:
    """Peak RSS of the (reused) loky workers, asked of the workers themselves."""
    import joblib

    peaks = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
        joblib.delayed(max_rss_mib)(resource.RUSAGE_SELF) for _ in range(4 * n_jobs)
    )
    return max(peaks)


def warm_workers(n_jobs: int) -> None:
    """Run one clip's features on every loky worker (imports, numba JIT), untimed."""
    import joblib

    from musicgeo_utils import features

    y = note_sequence(2.0, 12000, np.random.default_rng(0))
    joblib.Parallel(n_jobs=n_jobs, backend="loky")(
        joblib.delayed(features.extract_clip)(y) for _ in range(4 * n_jobs)
    )


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def compare(items, naive: list[dict], feature_set, params) -> None:
    """Print the largest disagreement of each shared feature between the two paths."""
    from musicgeo_utils import features

    mel_diff = max(
        float(np.max(np.abs(features.load_mel(feature_set.mel_paths[clip_id]) - ref["mel"])))
        for (clip_id, _), ref in zip(items, naive)
    )
    print(f"  mel (cached .npy vs naive): max |diff| = {mel_diff:.2e} dB")
    assert mel_diff < 1e-3, "mel spectrograms differ"
    for (clip_id, path), ref in list(zip(items, naive))[:8]:
        ours = features.frame_features(features.load_audio(path, params), params, clip_id=clip_id)
        for key, value in ours.items():
            scale = max(1.0, float(np.max(np.abs(ref[key]))))
            np.testing.assert_allclose(value, ref[key], atol=1e-3 * scale, rtol=1e-3, err_msg=key)
        tonal = features.tonal_chroma(features.load_audio(path, params), params)
        np.testing.assert_allclose(tonal, ref["tonal_chroma"], atol=1e-3 * float(np.max(ref["tonal_chroma"])), rtol=1e-3)
    print(f"  mfcc(+deltas), chroma, tonal chroma, centroid, bandwidth, contrast, rolloff, rms, zcr, onset strength:"
          f" equal within 1e-3 (relative) on the first {min(8, len(items))} clips")
    tempo_ours = feature_set.summary["tempo_bpm"].to_numpy()
    tempo_naive = np.array([float(np.atleast_1d(ref["tempo"])[0]) for ref in naive])
    same = np.isclose(tempo_ours, tempo_naive, rtol=0.01)
    print(f"  tempo equal (1%) on {same.sum()}/{len(same)} clips (naive tempo uses librosa's"
          f" default onset mel, n_fft 2048 / 128 mels, ours the shared 512 / {params.n_mels} mel)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=48, help="number of clips")
    parser.add_argument("--clip-seconds", type=float, default=15.0, help="clip length, seconds")
    parser.add_argument("--jobs", type=int, default=2, help="extract_many worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dask", action="store_true", help="also run on a dask LocalCluster of --jobs workers")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        os.environ["MUSICGEO_DATA"] = str(Path(tmp) / "data")  # cache goes to the temp dir
        from musicgeo_utils import config, extraction, features

        config.DATA_DIR = Path(tmp) / "data"
        params = features.FeatureParams()
        audio = Path(tmp) / "audio"
        audio.mkdir()
        items = write_clips(audio, args.n, args.clip_seconds, params.sample_rate, args.seed)
        print(f"{args.n} clips of {args.clip_seconds:g} s at {params.sample_rate} Hz (FLAC), "
              f"{os.cpu_count()} CPU cores visible")

        naive_features(items[0][1], params)  # numba JIT and librosa caches, not timed
        naive, naive_s = timed(lambda: [naive_features(path, params) for _, path in items])
        # Cold workers pay imports and numba JIT (~10 s each here) once; warm them all.
        _, cold_s = timed(lambda: warm_workers(args.jobs))
        ours, ours_s = timed(lambda: extraction.extract_many(items, params, n_jobs=args.jobs, use_cache=False))
        _, single_s = timed(lambda: extraction.extract_many(items, params, n_jobs=1, use_cache=False))
        assert ours.skips.empty, ours.skips

        print(f"(a) naive librosa loop, 1 process : {naive_s:6.2f} s  {args.n / naive_s:6.2f} clips/s")
        print(f"(b) extract_many n_jobs={args.jobs}, no cache: {ours_s:6.2f} s  {args.n / ours_s:6.2f} clips/s"
              f"  (warming cold workers first took {cold_s:.2f} s)")
        print(f"(b1) same, n_jobs=1 (one STFT per clip, no parallelism): {single_s:6.2f} s"
              f"  {args.n / single_s:6.2f} clips/s")
        print(f"speed-up (b)/(a): {naive_s / ours_s:.2f}x   (b1)/(a), shared STFT alone: {naive_s / single_s:.2f}x")
        print(f"peak RSS: this process {max_rss_mib(resource.RUSAGE_SELF):.0f} MiB, "
              f"largest loky worker {worker_peak_rss_mib(args.jobs):.0f} MiB")
        _, cached_s = timed(lambda: extraction.extract_many(items, params, n_jobs=args.jobs))
        print(f"(c) rerun from cache: {cached_s:.2f} s  {args.n / cached_s:.1f} clips/s")
        print("agreement:")
        compare(items, naive, ours, params)
        if args.dask:
            on_cluster(items, params, args.jobs, ours, ours_s)


def on_cluster(items, params, n_workers: int, local, local_s: float) -> None:
    """(d) extract_many on a dask LocalCluster: time against joblib's, bit-identical summaries."""
    from distributed import Client, LocalCluster

    from musicgeo_utils import extraction

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        _, warm_s = timed(lambda: extraction.extract_many(items[:n_workers], params, client=client, use_cache=False))
        on_dask, dask_s = timed(lambda: extraction.extract_many(items, params, client=client, use_cache=False))
    same = on_dask.summary.equals(local.summary) and on_dask.skips.empty
    print(f"(d) extract_many on a dask LocalCluster ({n_workers} workers x 1 thread), no cache: {dask_s:6.2f} s  "
          f"{len(items) / dask_s:6.2f} clips/s  (warming the workers first took {warm_s:.2f} s)")
    print(f"(d)/(b) time ratio: {dask_s / local_s:.2f}; summaries bit-identical to (b): {same}")
    assert same, "the dask cluster's summaries differ from joblib's"


if __name__ == "__main__":
    sys.exit(main())
