"""Two-dimensional maps of clip features (PCA, t-SNE, UMAP), cached, and how good each map is.

The "map of music" places every held-out clip on a plane so that clips the
model hears as alike sit together. This module computes those planes and
measures them:

- :func:`embed` runs one method with one parameter setting, seeded;
- :func:`cached_embedding` keeps each result on disk under
  ``data/embeddings/<content key>.npy`` (written atomically), keyed by the
  input's bytes, the method, its parameters, the seed and the library
  version, so a rerun of the notebook (and nbval's re-execution of it) reads
  t-SNE and UMAP back instead of recomputing them; ``umap`` is imported
  only when a UMAP result is not cached, so its import (2-15 s) and numba
  compilation (~35 s on first use in a process) are paid at most once per
  process, and not at all on a cached rerun;
- :func:`embedding_grid` computes PCA, a t-SNE perplexity grid and a UMAP
  ``n_neighbors`` x ``min_dist`` grid and tabulates :func:`map_quality`;
- :func:`neighbour_comparison` answers "why are these two tunes neighbours?"
  by listing a clip's nearest neighbours in the full feature space next to
  its nearest neighbours on the map.

Input geometry (decided here, once, for every caller):

- every input is standardised per column (:func:`standardize`: zero mean,
  unit variance), so that no feature dominates the distances because of its
  units (summary features mix Hz, dB and counts; penultimate activations
  differ in scale from unit to unit);
- softmax probabilities are first turned into centred log-ratios
  (:func:`softmax_log_ratio`). On the probability simplex a confident model's
  outputs crowd into the corners, where every Euclidean distance is about
  sqrt(2) or about 0, and the map shows little but the predicted class. The
  centred log-ratio of ``softmax(z)`` is exactly ``z - mean(z)``: the logits,
  up to the constant that softmax ignores, which keeps "how sure" and
  "second choice" as distances.

Quality and neighbours are measured in the same standardised space the
methods saw (:func:`embedding_grid` does this; callers of :func:`map_quality`
should pass ``standardize(X)``).
"""
from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from . import config
from .cache import content_key, read_npy, write_npy
from .colors import category_colors

#: Bump when an embedding's computation changes (invalidates cached results).
EMBEDDING_VERSION = 1
METHODS = ("pca", "tsne", "umap")
#: Default and allowed parameters of each method.
DEFAULT_PARAMS: dict[str, dict] = {
    "pca": {},
    "tsne": {"perplexity": 30.0, "max_iter": 1000},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean"},
}
#: OpenMP threads for t-SNE (see ``_tsne``); more only pays on an idle many-core machine.
TSNE_THREADS = 1
_LIBRARY = {"pca": "scikit-learn", "tsne": "scikit-learn", "umap": "umap-learn"}
_LABEL = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}

#: How many embeddings were computed (not read from the cache) in this process, per method.
COMPUTED: Counter = Counter()


# --------------------------------------------------------------------------- inputs

def _as_matrix(X, name: str = "X") -> np.ndarray:
    """``X`` as a finite float32 (n, d) array, or a ``ValueError`` saying what is wrong."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 3 or X.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array of at least 3 rows, got shape {X.shape}")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} rows with NaN/inf, "
                         f"e.g. rows {np.flatnonzero(bad)[:5].tolist()}; drop or impute them first")
    return X


def standardize(X) -> np.ndarray:
    """Columns of ``X`` as z-scores (float32); constant columns become 0, not NaN."""
    X = _as_matrix(X)
    mean, std = X.mean(axis=0), X.std(axis=0)
    return ((X - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def softmax_log_ratio(probabilities, eps: float = 1e-7) -> np.ndarray:
    """Centred log-ratio of softmax outputs: ``log p - mean(log p)`` per row (float32).

    Rows must be probabilities (non-negative, summing to 1 within 1e-3);
    ``eps`` keeps an underflowed 0 finite. For ``p = softmax(z)`` the result
    is ``z - mean(z)``, the logits the softmax came from up to a constant.
    """
    P = _as_matrix(probabilities, "probabilities").astype(np.float64)
    sums = P.sum(axis=1)
    if (P < 0).any() or np.abs(sums - 1).max() > 1e-3:
        worst = int(np.argmax(np.abs(sums - 1) + (P < 0).any(axis=1)))
        raise ValueError(f"probabilities: row {worst} is not a probability vector "
                         f"(sum {sums[worst]:.4f}); pass softmax outputs, not logits")
    logs = np.log(np.clip(P, eps, None))
    return (logs - logs.mean(axis=1, keepdims=True)).astype(np.float32)


def _labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels).astype(str)
    if labels.shape != (n,):
        raise ValueError(f"labels has shape {labels.shape}, expected ({n},) to match the points")
    return labels


# --------------------------------------------------------------------------- one embedding

def _full_params(method: str, params: Mapping | None) -> dict:
    """``params`` merged over the method's defaults; unknown methods/keys raise ``ValueError``."""
    if method not in METHODS:
        raise ValueError(f"unknown embedding method {method!r}; choose one of {METHODS}")
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULT_PARAMS[method]))
    if unknown:
        raise ValueError(f"{method}: unknown parameters {unknown}; "
                         f"allowed: {sorted(DEFAULT_PARAMS[method])}")
    return {**DEFAULT_PARAMS[method], **params}


