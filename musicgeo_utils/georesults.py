"""Result files and display tables of the geographic comparison.

:func:`save_baseline_results` / :func:`load_baseline_results`: test
predictions (long format, :func:`geomethods.method_predictions`) and region
probabilities in one Parquet file, read by the later notebooks.
:func:`summary_table` / :func:`hit_rate_table`: a comparison table
(:func:`geomethods.compare_methods`, :func:`geoscores.methods_table`) as
rounded ``value [low, high]`` text; :func:`baseline_ratios`: the best method
against the constant and the first write-up's baselines.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .cache import write_parquet
from .geomethods import ScaledLatLonLinear
from .geoscores import RANK_BY, WITHIN_KM

# --------------------------------------------------------------------------- result files


_PROBA_PREFIX = "proba:"


def save_baseline_results(path, predictions: pd.DataFrame, proba: pd.DataFrame | None = None,
                          proba_method: str | None = None, temperature: float | None = None) -> Path:
    """Write test predictions (and region probabilities) to one Parquet file, atomically.

    ``predictions``: long format from :func:`geomethods.method_predictions`, optionally
    with true-place columns (``lat, lon, country, ...``) repeated per method.
    ``proba``: one row per ``tune_id`` (index), one column per region class,
    from ``proba_method`` (stored in the ``proba_method`` column); its columns
    are written as ``proba:<region>`` and joined on ``tune_id``.
    ``temperature``: the calibration temperature fitted on validation for
    those probabilities (:func:`calibration.fit_temperature`), stored in a
    ``temperature`` column; read it with :func:`saved_temperature`. Read back
    with :func:`load_baseline_results`.
    """
    frame = predictions.copy()
    if proba is not None:
        wide = proba.add_prefix(_PROBA_PREFIX)
        wide.index = wide.index.astype(str)
        frame = frame.join(wide, on="tune_id")
        frame["proba_method"] = proba_method or ""
    if temperature is not None:
        frame["temperature"] = float(temperature)
    return write_parquet(path, frame)


def saved_temperature(path) -> float | None:
    """The calibration temperature that :func:`save_baseline_results` stored in ``path`` (None if none)."""
    frame = pd.read_parquet(path, columns=None)
    return float(frame["temperature"].iloc[0]) if "temperature" in frame and len(frame) else None


def load_baseline_results(path) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """``(predictions, proba, proba_method)`` as written by :func:`save_baseline_results`.

    ``predictions`` is the long table without probability columns; ``proba``
    has one row per ``tune_id`` and one column per region (empty when none
    were saved).
    """
    frame = pd.read_parquet(path)
    proba_columns = [c for c in frame.columns if c.startswith(_PROBA_PREFIX)]
    predictions = frame.drop(columns=proba_columns + ["proba_method", "temperature"], errors="ignore")
    proba = (frame.drop_duplicates("tune_id").set_index("tune_id")[proba_columns]
             .rename(columns=lambda c: c[len(_PROBA_PREFIX):]))
    method = frame["proba_method"].iloc[0] if "proba_method" in frame and len(frame) else None
    return predictions, proba, method


# --------------------------------------------------------------------------- display tables


#: Columns of :func:`summary_table`: (column of a comparison table, header, km?).
SUMMARY_COLUMNS = (
    ("balanced_median_km", "balanced median km (mean of country medians)", True),
    ("median_km", "median km", True),
    ("mean_km", "mean km", True),
    ("balanced_within_750km", "balanced within 750 km", False),
    ("country_accuracy", "country accuracy", False),
    ("balanced_country_accuracy", "balanced country accuracy", False),
)


def summary_table(table: pd.DataFrame, round_km: int = 10, digits: int = 2) -> pd.DataFrame:
    """A comparison table as text cells ``value [low, high]``, rounded for display and nbval.

    Distances (km) are rounded to ``round_km`` km, shares and accuracies to
    ``digits`` decimals, so float noise cannot change the text. The row
    order of ``table`` is kept (best first for :func:`geomethods.compare_methods`).
    The "balanced median km (mean of country medians)" column is ``balanced_median_km``: the mean over
    countries of each country's median error (not a median over tunes).
    """
    return hit_rate_table(table, SUMMARY_COLUMNS, round_km, digits)


#: Columns of :func:`hit_rate_table`: (column of a comparison table, header, km?).
HIT_RATE_COLUMNS = tuple(
    [(f"within_{d}km", f"within {d:,} km", False) for d in WITHIN_KM]
    + [(f"balanced_within_{d}km", f"balanced within {d:,} km", False) for d in WITHIN_KM]
    + [("country_accuracy", "country accuracy", False),
       ("balanced_country_accuracy", "balanced country accuracy", False)])


def _interval_text(value: float, low, high, km: bool, round_km: int, digits: int) -> str:
    """``value [low, high]`` rounded for display: km to ``round_km``, shares to ``digits``."""
    def text(v):
        return f"{round(v / round_km) * round_km:.0f}" if km else f"{v:.{digits}f}"

    if low is None or pd.isna(low):
        return text(value)
    return f"{text(value)} [{text(low)}, {text(high)}]"


def hit_rate_table(table: pd.DataFrame, columns=HIT_RATE_COLUMNS, round_km: int = 10,
                   digits: int = 2) -> pd.DataFrame:
    """Like :func:`summary_table`, for other columns: by default the hit rates and accuracies.

    ``columns``: ``(column, header, km)`` triples; each cell is
    ``value [low, high]`` from ``<column>_ci_low``/``_ci_high`` when the table
    has them. Shares ("within X km", accuracies) are fractions in [0, 1].
    """
    out = pd.DataFrame({"method": table["method"]})
    for column, header, km in columns:
        out[header] = [_interval_text(row[column], row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high"),
                                      km, round_km, digits) for _, row in table.iterrows()]
    return out.set_index("method")


def baseline_ratios(table: pd.DataFrame, metric: str = RANK_BY) -> pd.DataFrame:
    """The best method's ``metric`` divided by the constant and the scaled-linear baselines'.

    ``table`` is a :func:`geomethods.compare_methods` table. The constant reference is
    the better (smaller ``metric``) of the two constant predictors, so the
    ratio is not flattered by the weaker one. Only methods whose ``input`` is
    audio compete (rows of the score references, ``input == "true notes"``,
    are left out). Returns one row per reference:
    ``reference, reference_value, best_method, best_value, ratio``.
    """
    if "input" in table:
        table = table[table["input"].fillna("audio") == "audio"]
    ranked = table.sort_values(metric, kind="stable").reset_index(drop=True)
    is_constant = ranked["method"].str.startswith("constant")
    is_linear = ranked["method"] == ScaledLatLonLinear.name
    learned = ranked[~is_constant & ~is_linear]
    if learned.empty or not is_constant.any() or not is_linear.any():
        raise ValueError("table needs a constant, the scaled-linear and at least one other method")
    best = learned.iloc[0]
    rows = []
    for reference in (ranked[is_constant].iloc[0], ranked[is_linear].iloc[0]):
        rows.append({"reference": reference["method"], "reference_value": reference[metric],
                     "best_method": best["method"], "best_value": best[metric],
                     "ratio": best[metric] / reference[metric]})
    return pd.DataFrame(rows)
