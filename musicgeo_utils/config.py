"""Paths, profiles and the seed: the one place the pipeline reads them from.

Every path can be overridden by an environment variable, so a notebook never
holds an absolute path of one machine:

=====================  ==========================================  ===========
variable               meaning                                     default
=====================  ==========================================  ===========
``MUSICGEO_ROOT``      repository root                             this checkout
``MUSICGEO_DATA``      caches: manifest, notes, audio, features    ``<root>/data``
``MUSICGEO_REPORTS``   figures, executed notebooks, report.html    ``<root>/reports``
``MUSICGEO_JOBS``      worker processes for parallel stages        all cores
``MUSICGEO_THREADS``   torch's intra-op threads (training,         2
                       prediction)
=====================  ==========================================  ===========

Numbers and threads: worker *processes* never change a result (each clip's
features are computed with one BLAS thread wherever it runs), but torch's CPU
kernels split their sums by thread count, so a network trained with 2 threads
and one trained with 16 end in different weights after a few epochs. The
checked notebook outputs were made with ``MUSICGEO_THREADS=2`` (the default,
independent of the machine's cores); set it higher for speed on a big machine
and expect other last digits. On a GPU the thread count does not matter.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
#: Small data tables shipped with the package (gazetteer additions, licences).
PACKAGE_DATA = PACKAGE_DIR / "data"


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


ROOT = _path_from_env("MUSICGEO_ROOT", PACKAGE_DIR.parent)
DATA_DIR = _path_from_env("MUSICGEO_DATA", ROOT / "data")
REPORTS_DIR = _path_from_env("MUSICGEO_REPORTS", ROOT / "reports")


def n_jobs() -> int:
    """Worker processes for parallel stages (``MUSICGEO_JOBS``, default: all cores)."""
    value = os.environ.get("MUSICGEO_JOBS")
    return max(1, int(value)) if value else max(1, os.cpu_count() or 1)


def dask_scheduler() -> str | None:
    """Where feature extraction runs when no ``client`` is given (``MUSICGEO_DASK``).

    Unset or empty: local worker processes (joblib). ``local``: a dask
    ``LocalCluster`` of :func:`n_jobs` single-threaded workers on this machine.
    An address (``tcp://scheduler:8786``): a running dask cluster, whose
    workers must see the same data folder (``MUSICGEO_DATA``) and have the
    package installed from the same lock.
    """
    return os.environ.get("MUSICGEO_DASK") or None


def current_thread_limits() -> dict[str, int]:
    """This thread's BLAS and OpenMP thread counts, per library prefix (``threadpoolctl``).

    Work handed to other threads or worker processes runs under them
    (``threadpool_limits(limits=current_thread_limits())`` taken in the
    caller, applied there): OpenMP's limit is per thread and a worker process
    starts with its own, and a sum split over another number of threads
    rounds differently, so the pieces give the bits they would give here.
    """
    from threadpoolctl import threadpool_info

    return {info["prefix"]: info["num_threads"] for info in threadpool_info()}


def map_in_threads(function, items, threads: int, limits=None) -> list:
    """``[function(item) for item in items]``, computed in up to ``threads`` threads side by side.

    Each call runs under the caller's BLAS and OpenMP limits
    (:func:`current_thread_limits`, set again in each thread since OpenMP's
    limit is per thread), so where ``function`` is numpy, BLAS or OpenMP work
    on its own objects the results are bit for bit those of one call after
    another; the order of the results is that of ``items``. ``limits``: the
    ``threadpoolctl`` limits of every call instead (e.g. 1: one BLAS and one
    OpenMP thread), however many run side by side (``threads`` = 1 included),
    so the numbers depend on neither ``threads`` nor the machine's cores.
    They are set in the calling thread first: OpenBLAS's limit is one for the
    whole process, and threads that each set their own and put back what they
    found would race. So ``function`` must not itself call this with other
    ``limits`` than the caller's.
    """
    import contextlib

    from threadpoolctl import threadpool_limits

    items = list(items)
    threads = max(1, min(int(threads), len(items)))
    with threadpool_limits(limits=limits) if limits is not None else contextlib.nullcontext():
        if threads == 1:
            return [function(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        here = current_thread_limits()

        def limited(item):  # the same limits as the caller's: OpenMP's are per thread
            with threadpool_limits(limits=here):
                return function(item)

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(limited, items))


#: torch intra-op threads unless ``MUSICGEO_THREADS`` says otherwise (see the module docstring).
DEFAULT_TORCH_THREADS = 2


def torch_threads() -> int:
    """torch's intra-op threads (``MUSICGEO_THREADS``, default :data:`DEFAULT_TORCH_THREADS`)."""
    value = os.environ.get("MUSICGEO_THREADS")
    return max(1, int(value)) if value else DEFAULT_TORCH_THREADS


def _created(path: Path, folder: bool) -> Path:
    """``path``, with the folder it names (``folder``) or its parent folder created."""
    (path if folder else path.parent).mkdir(parents=True, exist_ok=True)
    return path


def data_path(*parts: str) -> Path:
    """A path under the data (cache) directory; parent folders are created."""
    return _created(DATA_DIR.joinpath(*parts), folder=False)


def data_dir(*parts: str) -> Path:
    """A folder under the data (cache) directory, created with its parents."""
    return _created(DATA_DIR.joinpath(*parts), folder=True)


def reports_path(*parts: str) -> Path:
    """A path under ``reports/``; parent folders are created."""
    return _created(REPORTS_DIR.joinpath(*parts), folder=False)


def reports_dir(*parts: str) -> Path:
    """A folder under ``reports/``, created with its parents."""
    return _created(REPORTS_DIR.joinpath(*parts), folder=True)


@dataclass(frozen=True)
class Profile:
    """How much of the corpus a run uses.

    ``small`` is the default of ``make report``: a balanced sample that runs on
    two CPU cores in minutes. ``full`` is every tune, meant for a GPU.
    """

    name: str
    #: Most tunes drawn from one (style, country) stratum; ``None`` = all.
    per_stratum: int | None
    #: Length of each rendered clip, seconds.
    clip_seconds: float
    #: CRNN training epochs (upper bound; early stopping may end sooner).
    epochs: int
    #: Fewest training items for a style (or genre) to be one of the style models' classes.
    min_train_per_class: int = 30
    #: Most training-split tunes per style outside the sample that the pitch CRNN also reads as scores
    #: (:func:`pitchroll.corpus_training_rolls`; folk corpus only, 0: none).
    score_tunes_per_style: int = 0
    #: Renders of each training tune by other training instruments, besides its own clip, that the
    #: style classifiers on the transcribed score also learn from (:func:`manifest.profile_extra_renders`).
    extra_renders: int = 2


PROFILES = {
    "small": Profile("small", per_stratum=300, clip_seconds=10.0, epochs=30, score_tunes_per_style=500),
    "full": Profile("full", per_stratum=None, clip_seconds=30.0, epochs=60),
    # A quick look, and the chain on a tiny dataset copy (tools/make_tiny_datasets.py).
    "tiny": Profile("tiny", per_stratum=20, clip_seconds=6.0, epochs=4, min_train_per_class=3),
}


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name`` (``small``, ``full`` or ``tiny``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if installed) torch from one number.

    Returns a NumPy ``Generator`` for code that takes one explicitly, which is
    preferred over the global state.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