def _fits(params: dict, n: int) -> bool:
    """Whether a setting's neighbourhood (t-SNE perplexity, UMAP n_neighbors) fits ``n`` points."""
    size = params.get("perplexity", params.get("n_neighbors"))
    return size is None or 1 < size < n


def _check_neighbourhood(method: str, params: dict, n: int) -> None:
    """t-SNE perplexity and UMAP n_neighbors must be below the number of points."""
    if not _fits(params, n):
        size = params.get("perplexity", params.get("n_neighbors"))
        name = "perplexity" if method == "tsne" else "n_neighbors"
        raise ValueError(f"{method}: {name}={size} must be above 1 and below the {n} points")


def _pca(X: np.ndarray, params: dict, seed: int) -> np.ndarray:
    return PCA(n_components=2, random_state=seed).fit_transform(X)


def _tsne(X: np.ndarray, params: dict, seed: int) -> np.ndarray:
    model = TSNE(n_components=2, perplexity=float(params["perplexity"]),
                 max_iter=int(params["max_iter"]), init="pca", learning_rate="auto",
                 random_state=seed)
    # One OpenMP thread: on a shared 2-core machine the Barnes-Hut threads spin-wait
    # for each other; measured 5-8x faster on 1,000 points, and the result is identical.
    with threadpool_limits(limits=TSNE_THREADS):
        return model.fit_transform(X)


def _umap(X: np.ndarray, params: dict, seed: int) -> np.ndarray:
    import umap  # lazily: 2-15 s import and a numba JIT on first use

    model = umap.UMAP(n_components=2, n_neighbors=int(params["n_neighbors"]),
                      min_dist=float(params["min_dist"]), metric=params["metric"],
                      random_state=seed, n_jobs=1)  # a seed makes UMAP single-threaded anyway
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(n_jobs|gradient function|tbb).*")
        return model.fit_transform(X)


_EMBEDDERS = {"pca": _pca, "tsne": _tsne, "umap": _umap}


def embed(X, method: str, params: Mapping | None = None, seed: int = 0,
          standardize_input: bool = True) -> np.ndarray:
    """Embed the rows of ``X`` (n, d) in 2-D with ``method`` ('pca', 'tsne' or 'umap').

    ``params`` override :data:`DEFAULT_PARAMS` (t-SNE: ``perplexity``,
    ``max_iter``; UMAP: ``n_neighbors``, ``min_dist``, ``metric``). ``X`` is
    standardised per column first unless ``standardize_input`` is False;
    give softmax outputs as :func:`softmax_log_ratio` ``(P)``. The same ``seed`` gives
    the same float32 (n, 2) result, in the method's own units (t-SNE starts
    from the PCA plane, so only UMAP draws from the seed). Not cached:
    see :func:`cached_embedding`.
    """
    full = _full_params(method, params)
    X = standardize(X) if standardize_input else _as_matrix(X)
    _check_neighbourhood(method, full, len(X))
    Y = _EMBEDDERS[method](X, full, int(seed))
    COMPUTED[method] += 1
    return np.ascontiguousarray(Y, dtype=np.float32)


