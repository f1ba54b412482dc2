"""Calibration of class probabilities: temperature scaling, expected calibration error, reliability.

A classifier is *calibrated* when, of the answers it gives with confidence
0.8, 80 % are right. Neural networks trained with cross-entropy are often
over-confident (Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern
Neural Networks", ICML 2017).

- :func:`fit_temperature`: temperature scaling, the one-parameter fix of Guo
  et al.: probabilities ``softmax(logits / T)`` with ``T > 0`` chosen to
  minimise the negative log-likelihood (NLL) of the *validation* labels
  (scipy's bounded scalar minimiser over ``log T``). ``T > 1`` softens an
  over-confident model, ``T < 1`` sharpens an under-confident one; the
  ranking of classes, hence the accuracy, is unchanged. For a model that
  gives only probabilities (scikit-learn's ``predict_proba``), use
  :func:`log_probabilities` as the logits (``softmax(log p / T)`` is ``p``
  raised to ``1 / T`` and renormalised).
- :func:`product_of_experts`: two or more models' answers combined as the
  normalised geometric mean of their probabilities, equal weights (Hinton's
  product of experts with each expert's probabilities raised to ``1 / m``),
  each expert first calibrated by its own temperature when ``temperatures``
  are given, so that an over-confident expert does not outvote the other.
- :func:`expected_calibration_error`: top-label ECE with equal-width
  confidence bins, and the per-bin table behind it.
- :func:`reliability_figure`: accuracy against confidence per bin for one or
  more models, with the diagonal of perfect calibration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

#: Range of log-temperatures searched by :func:`fit_temperature` (T from about 0.007 to 150).
LOG_TEMPERATURE_BOUNDS = (-5.0, 5.0)


def _check_scores(scores, name: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] < 2:
        raise ValueError(f"{name} must be an (n, k) array with n >= 1 rows and k >= 2 classes, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return scores


def _check_labels(labels, n: int, k: int) -> np.ndarray:
    labels = np.asarray(labels).ravel()
    if len(labels) != n:
        raise ValueError(f"labels: {len(labels)} labels for {n} rows")
    if not (np.issubdtype(labels.dtype, np.integer) or (np.issubdtype(labels.dtype, np.floating)
                                                        and np.all(labels == np.round(labels)))):
        raise ValueError(f"labels must be integer class codes, got dtype {labels.dtype}")
    labels = labels.astype(int)
    if np.any((labels < 0) | (labels >= k)):
        raise ValueError(f"labels must lie in [0, {k - 1}] (one per column), got {labels.min()}..{labels.max()}")
    return labels


def _check_proba(proba) -> np.ndarray:
    proba = _check_scores(proba, "proba")
    if np.any(proba < 0) or np.any(proba > 1) or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("proba must hold probabilities in [0, 1] whose rows sum to 1")
    return proba


def log_probabilities(proba, floor: float = 1e-12) -> np.ndarray:
    """``log(max(proba, floor))``: logits for :func:`fit_temperature` from a model that gives probabilities."""
    return np.log(np.maximum(_check_proba(proba), floor))


def product_of_experts(*logits, temperatures=None) -> np.ndarray:
    """Logits of the normalised geometric mean of several models' probabilities, equal weights.

    Each ``logits`` array ``(n, k)`` (a CRNN's logits, or a classifier's
    :func:`log_probabilities`) is turned into log-probabilities by a row-wise
    log-softmax; the result is their mean, whose softmax is ``prod_i p_i^(1/m)``
    renormalised. A class that any one model rules out is ruled out; where the
    models disagree, the answer is the class both find likely. ``temperatures``
    (one per model, each fitted on validation by :func:`fit_temperature` on that
    model's own logits): each model's logits are divided by its temperature
    first, a product of calibrated experts; without them nothing is fitted.
    """
    if not logits:
        raise ValueError("product_of_experts needs at least one model's logits")
    parts = [_check_scores(part, "logits") for part in logits]
    if len({part.shape for part in parts}) != 1:
        raise ValueError(f"every model's logits must have the same shape, got {[part.shape for part in parts]}")
    if temperatures is not None:
        temperatures = np.asarray(temperatures, dtype=float).ravel()
        if temperatures.size != len(parts) or not np.all(np.isfinite(temperatures) & (temperatures > 0)):
            raise ValueError(f"temperatures: need one positive temperature per model ({len(parts)}), "
                             f"got {temperatures.tolist()}")
        parts = [part / t for part, t in zip(parts, temperatures)]
    return np.mean([log_softmax(part, axis=1) for part in parts], axis=0)


def nll(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of ``labels`` under ``softmax(logits / temperature)``."""
    logits = _check_scores(logits, "logits")
    labels = _check_labels(labels, len(logits), logits.shape[1])
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return float(-np.mean(log_softmax(logits / temperature, axis=1)[np.arange(len(labels)), labels]))


@dataclass(frozen=True)
class TemperatureScaling:
    """A fitted temperature: :meth:`transform` turns logits into calibrated probabilities.

    ``nll_before`` / ``nll_after``: mean validation NLL (nats) at
    temperature 1 and at ``temperature``.
    """

    temperature: float
    nll_before: float
    nll_after: float

    def transform(self, logits) -> np.ndarray:
        """``softmax(logits / temperature)``, an (n, k) array of probabilities."""
        return softmax_with_temperature(logits, self.temperature)


def softmax_with_temperature(logits, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)``, an (n, k) array of probabilities (e.g. with a saved temperature)."""
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    return softmax(_check_scores(logits, "logits") / float(temperature), axis=1)


def fit_temperature(logits, labels) -> TemperatureScaling:
    """Temperature minimising the validation NLL of ``softmax(logits / T)``.

    ``logits``: (n, k) scores (or :func:`log_probabilities`); ``labels``:
    the true class codes 0..k-1. Minimises over ``log T`` in
    :data:`LOG_TEMPERATURE_BOUNDS` with scipy's bounded Brent method
    (deterministic). Fit on validation data, never on the test set.
    """
    logits = _check_scores(logits, "logits")
    labels = _check_labels(labels, len(logits), logits.shape[1])
    result = minimize_scalar(lambda log_t: nll(logits, labels, float(np.exp(log_t))),
                             bounds=LOG_TEMPERATURE_BOUNDS, method="bounded", options={"xatol": 1e-6})
    temperature = float(np.exp(result.x))
    return TemperatureScaling(temperature, nll(logits, labels), nll(logits, labels, temperature))


def expected_calibration_error(proba, labels, n_bins: int = 15) -> tuple[float, pd.DataFrame]:
    """Top-label expected calibration error and its per-bin table.

    Each row's confidence is its largest probability, and it is right when
    that class is the label. Rows fall into ``n_bins`` equal-width bins
    ``(lower, upper]`` of confidence (a confidence of 0 into the first);
    ``ECE = sum_b (count_b / n) |accuracy_b - confidence_b|``. Returns
    ``(ece, table)``; the table has one row per bin: ``bin, lower, upper,
    count, confidence`` (mean), ``accuracy`` (NaN where the bin is empty)
    and ``gap`` (accuracy - confidence).
    """
    proba = _check_proba(proba)
    labels = _check_labels(labels, len(proba), proba.shape[1])
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    n_bins = int(n_bins)
    confidence = proba.max(axis=1)
    correct = (np.argmax(proba, axis=1) == labels).astype(float)
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    table = pd.DataFrame({"bin": np.arange(n_bins), "lower": np.arange(n_bins) / n_bins,
                          "upper": np.arange(1, n_bins + 1) / n_bins, "count": count,
                          "confidence": mean_conf, "accuracy": accuracy, "gap": accuracy - mean_conf})
    filled = count > 0
    ece = float(np.sum(count[filled] * np.abs(table["gap"].to_numpy()[filled])) / len(proba))
    return ece, table


def _ece_of_table(table: pd.DataFrame) -> float:
    filled = table["count"] > 0
    return float((table.loc[filled, "count"] * (table.loc[filled, "accuracy"] - table.loc[filled, "confidence"]).abs()).sum()
                 / table["count"].sum())


def reliability_figure(tables: dict, ax=None, title: str = "Reliability"):
    """Accuracy against mean confidence per bin, one series per model; returns the figure.

    ``tables``: name -> bin table of :func:`expected_calibration_error`.
    Each non-empty bin is a point whose area grows with its count, joined by
    a line; the dashed diagonal is perfect calibration; the legend gives each
    model's ECE. Draws on ``ax`` when given.
    """
    import matplotlib.pyplot as plt

    if not tables:
        raise ValueError("tables must name at least one bin table")
    for name, table in tables.items():
        missing = {"count", "confidence", "accuracy"} - set(table.columns)
        if missing:
            raise ValueError(f"bin table {name!r} lacks column(s) {sorted(missing)}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.5", linewidth=1, label="perfect calibration")
    largest = max(float(t["count"].max()) for t in tables.values()) or 1.0
    for name, table in tables.items():
        shown = table[table["count"] > 0]
        line, = ax.plot(shown["confidence"], shown["accuracy"], linewidth=1,
                        label=f"{name} (ECE {_ece_of_table(table):.3f})")
        ax.scatter(shown["confidence"], shown["accuracy"], s=10 + 190 * shown["count"] / largest,
                   color=line.get_color(), alpha=0.7)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-label probability, bin mean)",
           ylabel="accuracy in the bin", title=title, aspect="equal")
    ax.legend(loc="upper left", fontsize="small")
    return fig
