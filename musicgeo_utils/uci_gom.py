"""The UCI "Geographical Original of Music" dataset and its cross-validated evaluation.

Not redistributable from here (no internet, and :func:`datasets.download`
has no UCI files): download the release by hand from :data:`UCI_GOM_URL` and
unzip it into a folder (default ``<data>/raw/uci_gom``, see
:func:`~musicgeo_utils.dataset_base.default_root`). The release has two
files (:data:`UCI_GOM_FILES`), the same 1,059 tracks from 33 countries in
both, comma-separated, no header, features then the latitude and longitude
(degrees) of the country's capital as the last two columns:

- ``default_features_1059_tracks.txt``: 68 audio features (the default);
- ``default_plus_chromatic_features_1059_tracks.txt``: 116 features, the
  default set extended with chromatic (chroma) features: the *chromatic
  variant*, chosen with ``chroma=True`` wherever a folder is given.

:func:`uci_gom_file` says which file a folder (or file) stands for;
:func:`load_uci_gom` reads one; :func:`load_uci_gom_dataset` wraps it as a
:class:`~musicgeo_utils.dataset_base.Dataset` (what
``load_dataset("uci_gom", root)`` returns); :func:`evaluate_uci_gom` takes
a folder, a file or such a loaded dataset and scores the geographic
baselines against Zhou, Claire & King (2014) (:data:`ZHOU_2014_MEAN_KM`,
a mean great-circle error), best mean km first;
:func:`uci_gom_summary_table` shows that table with the mean first.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import config
from .dataset_base import Dataset, default_root
from .geo import coordinate_labels
from .geomethods import GeoMethod, cross_validate, default_methods
from .georesults import hit_rate_table

#: Feature columns in the two files of the UCI release (default file, chromatic file).
UCI_GOM_FEATURE_COUNTS = (68, 116)
#: Zhou, Claire & King (ICDM 2014): best mean great-circle error, km (random
#: forest, 10-fold CV, 1,142 pieces in 73 areas, a superset of the UCI file).
ZHOU_2014_MEAN_KM = 3113.0
#: Where the release is published (download by hand, then unzip).
UCI_GOM_URL = "https://archive.ics.uci.edu/dataset/315/geographical+original+of+music"
#: File names of the release, by ``chroma``: ``False`` = 68 features, ``True`` = 116 (plus chromatic).
UCI_GOM_FILES = {False: "default_features_1059_tracks.txt",
                 True: "default_plus_chromatic_features_1059_tracks.txt"}


# --------------------------------------------------------------------------- files


def _download_hint(folder: Path, chroma: bool) -> str:
    name, other = UCI_GOM_FILES[bool(chroma)], UCI_GOM_FILES[not chroma]
    counts = dict(zip((False, True), UCI_GOM_FEATURE_COUNTS))
    return (f"download the UCI 'Geographical Original of Music' release by hand from {UCI_GOM_URL}, "
            f"unzip it and put {name} ({counts[bool(chroma)]} features) in {folder} (or pass the file "
            f"itself); {other} ({counts[not chroma]} features) is read with chroma={not chroma}")


def uci_gom_file(root: str | Path | None = None, chroma: bool = False) -> Path:
    """The UCI GOM file that ``root`` stands for: ``root`` itself if it is a file, else one in the folder.

    In a folder (default ``<data>/raw/uci_gom``) the file is
    ``default_features_1059_tracks.txt`` (68 features), or with
    ``chroma=True`` ``default_plus_chromatic_features_1059_tracks.txt``
    (116), directly in it or in one subfolder (as an unzipped release may
    leave it). A missing folder or file raises ``FileNotFoundError`` saying
    where to download the release and which file to put where; ``chroma``
    does not apply to a file given directly (its column count decides).
    """
    root = Path(root) if root is not None else default_root("uci_gom")
    chroma = bool(chroma)
    if root.is_file():
        return root
    name = UCI_GOM_FILES[chroma]
    if not root.is_dir():
        what = "file" if root.suffix else "folder"
        folder = root.parent if root.suffix else root
        raise FileNotFoundError(f"{root}: UCI Geographical Original of Music {what} not found; "
                                f"{_download_hint(folder, chroma)}")
    if (root / name).is_file():
        return root / name
    nested = sorted(p for p in root.glob(f"*/{name}") if p.is_file())
    if len(nested) == 1:
        return nested[0]
    if len(nested) > 1:
        raise ValueError(f"{root}: {len(nested)} copies of {name} in its subfolders "
                         f"({', '.join(str(p) for p in nested)}); pass the one to read")
    other = [p for p in (root / UCI_GOM_FILES[not chroma], *root.glob(f"*/{UCI_GOM_FILES[not chroma]}"))
             if p.is_file()]
    found = f" (it has {other[0].name}: pass chroma={not chroma} to read that)" if other else ""
    raise FileNotFoundError(f"{root / name}: UCI Geographical Original of Music file not found{found}; "
                            f"{_download_hint(root, chroma)}")


# --------------------------------------------------------------------------- UCI


def _parse_uci_line(path: Path, number: int, line: str, n_columns: int | None) -> list[float]:
    fields = line.split(",")
    if n_columns is None and len(fields) - 2 not in UCI_GOM_FEATURE_COUNTS:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns; a UCI Geographical Original "
                         f"of Music file has {' or '.join(str(c + 2) for c in UCI_GOM_FEATURE_COUNTS)} "
                         "(68 or 116 features, then latitude and longitude)")
    if n_columns is not None and len(fields) != n_columns:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns, but the file's first line "
                         f"has {n_columns}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        bad = next(i for i, f in enumerate(fields, 1) if not _is_float(f))
        raise ValueError(f"{path}, line {number}, column {bad}: {fields[bad - 1]!r} is not a number") from None
    if not (abs(values[-2]) <= 90 and abs(values[-1]) <= 180 and np.all(np.isfinite(values))):
        raise ValueError(f"{path}, line {number}: latitude/longitude {values[-2]}, {values[-1]} "
                         "out of range, or a value is not finite")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_uci_gom(path: str | Path, chroma: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Read a UCI "Geographical Original of Music" file: features, latitude, longitude.

    The release has two comma-separated files without header, 1,059 tracks
    from 33 countries each: ``default_features_1059_tracks.txt`` (68 audio
    features per line) and ``default_plus_chromatic_features_1059_tracks.txt``
    (116), each followed by the latitude and longitude (degrees) of the
    country's capital. ``path`` is one of them, or the folder holding them:
    then ``chroma=True`` picks the 116-feature file (see :func:`uci_gom_file`,
    which also gives the hint when a file is missing). Returns
    ``(X, lat, lon)``: a DataFrame with columns ``feature_001`` ... and two
    float arrays. A line with a wrong column count, a non-number or an
    out-of-range coordinate raises ``ValueError`` naming the file, the line
    and the reason (a dataset file is all-or-nothing).
    """
    path = uci_gom_file(path, chroma)
    rows, n_columns = [], None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows.append(_parse_uci_line(path, number, line.strip(), n_columns))
            n_columns = len(rows[0])
    if not rows:
        raise ValueError(f"{path}: no data lines")
    data = np.asarray(rows)
    columns = [f"feature_{i:03d}" for i in range(1, data.shape[1] - 1)]
    X = pd.DataFrame(data[:, :-2], columns=columns)
    X.attrs["source"] = str(path)
    return X, data[:, -2].copy(), data[:, -1].copy()


