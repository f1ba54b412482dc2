"""Models that ``predict`` answers with, saved by the notebooks and loaded without unpickling.

A notebook that chooses a model on validation saves it here as a *model
card*: a JSON file that says what the model is, which input columns it reads
(and how they are standardised), its classes and its validation score, beside
the model itself:

- ``kind="sklearn"``: a fitted scikit-learn estimator (a logistic-regression
  pipeline, gradient-boosted trees, a random forest) in skops' format
  (``.skops``), which stores the estimator's state as data and loads only the
  types it is told to trust: scikit-learn's own, NumPy's, and those on
  :data:`TRUSTED_TYPES`. No pickle is read at any point.
- ``kind="crnn"``: a PyTorch checkpoint of :mod:`musicgeo_utils.training`
  (loaded with ``weights_only=True``); its input is the log-mel spectrogram
  or, when its ``extra`` says so, the transcribed notes' semitone roll.

A card may carry a second card under ``extra[PRODUCT_KEY]`` (a CRNN's, beside
a classifier's): the model it describes is the product of the two.

The inputs of an sklearn card are named columns of :func:`clip_inputs`'s
table: the summary features under their own names and the transcribed score's
descriptors prefixed ``heard:`` (notebook 03's convention). ``mean``/``std``,
when given, are the training split's (:func:`features.standardisation`) and
are applied with :func:`features.apply_standardisation`, the formula the
notebooks use, so a clip is scaled exactly as the model's training clips were.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import atomic_path, read_json, write_json
from .features import apply_standardisation

CARD_FORMAT = "musicgeo-model-1"
KINDS = ("sklearn", "crnn")
#: Types outside scikit-learn's and NumPy's own classes that a saved estimator may hold.
TRUSTED_TYPES = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
#: A card whose ``extra`` holds another card (as a dict) under this key answers with the product of the two
#: models' probabilities (:func:`calibration.product_of_experts`; notebook 04's ``style_choice.ProductCandidate``).
PRODUCT_KEY = "product_with"
#: Key of a product card's ``extra`` holding each expert's temperature, the partner CRNN's first
#: (:func:`calibration.product_of_experts`'s ``temperatures``); a card without it multiplies them uncalibrated.
EXPERT_TEMPERATURES_KEY = "expert_temperatures"
#: Prefix of the transcribed score's columns in :func:`clip_inputs`.
HEARD_PREFIX = "heard:"


class ModelError(Exception):
    """A model card or saved model that cannot be used, told in one line naming the file."""


@dataclass(frozen=True)
class InputSpec:
    """The columns a model reads, in order, and (optionally) their standardisation."""

    columns: tuple[str, ...]
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def vector(self, inputs: pd.Series, name: str = "<clip>") -> np.ndarray:
        """``(1, d)`` float64 row of ``inputs`` (a named Series), standardised when the spec says so."""
        return self.matrix(inputs.to_frame().T, name)

    def matrix(self, table: pd.DataFrame, name: str = "<clips>") -> np.ndarray:
        """``(n, d)`` float64 rows of ``table`` (named columns, one row per clip), standardised as :meth:`vector`."""
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise ModelError(f"{name}: the model reads {len(missing)} column(s) the clip lacks, e.g. {missing[:3]}")
        values = table[list(self.columns)].to_numpy(dtype=float)
        return values if self.mean is None else apply_standardisation(values, self.mean, self.std)

    def to_dict(self) -> dict:
        plain = None if self.mean is None else [float(v) for v in self.mean]
        return {"columns": list(self.columns), "mean": plain,
                "std": None if self.std is None else [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, raw: dict, where: str) -> "InputSpec":
        columns = raw.get("columns") if isinstance(raw, dict) else None
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise ModelError(f"{where}: inputs.columns must be a non-empty list of names")
        mean, std = raw.get("mean"), raw.get("std")
        if (mean is None) != (std is None):
            raise ModelError(f"{where}: inputs.mean and inputs.std come together")
        if mean is not None:
            mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
            if mean.shape != (len(columns),) or std.shape != (len(columns),) or not np.all(std > 0):
                raise ModelError(f"{where}: inputs.mean/std must hold one value per column (std > 0)")
        return cls(tuple(columns), mean, std)

    @classmethod
    def standardised(cls, table: pd.DataFrame, train, columns=None) -> "InputSpec":
        """The spec of ``columns`` (default: all) z-scored with ``table``'s training rows, as the notebooks do."""
        from .features import standardisation

        stats = standardisation(table, train)
        columns = list(stats.index if columns is None else columns)
        stats = stats.loc[columns]
        return cls(tuple(columns), stats["mean"].to_numpy(), stats["std"].to_numpy())