def _cache_file(X: np.ndarray, method: str, full: dict, seed: int, standardize_input: bool):
    version = metadata.version(_LIBRARY[method])  # no import of umap itself
    key = content_key(EMBEDDING_VERSION, method, full, int(seed), bool(standardize_input),
                      version, X)
    return config.data_path("embeddings", f"{method}-{key}.npy")


def _from_cache(X: np.ndarray, method: str, params: Mapping | None, seed: int, standardize_input: bool):
    """``(embedding or None, cache path)`` of one setting: the cached result, if there is a usable one."""
    path = _cache_file(X, method, _full_params(method, params), seed, standardize_input)
    if path.is_file():
        Y = read_npy(path)
        if Y.shape == (len(X), 2):
            return Y, path
    return None, path


def _cached(X, method: str, params: Mapping | None, seed: int,
            standardize_input: bool) -> tuple[np.ndarray, float, bool]:
    """(embedding, seconds spent, read from cache?) for one setting."""
    X = _as_matrix(X)
    start = time.perf_counter()
    Y, path = _from_cache(X, method, params, seed, standardize_input)
    if Y is not None:
        return Y, time.perf_counter() - start, True
    Y = embed(X, method, params, seed, standardize_input)
    write_npy(path, Y)
    return Y, time.perf_counter() - start, False


def _timed_embed(X, method: str, params: dict, seed: int, standardize_input: bool,
                 limits: dict | None = None) -> tuple[np.ndarray, float]:
    """:func:`embed` and its wall time; in a worker process, under the caller's thread ``limits``."""
    start = time.perf_counter()
    with threadpool_limits(limits=limits):
        Y = embed(X, method, params, seed, standardize_input)
    return Y, time.perf_counter() - start


def _embed_many(X: np.ndarray, settings: list[tuple[str, dict]], seed: int, standardize_input: bool,
                n_jobs: int) -> list[tuple[np.ndarray, float]]:
    """``(embedding, seconds)`` of each ``(method, params)``, in ``n_jobs`` worker processes when above 1.

    Each setting is single-threaded (t-SNE on :data:`TSNE_THREADS`, UMAP seeded) and
    a worker runs it under the caller's BLAS and OpenMP limits, so the results are
    those of one setting after another in this process, bit for bit.
    """
    n_jobs = min(int(n_jobs), len(settings))
    if n_jobs <= 1:
        return [_timed_embed(X, method, params, seed, standardize_input) for method, params in settings]
    from joblib import Parallel, delayed

    limits = config.current_thread_limits()
    done = Parallel(n_jobs=n_jobs, backend="loky")(
        delayed(_timed_embed)(X, method, params, seed, standardize_input, limits) for method, params in settings)
    for method, _ in settings:
        COMPUTED[method] += 1  # counted here: the workers' counters are their own
    return done


def cached_embedding(X, method: str, params: Mapping | None = None, seed: int = 0,
                     standardize_input: bool = True) -> np.ndarray:
    """:func:`embed`, read from ``data/embeddings/`` when the same input was embedded before.

    The cache key covers the bytes of ``X`` (as float32), the method, its full
    parameters, ``seed``, ``standardize_input`` and the version of the library
    that computes it. Files are written atomically.
    """
    return _cached(X, method, params, seed, standardize_input)[0]


def layout_name(method: str, params: Mapping | None = None) -> str:
    """A readable name for one setting: ``PCA``, ``t-SNE perplexity=30``, ``UMAP n_neighbors=15 min_dist=0.1``."""
    full = _full_params(method, params)
    shown = {"tsne": ("perplexity",), "umap": ("n_neighbors", "min_dist"), "pca": ()}[method]
    parts = [f"{k}={full[k]:g}" for k in shown]
    return " ".join([_LABEL[method], *parts])