def uci_gom_regions(lat, lon) -> np.ndarray:
    """Region label per track: tracks with identical coordinates (one capital) share one.

    Labels are the coordinates as text, ``"lat,lon"`` to 4 decimals (degrees).
    """
    return coordinate_labels(lat, lon)


def load_uci_gom_dataset(root: str | Path | None = None, chroma: bool = False) -> Dataset:
    """UCI GOM as a :class:`Dataset`: ``tracks`` (lat/lon, degrees; ``region`` = capital) and ``features``.

    ``root`` is the release folder (default ``<data>/raw/uci_gom``) or one of
    its two files directly; in a folder, ``chroma=False`` reads
    ``default_features_1059_tracks.txt`` (68 features) and ``chroma=True``
    ``default_plus_chromatic_features_1059_tracks.txt`` (116, the chromatic
    variant), see :func:`uci_gom_file`. ``info["file"]`` names the file read.
    Wraps :func:`load_uci_gom`, which raises on any malformed line (a dataset
    file is all-or-nothing). The result can be passed to :func:`evaluate_uci_gom`.
    """
    root = Path(root) if root is not None else default_root("uci_gom")
    path = uci_gom_file(root, chroma)
    X, lat, lon = load_uci_gom(path)
    ids = [f"uci-{i:04d}" for i in range(1, len(X) + 1)]
    tracks = pd.DataFrame({"track_id": ids, "title": ids, "artist": None, "lat": lat, "lon": lon,
                           "region": uci_gom_regions(lat, lon)})
    X.index = pd.Index(ids, name="track_id")
    return Dataset("uci_gom", root, tracks, features=X, info={"file": str(path)})


