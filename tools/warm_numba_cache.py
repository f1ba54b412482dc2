"""Compile and cache, in one process, the numba kernels of librosa and UMAP that the project runs.

librosa and pynndescent (UMAP's neighbour search) keep the machine code of their
numba functions in the environment (``cache=True``, files under their ``__pycache__``). On a fresh environment the
first processes to call them compile and write those files; when several do so at
once (pytest-xdist's workers, the joblib workers of notebooks 01-02), one can load a
cache file another is still writing. A fresh clone's unit tests once died that way,
most likely: a segmentation fault inside librosa's beat tracker in one xdist worker
while both wrote the cache. ``make env`` runs this script once after installing, so
every later process finds the cache complete. Run it under ``make`` (or with the
Makefile's ``NUMBA_CPU_NAME``): numba keys its cache by the CPU it compiles for.

    python tools/warm_numba_cache.py
"""
from __future__ import annotations

import time

import numpy as np

from musicgeo_utils import features, transcription


def main() -> None:
    """One short synthetic clip through feature extraction and both trackers; UMAP imported."""
    start = time.perf_counter()
    rate = features.FeatureParams().sample_rate
    t = np.arange(3 * rate) / rate
    gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)  # notes of a quarter second: onsets and beats
    clip = (0.3 * gate * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    features.extract_clip(clip)
    for tracker in transcription.TRACKERS:
        transcription.transcribe(clip, rate, transcription.TranscriptionParams(tracker=tracker))
    import umap  # noqa: F401  (pynndescent compiles its kernels on import)
    print(f"numba kernels compiled and cached in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