def unit_rows(X) -> np.ndarray:
    """Rows of ``X`` scaled to unit length (float64; an all-zero row stays zero)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def cosine_nearest(reference, queries, k: int, exclude: np.ndarray | None = None,
                   block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, similarities)``, each ``(n_queries, k)``: the ``k`` reference rows of highest
    cosine similarity to each query row, most similar first, ties to the lower row.

    The one cosine ranking of the project (predict's nearest reference tunes,
    the map of music's popups, a song placed on the map). ``exclude[i]``
    (a reference row, or -1 for none) is left out of query ``i``'s answer,
    e.g. the query itself; ``block`` bounds the memory of one product.
    """
    R, Q = unit_rows(reference), unit_rows(queries)
    if R.shape[1] != Q.shape[1]:
        raise ValueError(f"queries have {Q.shape[1]} dimensions, the reference {R.shape[1]}")
    k = min(int(k), len(R) - (exclude is not None))
    if k < 1:
        raise ValueError(f"cosine_nearest needs k >= 1 reference rows to return, got {len(R)} rows")
    index = np.empty((len(Q), k), dtype=np.int64)
    similarity = np.empty((len(Q), k))
    for start in range(0, len(Q), block):
        S = Q[start:start + block] @ R.T
        if exclude is not None:
            rows = np.arange(len(S))
            own = np.asarray(exclude[start:start + block])
            S[rows[own >= 0], own[own >= 0]] = -np.inf
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        index[start:start + block] = order
        similarity[start:start + block] = np.take_along_axis(S, order, axis=1)
    return index, similarity


# --------------------------------------------------------------------------- quality

def _neighbours(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices) of each point's ``k`` nearest other points (itself excluded)."""
    if not 0 < k < len(points):
        raise ValueError(f"need 0 < k < number of points ({len(points)}), got k={k}")
    return NearestNeighbors(n_neighbors=k).fit(points).kneighbors()


def _same_label_shares(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per point, the share of its ``k`` nearest other points (Euclidean) that carry its label."""
    _, index = _neighbours(points, k)
    return (labels[index] == labels[:, None]).mean(axis=1)


def knn_label_purity(points, labels, n_neighbors: int = 10) -> float:
    """Share of each point's ``n_neighbors`` nearest neighbours that carry its label, averaged."""
    points = _as_matrix(points, "points")
    labels = _labels(labels, len(points))
    return float(_same_label_shares(points, labels, n_neighbors).mean())


def chance_purity(labels) -> float:
    """The :func:`knn_label_purity` expected when neighbours are drawn at random.

    ``sum_c n_c (n_c - 1) / (n (n - 1))`` over label counts ``n_c``.
    """
    counts = pd.Series(np.asarray(labels).astype(str)).value_counts().to_numpy(float)
    n = counts.sum()
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


def neighbour_agreement(X, labels, k: int = 10) -> dict[str, float]:
    """How much same-label neighbours cluster in a feature space (e.g. summary features), against chance.

    ``agreement``: :func:`knn_label_purity` with ``k`` neighbours, computed
    on ``X`` as given (float64, not standardised again); ``chance``: its value
    for randomly drawn neighbours, :func:`chance_purity` (exact: ``sum_c n_c
    (n_c - 1) / (n (n - 1))``, not its large-``n`` limit, the sum of squared
    label shares: one chance level for the feature space and the map); ``balanced_agreement``: the
    per-point shares averaged per label, then over labels, whose chance level
    ``balanced_chance`` is 1 / number of labels. Values are fractions in [0, 1].
    """
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels).astype(str).ravel()
    if X.ndim != 2 or len(X) != len(labels) or len(X) <= k:
        raise ValueError(f"need more than k={k} rows and one label per row, got {len(X)} rows, {len(labels)} labels")
    same = _same_label_shares(X, labels, k)
    per_label = pd.Series(same).groupby(labels).mean()
    return {"agreement": float(same.mean()), "chance": chance_purity(labels),
            "balanced_agreement": float(per_label.mean()), "balanced_chance": 1.0 / len(per_label), "k": k}


def map_quality(X_high, Y2, labels, n_neighbors: int = 10) -> dict[str, float]:
    """How faithful a 2-D map ``Y2`` of ``X_high`` is, and how well it groups ``labels``.

    - ``trustworthiness``: scikit-learn's, 0..1, with ``n_neighbors``: are the
      map's close neighbours also close in ``X_high``? (1 = no false neighbours);
    - ``knn_purity_2d``: share of each point's ``n_neighbors`` nearest map
      neighbours that share its label; ``knn_purity_high``: the same in
      ``X_high`` for reference; ``chance_purity``: the value for random neighbours.
    """
    X_high, Y2 = _as_matrix(X_high, "X_high"), _as_matrix(Y2, "Y2")
    if len(X_high) != len(Y2) or Y2.shape[1] != 2:
        raise ValueError(f"X_high {X_high.shape} and Y2 {Y2.shape} must have the same rows, Y2 two columns")
    if not 0 < n_neighbors < len(X_high) / 2:
        raise ValueError(f"n_neighbors={n_neighbors} must be below half the {len(X_high)} points")
    return {
        "trustworthiness": float(trustworthiness(X_high, Y2, n_neighbors=n_neighbors)),
        "knn_purity_2d": knn_label_purity(Y2, labels, n_neighbors),
        "knn_purity_high": knn_label_purity(X_high, labels, n_neighbors),
        "chance_purity": chance_purity(labels),
    }