# --------------------------------------------------------------------------- evaluation


def _from_dataset(data: Dataset) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, str]:
    """Features, lat, lon, regions and a description of a loaded UCI GOM :class:`Dataset`."""
    if data.name != "uci_gom" or data.features is None:
        raise ValueError(f"evaluate_uci_gom needs the UCI GOM dataset (load_dataset('uci_gom', root)), "
                         f"not {data.name!r}" + (" without features" if data.features is None else ""))
    ids = data.tracks["track_id"].astype(str)
    missing = ids[~ids.isin(data.features.index.astype(str))]
    if len(missing):
        raise ValueError(f"{len(missing)} tracks without a features row, e.g. {missing.iloc[0]!r}")
    X = data.features.set_axis(data.features.index.astype(str)).loc[ids]
    lat, lon = data.tracks["lat"].to_numpy(float), data.tracks["lon"].to_numpy(float)
    regions = (data.tracks["region"].astype(str).to_numpy() if "region" in data.tracks
               else uci_gom_regions(lat, lon))
    return X, lat, lon, regions, str(data.info.get("file", data.root))


def _set_n_jobs(method: GeoMethod, n_jobs: int) -> None:
    """``n_jobs`` for a method (or a wrapped one) that left it to ``config.n_jobs()``."""
    while method is not None:
        if hasattr(method, "n_jobs") and method.n_jobs is None:
            method.n_jobs = n_jobs
        method = getattr(method, "method", None)


def _reporter(progress) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda message: print(message, file=sys.stderr, flush=True)
    return lambda message: None


#: Sort of :func:`evaluate_uci_gom`'s table: the mean compared with Zhou et al., then the balanced median.
UCI_GOM_SORT = ("mean_km", "balanced_median_km")


