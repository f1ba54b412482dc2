"""Compile and cache the numba kernels of librosa and UMAP that the project runs, before any test or notebook does.

librosa and pynndescent (UMAP's neighbour search) keep the machine code of their
numba functions in the environment (``cache=True``, files under their ``__pycache__``). On a fresh environment the
first processes to call them compile and write those files; when several do so at
once (pytest-xdist's workers, the joblib workers of notebooks 01-02), one can load a
cache file another is still writing. A fresh clone's unit tests once died that way,
most likely: a segmentation fault inside librosa's beat tracker in one xdist worker
while both wrote the cache. ``make env`` runs this script once after installing, so
every later process finds the cache complete. Run it under ``make`` (or with the
Makefile's ``NUMBA_CPU_NAME``): numba keys its cache by the CPU it compiles for.

The two sets of kernels live in different packages' folders (librosa's, and
pynndescent's and UMAP's), so two processes compile them side by side without
writing the same file: about 25 s on two cores where one process took about 40.

    python tools/warm_numba_cache.py
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor


def librosa_kernels() -> float:
    """One short synthetic clip through feature extraction and both trackers; its seconds."""
    import numpy as np

    from musicgeo_utils import features, transcription

    start = time.perf_counter()
    rate = features.FeatureParams().sample_rate
    t = np.arange(3 * rate) / rate
    gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)  # notes of a quarter second: onsets and beats
    clip = (0.3 * gate * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    features.extract_clip(clip)
    for tracker in transcription.TRACKERS:
        transcription.transcribe(clip, rate, transcription.TranscriptionParams(tracker=tracker))
    return time.perf_counter() - start


def umap_kernels() -> float:
    """UMAP imported (pynndescent compiles its kernels on import); its seconds."""
    start = time.perf_counter()
    import umap  # noqa: F401

    return time.perf_counter() - start


def main() -> None:
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        parts = [pool.submit(librosa_kernels), pool.submit(umap_kernels)]
        librosa_s, umap_s = (part.result() for part in parts)
    print(f"numba kernels compiled and cached in {time.perf_counter() - start:.0f} s "
          f"(librosa's {librosa_s:.0f} s beside UMAP's {umap_s:.0f} s)")


if __name__ == "__main__":
    main()