@dataclass(frozen=True)
class ModelCard:
    """A saved model: ``kind``, ``name`` (as the notebook's tables call it), ``features`` (its input, in
    words), ``file`` (the model, beside the card), ``classes``, ``inputs`` (sklearn only), ``validation``
    (its validation scores) and ``extra`` (task-specific fields, e.g. a region model's decoding)."""

    kind: str
    name: str
    features: str
    file: Path
    classes: tuple[str, ...]
    inputs: InputSpec | None = None
    validation: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": CARD_FORMAT, "kind": self.kind, "name": self.name, "features": self.features,
                "file": self.file.name, "classes": list(self.classes),
                "inputs": None if self.inputs is None else self.inputs.to_dict(),
                "validation": self.validation, "extra": self.extra}


def save_sklearn(path: str | os.PathLike, estimator) -> Path:
    """Write a fitted scikit-learn estimator in skops' format, atomically (a temporary file, then rename)."""
    import skops.io

    with atomic_path(path) as tmp:
        skops.io.dump(estimator, tmp)
    return Path(path)


def load_sklearn(path: str | os.PathLike):
    """A skops file's estimator; refuses (ModelError) any type outside scikit-learn, NumPy and TRUSTED_TYPES."""
    import skops.io

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"saved model not found: {path}")
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as err:  # a damaged zip, not skops' format
        raise ModelError(f"{path}: not a readable skops file ({type(err).__name__}: {err})") from None
    refused = [t for t in untrusted if t not in TRUSTED_TYPES]
    if refused:
        raise ModelError(f"{path}: holds types this project does not trust: {refused[:3]}")
    return skops.io.load(path, trusted=list(untrusted))


def write_card(path: str | os.PathLike, card: ModelCard) -> Path:
    """Write a model card's JSON (atomically); the model file must already sit beside it."""
    path = Path(path)
    if not (path.parent / card.file.name).is_file():
        raise ModelError(f"card {path}: its model {card.file.name} is not in {path.parent}")
    return write_json(path, json.loads(json.dumps(card.to_dict())))


def save_sklearn_card(folder: str | os.PathLike, stem: str, estimator, *, name: str, features: str, classes,
                      inputs: InputSpec, validation: dict, extra: dict | None = None) -> Path:
    """``<stem>.skops`` and its card ``<stem>.json`` in ``folder``; returns the card's path."""
    folder = Path(folder)
    model_path = save_sklearn(folder / f"{stem}.skops", estimator)
    card = ModelCard("sklearn", name, features, model_path, tuple(map(str, classes)), inputs, dict(validation),
                     dict(extra or {}))
    return write_card(folder / f"{stem}.json", card)


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read and check a model card; every problem names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model card not found: {path}")
    return card_from_dict(read_json(path, ModelError, "card "), path.parent, f"card {path}")


