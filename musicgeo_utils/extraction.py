"""Features of many clips at once: cached on disk, run in parallel (joblib or dask).

:func:`extract_many` computes :func:`features.extract_clip` for every clip
that is not cached yet and returns a :class:`FeatureSet`.

Cache layout under ``config.data_path('features')``::

    mel/<params.mel_key()>/<content_key(audio sha256, params.mel_key())>.npy
    <params.key()>/summary/<content_key(audio sha256, params.key())>.npy
    <params.key()>/skips/<same key>.json          (clips that raised FeatureError)
    <params.key()>/params.json, names.json         (for people reading the cache)

Mel files depend only on the mel parameters, so changing a summary-only
parameter (``n_mfcc``, percentiles, ...) recomputes summaries but reuses mels.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from musicgeo_utils import cache, config
from musicgeo_utils.features import FEATURES_VERSION, FeatureError, FeatureParams, decode_audio, extract_clip, summary_names


@dataclass
class FeatureSet:
    """Result of :func:`extract_many`.

    ``summary``: one row per clip (index ``clip_id``), columns from
    :func:`features.summary_names`; ``mel_paths``: clip_id -> ``.npy`` path of its mel
    spectrogram; ``skips``: clip_id and reason of every clip left out;
    ``counts``: how many mels / summaries were computed now, read from cache,
    and how many clips were skipped.
    """

    summary: pd.DataFrame
    mel_paths: pd.Series
    skips: pd.DataFrame
    counts: dict = field(default_factory=dict)



# --------------------------------------------------------------------------- batch


@dataclass(frozen=True)
class _CacheLayout:
    """Cache folders, resolved once in the calling process for all workers."""

    summary_dir: Path
    skip_dir: Path
    mel_dir: Path

    @classmethod
    def for_params(cls, params: FeatureParams) -> "_CacheLayout":
        root = config.data_dir("features", params.key())
        return cls(root / "summary", root / "skips", config.data_path("features", "mel", params.mel_key()))


class _ClipResult(NamedTuple):
    clip_id: str
    summary: np.ndarray | None
    mel_path: str | None
    reason: str | None
    mel_computed: bool = False
    summary_computed: bool = False
    cached_skip: bool = False


def _compute_clip(clip_id, data, paths, params, use_cache) -> _ClipResult:
    """Decode and featurize one clip, writing whichever cache entries are missing."""
    summary_path, mel_path, skip_path = paths
    need_mel = not (use_cache and mel_path.exists())
    try:
        clip = extract_clip(decode_audio(data, params, clip_id), params, clip_id=clip_id)
    except FeatureError as error:
        cache.write_json(skip_path, {"clip_id": clip_id, "reason": error.reason})
        return _ClipResult(clip_id, None, None, error.reason)
    if need_mel:
        cache.write_npy(mel_path, clip.mel)
    cache.write_npy(summary_path, clip.summary)
    return _ClipResult(clip_id, clip.summary, str(mel_path), None, need_mel, True)


def _extract_one(clip_id: str, audio_path: str, params: FeatureParams, layout: _CacheLayout, use_cache: bool) -> _ClipResult:
    """One clip: from cache when possible, else computed; errors become skips."""
    try:
        data = Path(audio_path).read_bytes()
    except OSError as error:
        return _ClipResult(clip_id, None, None, f"cannot read {audio_path}: {error.strerror or error}")
    paths = _clip_paths(hashlib.sha256(data).hexdigest(), params, layout)
    if use_cache:
        cached = _from_cache(clip_id, *paths)
        if cached is not None:
            return cached
    try:
        return _compute_clip(clip_id, data, paths, params, use_cache)
    except Exception as error:  # never fatal to a long run; not cached, so a rerun retries
        return _ClipResult(clip_id, None, None, f"unexpected {type(error).__name__}: {error}")


def _from_cache(clip_id: str, summary_path: Path, mel_path: Path, skip_path: Path) -> _ClipResult | None:
    if summary_path.exists() and mel_path.exists():
        return _ClipResult(clip_id, cache.read_npy(summary_path), str(mel_path), None)
    if skip_path.exists():
        return _ClipResult(clip_id, None, None, json.loads(skip_path.read_text())["reason"], cached_skip=True)
    return None


def _extract_chunk(chunk, params, layout, use_cache) -> list[_ClipResult]:
    """A batch of clips per task, so scheduling overhead is paid per chunk, not per clip.

    Wherever the chunk runs (this process, a loky worker, a dask worker), the
    features are computed with one BLAS thread (:func:`features.one_blas_thread`),
    so the number of workers never changes a value.
    """
    return [_extract_one(clip_id, path, params, layout, use_cache) for clip_id, path in chunk]


def clip_items(items) -> list[tuple[str, str]]:
    """(clip_id, audio_path) pairs from a DataFrame (columns clip_id and audio_path, or clip_id as index) or pairs."""
    if isinstance(items, pd.DataFrame):
        frame = items.reset_index() if "clip_id" not in items.columns else items
        missing = {"clip_id", "audio_path"} - set(frame.columns)
        if missing:
            raise ValueError(f"items DataFrame lacks column(s) {sorted(missing)}")
        items = zip(frame["clip_id"], frame["audio_path"])
    return [(str(clip_id), str(path)) for clip_id, path in items]


def _chunks(pairs: Sequence, n_chunks: int) -> list[list]:
    size = max(1, math.ceil(len(pairs) / max(1, n_chunks)))
    return [list(pairs[i : i + size]) for i in range(0, len(pairs), size)]


def _run_parallel(chunks, params, layout, use_cache, n_jobs, client) -> list[_ClipResult]:
    """joblib over chunks: loky processes locally, or a dask cluster when one is given."""
    import joblib

    tasks = (joblib.delayed(_extract_chunk)(chunk, params, layout, use_cache) for chunk in chunks)
    if client is None:
        results = joblib.Parallel(n_jobs=n_jobs, backend="loky")(tasks)
    elif client == "local":  # a dask LocalCluster of single-threaded worker processes, for this call
        from distributed import Client, LocalCluster

        workers = config.n_jobs() if n_jobs < 0 else n_jobs
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster, set_as_default=False) as own_client:
            return _run_parallel(chunks, params, layout, use_cache, n_jobs, own_client)
    elif isinstance(client, str):  # a scheduler address: connect, and close when done
        from distributed import Client

        with Client(client, set_as_default=False) as own_client:
            return _run_parallel(chunks, params, layout, use_cache, n_jobs, own_client)
    else:
        with joblib.parallel_config(backend="dask", client=client):
            results = joblib.Parallel(n_jobs=n_jobs)(tasks)
    return [result for chunk_results in results for result in chunk_results]


def _deduplicated(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    seen, unique, skips = set(), [], []
    for clip_id, path in pairs:
        if clip_id in seen:
            skips.append((clip_id, f"duplicate clip_id (second path {path} ignored)"))
        else:
            seen.add(clip_id)
            unique.append((clip_id, path))
    return unique, skips


def _feature_set(results: list[_ClipResult], extra_skips, params: FeatureParams) -> FeatureSet:
    kept = [r for r in results if r.reason is None]
    names = summary_names(params)
    index = pd.Index([r.clip_id for r in kept], name="clip_id", dtype=object)
    matrix = np.vstack([r.summary for r in kept]) if kept else np.empty((0, len(names)), np.float32)
    skips = [(r.clip_id, r.reason) for r in results if r.reason is not None] + list(extra_skips)
    counts = {
        "clips": len(results) + len(extra_skips),
        "mel_computed": sum(r.mel_computed for r in results),
        "summary_computed": sum(r.summary_computed for r in results),
        "from_cache": sum(r.reason is None and not r.summary_computed for r in results),
        "skipped": len(skips),
        "skips_from_cache": sum(r.cached_skip for r in results),
    }
    return FeatureSet(
        summary=pd.DataFrame(matrix, index=index, columns=names),
        mel_paths=pd.Series([r.mel_path for r in kept], index=index, name="mel_path", dtype=object),
        skips=pd.DataFrame(skips, columns=["clip_id", "reason"]),
        counts=counts,
    )


def extract_many(
    items: pd.DataFrame | Iterable[tuple[str, str]],
    params: FeatureParams = FeatureParams(),
    n_jobs: int | None = None,
    use_cache: bool = True,
    client=None,
) -> FeatureSet:
    """Mel spectrograms and summary vectors of many audio files, cached and in parallel.

    ``items``: a DataFrame with columns ``clip_id`` and ``audio_path`` (or
    ``clip_id`` as index), or (clip_id, audio_path) pairs. Each clip is keyed
    by the SHA-256 of its file bytes and the parameters, so a rerun reads the
    cache, an interrupted run resumes, and changing a summary-only parameter
    reuses the mels. ``use_cache=False`` recomputes every clip and overwrites
    its cache entries. ``n_jobs``: worker processes (default
    ``config.n_jobs()``; with a dask cluster, -1 = all its workers).
    ``client``: a ``dask.distributed.Client``, a scheduler address string, or
    ``"local"`` (a ``LocalCluster`` for this call); default
    :func:`config.dask_scheduler` (``MUSICGEO_DASK``), else local processes.
    The cache folder must be visible to the workers. (joblib runs the
    work in the calling process when the cluster has one core in all.) Clips that cannot be
    read, decoded or featurized are counted in ``skips`` with their reason,
    never fatal.
    """
    pairs, duplicate_skips = _deduplicated(clip_items(items))
    layout = _CacheLayout.for_params(params)
    _write_cache_readme(layout, params)
    client = client if client is not None else config.dask_scheduler()
    if n_jobs is None:
        n_jobs = -1 if client is not None else config.n_jobs()
    workers = (os.cpu_count() or 1) if n_jobs < 0 else n_jobs
    # Cache hits are read here: starting worker processes (imports, numba JIT)
    # costs more than reading a warm cache, so only misses go to the workers.
    done = {clip_id: hit for clip_id, path in pairs
            if use_cache and (hit := _cached_result(clip_id, path, params, layout)) is not None}
    todo = [pair for pair in pairs if pair[0] not in done]
    chunks = _chunks(todo, n_chunks=4 * workers)
    computed = _run_parallel(chunks, params, layout, use_cache, n_jobs, client) if todo else []
    done.update((result.clip_id, result) for result in computed)
    return _feature_set([done[clip_id] for clip_id, _ in pairs], duplicate_skips, params)


def _clip_paths(audio_sha: str, params: FeatureParams, layout: _CacheLayout) -> tuple[Path, Path, Path]:
    """(summary, mel, skip) cache paths of a clip whose file bytes hash to ``audio_sha``."""
    key = cache.content_key(audio_sha, params.key())
    return (layout.summary_dir / f"{key}.npy",
            layout.mel_dir / f"{cache.content_key(audio_sha, params.mel_key())}.npy",
            layout.skip_dir / f"{key}.json")


def _cached_result(clip_id: str, audio_path: str, params: FeatureParams, layout: _CacheLayout):
    """The cached result of one clip, or None when it must be computed."""
    try:
        data = Path(audio_path).read_bytes()
    except OSError:
        return None  # the worker reports the read error as a skip
    return _from_cache(clip_id, *_clip_paths(hashlib.sha256(data).hexdigest(), params, layout))


def _write_cache_readme(layout: _CacheLayout, params: FeatureParams) -> None:
    """Parameters and column names beside the summaries, for people reading the cache."""
    root = layout.summary_dir.parent
    if not (root / "names.json").exists():
        cache.write_json(root / "params.json", {"version": FEATURES_VERSION, **asdict(params)})
        cache.write_json(root / "names.json", summary_names(params))