# --------------------------------------------------------------------------- grid

def grid_settings(tsne_perplexities: Sequence[float] = (5, 15, 30, 50),
                  umap_grid: Sequence[tuple[int, float]] = ((5, 0.1), (15, 0.1), (30, 0.1), (15, 0.5)),
                  tsne_max_iter: int = 1000) -> list[tuple[str, dict]]:
    """(method, params) of PCA, each t-SNE perplexity and each UMAP (n_neighbors, min_dist)."""
    return ([("pca", {})]
            + [("tsne", {"perplexity": float(p), "max_iter": int(tsne_max_iter)})
               for p in tsne_perplexities]
            + [("umap", {"n_neighbors": int(k), "min_dist": float(d)}) for k, d in umap_grid])


def embedding_grid(X, labels, seed: int = 0,
                   tsne_perplexities: Sequence[float] = (5, 15, 30, 50),
                   umap_grid: Sequence[tuple[int, float]] = ((5, 0.1), (15, 0.1), (30, 0.1), (15, 0.5)),
                   n_neighbors_eval: int = 10, standardize_input: bool = True,
                   tsne_max_iter: int = 1000, n_jobs: int = 1) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """PCA, a t-SNE perplexity grid and a UMAP grid of ``X``, each cached, with their quality.

    Returns ``(coords, quality)``: ``coords`` maps a :func:`layout_name` to
    its float32 (n, 2) array (in grid order); ``quality`` has one row per
    layout (index ``layout``) with ``method``, :func:`map_quality`'s columns
    (measured in the standardised input space), ``seconds`` (wall time of
    this call for that layout) and ``cached`` (read from disk). The last two
    change between runs: drop them from tables that nbval compares.
    ``tsne_max_iter``: t-SNE optimisation steps (scikit-learn's default 1000;
    500 roughly halves the time on ~1,000 points). A setting whose
    neighbourhood does not fit the points (perplexity 30 for 23 points, as on
    a tiny dataset copy) is left out with a warning that names it, and
    ``n_neighbors_eval`` is lowered below half the points where it must be.
    ``n_jobs``: worker processes for the settings not cached yet (each one
    single-threaded, so the layouts are the same as with one;
    :func:`_embed_many`).
    """
    X = _as_matrix(X)
    labels = _labels(labels, len(X))
    X_space = standardize(X) if standardize_input else X
    if n_neighbors_eval >= len(X) / 2:
        n_neighbors_eval = max(1, (len(X) - 1) // 2)
        warnings.warn(f"embedding_grid: quality measured on {n_neighbors_eval} neighbours, below half "
                      f"the {len(X)} points", stacklevel=2)
    found, missing = {}, []  # layout name -> (method, embedding, seconds, cached?); the settings to compute
    for method, params in grid_settings(tsne_perplexities, umap_grid, tsne_max_iter):
        name = layout_name(method, params)
        if not _fits(_full_params(method, params), len(X)):
            warnings.warn(f"embedding_grid: {name} left out: its neighbourhood needs more than {len(X)} points",
                          stacklevel=2)
            continue
        start = time.perf_counter()
        Y, path = _from_cache(X, method, params, seed, standardize_input)
        found[name] = (method, Y, time.perf_counter() - start, True)
        if Y is None:
            missing.append((name, method, params, path))
    computed = _embed_many(X, [(method, params) for _, method, params, _ in missing], seed, standardize_input,
                           n_jobs) if missing else []
    for (name, method, _, path), (Y, seconds) in zip(missing, computed):
        write_npy(path, Y)
        found[name] = (method, Y, seconds, False)
    coords, rows = {}, []
    for name, (method, Y, seconds, hit) in found.items():
        coords[name] = Y
        rows.append({"layout": name, "method": _LABEL[method],
                     **map_quality(X_space, Y, labels, n_neighbors_eval),
                     "seconds": round(seconds, 2), "cached": hit})
    return coords, pd.DataFrame(rows).set_index("layout")


def best_per_method(quality: pd.DataFrame, by: str = "knn_purity_2d") -> list[str]:
    """The best layout name of each method in ``quality`` (highest ``by``), in PCA, t-SNE, UMAP order."""
    if by not in quality.columns:
        raise KeyError(f"{by!r} not a column of the quality table ({list(quality.columns)})")
    best = quality.sort_values(by, ascending=False, kind="stable").groupby("method", sort=False).head(1)
    order = {label: i for i, label in enumerate(_LABEL.values())}
    return sorted(best.index, key=lambda name: order.get(best.loc[name, "method"], len(order)))


# --------------------------------------------------------------------------- neighbours

def neighbour_comparison(X_high, Y2, ids: Sequence, query_ids: Sequence, k: int = 5,
                         labels: Sequence | None = None) -> pd.DataFrame:
    """For each of ``query_ids``: its ``k`` nearest neighbours in ``X_high`` next to those on the map.

    One row per (query, rank 1..k): ``feature_neighbour`` and
    ``feature_distance`` (Euclidean, in ``X_high``'s units: z-scores if
    standardised), ``map_neighbour`` and ``map_distance`` (map units),
    ``feature_neighbour_on_map`` (that feature-space neighbour is also among
    the k on the map) and ``overlap`` (how many of the k are shared, the same
    on every row of a query). With ``labels`` (e.g. style), the label of the
    query and of each neighbour is added. Unknown query ids raise ``KeyError``.
    """
    X_high, Y2 = _as_matrix(X_high, "X_high"), _as_matrix(Y2, "Y2")
    ids = pd.Index([str(i) for i in ids])
    if len(ids) != len(X_high) or len(Y2) != len(X_high) or not ids.is_unique:
        raise ValueError(f"need one unique id per row: {len(ids)} ids, X_high {X_high.shape}, Y2 {Y2.shape}")
    missing = [q for q in map(str, query_ids) if q not in ids]
    if missing:
        raise KeyError(f"query ids not among the points: {missing[:5]}")
    feat_d, feat_i = _neighbours(X_high, k)
    map_d, map_i = _neighbours(Y2, k)
    names = None if labels is None else _labels(labels, len(ids))
    rows = []
    for query in map(str, query_ids):
        q = ids.get_loc(query)
        overlap = len(set(feat_i[q]) & set(map_i[q]))
        for rank in range(k):
            f, m = feat_i[q, rank], map_i[q, rank]
            row = {"query": query, "rank": rank + 1,
                   "feature_neighbour": ids[f], "feature_distance": float(feat_d[q, rank]),
                   "map_neighbour": ids[m], "map_distance": float(map_d[q, rank]),
                   "feature_neighbour_on_map": bool(f in map_i[q]), "overlap": overlap}
            if names is not None:
                row.update(query_label=names[q], feature_label=names[f], map_label=names[m])
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figure

def layouts_figure(coords: Mapping[str, np.ndarray], labels, names: Sequence[str] | None = None,
                   colors: Mapping[str, str] | None = None, ncols: int = 3, point_size: float = 6):
    """Scatter plots of several layouts side by side, coloured by ``labels``, one shared legend.

    ``names`` picks and orders layouts (default: all of ``coords``);
    ``colors`` maps a label to a colour (default: :func:`colors.category_colors`).
    Axes are in each method's own units, which carry no meaning across methods.
    """
    import matplotlib.pyplot as plt

    names = list(names or coords)
    labels = _labels(labels, len(coords[names[0]]))
    colors = dict(colors or category_colors(labels))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, len(names)), figsize=(4.2 * min(ncols, len(names)), 4 * nrows),
                             squeeze=False)
    for ax, name in zip(axes.flat, names):
        Y = coords[name]
        for label in sorted(set(labels)):
            mask = labels == label
            ax.scatter(Y[mask, 0], Y[mask, 1], s=point_size, color=colors[label], label=label, linewidths=0)
        ax.set(title=name, xlabel="dimension 1 (method units)", ylabel="dimension 2 (method units)")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    handles, texts = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="lower center", ncol=min(len(texts), 6), markerscale=2, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