def card_from_dict(raw: dict, folder: Path, where: str) -> ModelCard:
    """A :class:`ModelCard` from its JSON form; ``file`` is resolved in ``folder`` and must exist there."""
    if not isinstance(raw, dict) or raw.get("format") != CARD_FORMAT:
        raise ModelError(f"{where}: not a {CARD_FORMAT} model card")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ModelError(f"{where}: kind must be one of {KINDS}, got {kind!r}")
    name = raw.get("file")
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ModelError(f"{where}: file {name!r} must be a file name in the card's folder")
    if not (folder / name).is_file():
        raise ModelError(f"{where}: model file not found: {folder / name}")
    classes = raw.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"{where}: classes must be a non-empty list of names")
    inputs = None
    if kind == "sklearn":
        inputs = InputSpec.from_dict(raw.get("inputs"), where)
    for key in ("name", "features"):
        if not isinstance(raw.get(key), str):
            raise ModelError(f"{where}: {key} must be a string")
    validation, extra = raw.get("validation") or {}, raw.get("extra") or {}
    if not isinstance(validation, dict) or not isinstance(extra, dict):
        raise ModelError(f"{where}: validation and extra must be objects")
    return ModelCard(kind, raw["name"], raw["features"], folder / name, tuple(classes), inputs, validation, extra)


def clip_inputs(summary: pd.Series, heard: pd.Series) -> pd.Series:
    """One clip's named inputs: the summary features, then the transcribed score prefixed ``heard:``."""
    return pd.concat([summary.astype(float), heard.astype(float).add_prefix(HEARD_PREFIX)])


def clip_input_table(summary: pd.DataFrame, heard: pd.DataFrame, clip_ids) -> pd.DataFrame:
    """:func:`clip_inputs` of many clips: row ``i`` of ``summary`` and of ``heard`` (row order) is clip
    ``clip_ids[i]``, the table's index."""
    if not len(summary) == len(heard) == len(clip_ids):
        raise ValueError(f"{len(summary)} summary rows, {len(heard)} transcribed-score rows, {len(clip_ids)} clip ids")
    table = pd.concat([summary.astype(float).reset_index(drop=True),
                       heard.astype(float).add_prefix(HEARD_PREFIX).reset_index(drop=True)], axis=1)
    table.index = pd.Index(np.asarray(clip_ids), name="clip_id")
    return table


def save_region_classifier(folder, method, X: pd.DataFrame, stats: pd.DataFrame, shares: pd.DataFrame,
                           temperature: float, stem: str = "region-classifier"):
    """Save a fitted region classifier (plain or :class:`OnFeatureSubsets`) as a model card for ``predict``.

    ``X``: the feature table it was fitted on (its column names); ``stats``:
    ``mean``/``std`` of those columns on the training split
    (:func:`features.standardisation`); ``shares``: the training tunes'
    ``P(country | region)``; ``temperature``: fitted on validation. The card
    records the classifier's best validation balanced median km, the decoding
    and region centres it chose, and the feature subset. Returns the card's path.
    """
    from .geomethods import OnFeatureSubsets, RegionClassifier
    from .predict_bundle import region_extra

    inner, columns, features = method, np.arange(X.shape[1]), "all features"
    if isinstance(method, OnFeatureSubsets):
        inner, columns, features = method.method, method.columns_, method.best_params_["features"]
    if not isinstance(inner, RegionClassifier):
        raise TypeError(f"{method.name} is not a region classifier: predict needs region probabilities")
    names = list(X.columns[columns])
    inputs = InputSpec(tuple(names), stats.loc[names, "mean"].to_numpy(), stats.loc[names, "std"].to_numpy())
    centres = inner.centroids_.reset_index()[["region", "lat", "lon"]]
    centres["country"] = shares.loc[list(inner.classes_)].idxmax(axis=1).to_numpy()  # its main country, for display
    validation = {"balanced_median_km": float(method.validation_scores_["val_balanced_median_km"].min()),
                  "params": {k: v if isinstance(v, (int, float, str)) else str(v) for k, v in method.best_params_.items()}}
    extra = region_extra(centres, shares.loc[list(inner.classes_)], method.best_params_["decoding"], temperature,
                         decode_calibrated=False)
    return save_sklearn_card(folder, stem, inner.classifier_, name=method.name, features=features,
                             classes=inner.classes_, inputs=inputs, validation=validation, extra=extra)