def evaluate_uci_gom(source: str | Path | Dataset | None = None, n_folds: int = 10, seed: int = 0,
                     methods: Sequence[GeoMethod] | None = None, n_boot: int = 1000,
                     val_fraction: float = 0.2, n_jobs: int | None = None, chroma: bool = False,
                     progress: bool | Callable[[str], None] = True) -> pd.DataFrame:
    """K-fold cross-validation of the geographic baselines on UCI GOM; best mean km first.

    ``source``: the release folder (default ``<data>/raw/uci_gom``; the file
    is chosen as :func:`load_uci_gom_dataset` does: ``chroma=False`` reads
    ``default_features_1059_tracks.txt``, 68 features, ``chroma=True``
    ``default_plus_chromatic_features_1059_tracks.txt``, 116), one of the two
    files, or an already loaded dataset (``load_dataset("uci_gom", root)``;
    its tracks are used, in their order). ``chroma=True`` with a file or a
    dataset of 68 features is an error rather than a silent 68-feature run.

    :func:`geomethods.cross_validate`, one method at a time, with each
    track's capital as its region and country, so a prediction's country is
    that of the nearest capital of the file. ``methods``: the methods to
    run, by default all eight of :func:`geomethods.default_methods` (pass a
    few, e.g. ``[geomethods.RandomForestUnitVector()]``, for a shorter run).

    The table has one row per method, sorted by ``mean_km`` (the mean
    great-circle error, km, over all tracks' out-of-fold predictions: the
    figure to compare with Zhou, Claire & King's 3,113 km,
    :data:`ZHOU_2014_MEAN_KM`; their data has 1,142 pieces in 73 areas),
    ties by ``balanced_median_km`` (the mean over countries of each
    country's median error, the ranking metric of the rest of the project);
    these two columns come first, then the other columns of
    :func:`geoscores.evaluate_predictions` (95 % bootstrap intervals
    ``<metric>_ci_low``/``_ci_high`` from ``n_boot`` resamples),
    ``fold_mean_km_mean`` / ``fold_mean_km_std`` over folds and ``params``
    (chosen per fold). ``table.attrs`` notes ``sorted_by``, ``file``,
    ``n_jobs``, ``zhou_2014_mean_km`` and ``seconds`` per method.
    :func:`uci_gom_summary_table` shows it as text, mean first.

    Time and cores: all eight methods on a 1,059-track file with 10 folds
    take minutes on one core (8-9 reported per real file; 4 for a synthetic
    68-feature file of that size on a 2-core test machine), over 90 % of it
    in the two random forests, the only methods that use several cores (the
    116-feature file takes longer: every split tries every feature). ``n_jobs``:
    their worker count, default ``None`` = :func:`config.n_jobs`
    (``MUSICGEO_JOBS``, else every core); it is also given to passed
    ``methods`` whose own ``n_jobs`` is ``None``. ``progress``: ``True`` (the
    default) prints a line to stderr before the run and after each method
    (its mean km and seconds elapsed), ``False`` is silent, and a function
    receives each line instead (e.g. ``logging.info``).
    """
    if isinstance(source, Dataset):
        if source.features is not None and chroma and source.features.shape[1] != UCI_GOM_FEATURE_COUNTS[1]:
            raise ValueError(f"chroma=True, but the dataset has {source.features.shape[1]} features; "
                             f"load it with load_dataset('uci_gom', root, chroma=True)")
        X_frame, lat, lon, regions, where = _from_dataset(source)
    else:
        path = uci_gom_file(source, chroma)
        X_frame, lat, lon = load_uci_gom(path)
        if chroma and X_frame.shape[1] != UCI_GOM_FEATURE_COUNTS[1]:
            raise ValueError(f"chroma=True, but {path} has {X_frame.shape[1]} features; pass the folder "
                             f"or {UCI_GOM_FILES[True]}")
        regions, where = uci_gom_regions(lat, lon), str(path)
    if n_jobs is None:
        n_jobs = config.n_jobs()
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a whole number >= 1 (None: config.n_jobs(), "
                         f"here {config.n_jobs()}), not {n_jobs!r}")
    n_jobs = int(n_jobs)
    if methods is None:
        methods = default_methods(seed, n_jobs)
    else:
        methods = list(methods)
        for method in methods:
            _set_n_jobs(method, n_jobs)
    if not methods:
        raise ValueError("methods is empty: nothing to evaluate")
    report = _reporter(progress)
    targets = pd.DataFrame({"lat": lat, "lon": lon, "region": regions, "country": regions})
    X = X_frame.to_numpy()
    report(f"UCI GOM: {where}: {len(X):,} tracks x {X.shape[1]} features, {len(np.unique(regions))} "
           f"countries; {len(methods)} methods x {n_folds} folds, n_jobs={n_jobs}")
    start, rows, seconds = time.perf_counter(), [], {}
    for number, method in enumerate(methods, start=1):
        began = time.perf_counter()
        rows.append(cross_validate(X, targets, n_folds=n_folds, seed=seed, methods=[method],
                                   n_boot=n_boot, val_fraction=val_fraction, n_jobs=n_jobs))
        seconds[method.name] = took = time.perf_counter() - began
        report(f"  [{number}/{len(methods)}] {method.name}: mean {rows[-1].loc[0, 'mean_km']:,.0f} km; "
               f"{took:.1f} s elapsed (total {time.perf_counter() - start:.1f} s elapsed)")
    table = pd.concat(rows, ignore_index=True).sort_values(list(UCI_GOM_SORT), kind="stable")
    first = [c for c in ("method", *UCI_GOM_SORT) if c in table]
    table = table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)
    table.attrs.update(sorted_by=UCI_GOM_SORT[0], file=where, n_jobs=n_jobs,
                       zhou_2014_mean_km=ZHOU_2014_MEAN_KM, seconds=seconds)
    return table


#: Columns of :func:`uci_gom_summary_table`: (column, header, km?), the mean first.
UCI_GOM_SUMMARY_COLUMNS = (
    ("mean_km", f"mean km (Zhou et al. 2014: {ZHOU_2014_MEAN_KM:,.0f})", True),
    ("balanced_median_km", "balanced median km (mean of country medians)", True),
    ("median_km", "median km", True),
    ("country_accuracy", "country accuracy", False),
    ("balanced_country_accuracy", "balanced country accuracy", False),
)


def uci_gom_summary_table(table: pd.DataFrame, round_km: int = 10, digits: int = 2) -> pd.DataFrame:
    """:func:`evaluate_uci_gom`'s table as text cells ``value [low, high]``, mean km first.

    Like :func:`georesults.summary_table`, whose first column is the balanced
    median; here the first column is ``mean_km``, the figure compared with
    Zhou, Claire & King's 3,113 km (its header says so), then
    ``balanced_median_km`` (mean over countries of each country's median
    error). Rows keep the table's order (best mean first).
    """
    return hit_rate_table(table, UCI_GOM_SUMMARY_COLUMNS, round_km, digits)
