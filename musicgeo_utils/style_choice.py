"""Which style model ``predict`` uses, and which CRNN the map of music is drawn from: both chosen on validation.

Notebook 04 trains CRNNs on two inputs (the mel spectrogram; the semitone
roll of the transcribed notes) and classifiers (:func:`evaluation.classifier_on_splits`)
on descriptor inputs. Each is a candidate with its validation macro-F1 (a
CRNN scored over every window of each validation clip, as ``predict`` scores
a file; a classifier by the validation score that chose it). :func:`choose`
ranks them, together with one more: the **product** of the best CRNN and the
best classifier (:class:`ProductCandidate`, the normalised geometric mean of
their probabilities, equal weights, each model first calibrated by its own
temperature fitted on validation, so that an over-confident classifier does
not outvote the network), since a network reading
the notes and a classifier of the same notes' descriptors err on different
tunes. The best of all (the highest validation macro-F1; among the candidates
validation cannot tell apart on it, the best validation log-likelihood:
:func:`choose`) becomes the bundle's style model card, the best
CRNN gives the held-out outputs that notebook 05 maps and the embeddings of
the reference tunes that ``predict`` names as neighbours. The best model's
probabilities are then calibrated: one temperature fitted on the validation
tunes (:func:`calibration.fit_temperature`, on a classifier's log-probabilities
or a CRNN's clip logits), which the card records and ``predict`` applies, so
the probability it states for a style is about how often such an answer is
right. A temperature never changes which style is most probable. The test
split plays no part in either choice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from . import calibration, evaluation, meldata, saved_models, training


def _rows(tunes: pd.DataFrame, codes, split: str) -> np.ndarray:
    """The rows of ``tunes`` in ``split`` whose class code is not negative (the tunes a style model is scored on)."""
    return (np.asarray(codes) >= 0) & (tunes["split"].to_numpy() == split)


def _validation_macro_f1(candidate, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> float:
    """Macro-F1 of the top class of ``candidate.logits`` on the validation tunes (a CRNN: whole clips)."""
    codes = np.asarray(codes)
    logits = candidate.logits(tunes, codes, "val", seed, device)
    return evaluation.macro_f1(codes[_rows(tunes, codes, "val")], logits.argmax(axis=1))


@dataclass
class CrnnCandidate:
    """A trained CRNN: its table ``name``, input (``features``, in words), the model, its per-tune
    ``inputs`` (mel paths or rolls, indexed by tune id), ``crop_frames``, its ``checkpoint`` file,
    the model card's ``card_extra`` (how ``predict`` feeds it, e.g. ``{"input": "pitch roll", ...}``) and
    the ``window_hop`` of the windows that score a clip (``None``: half a window; the card records
    any other)."""

    name: str
    features: str
    model: nn.Module
    inputs: pd.Series
    crop_frames: int
    checkpoint: Path
    card_extra: dict = field(default_factory=dict)
    window_hop: int | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    def outputs(self, tunes: pd.DataFrame, codes, splits=("val",), seed: int = 0, device=None,
                exact: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tune_ids, logits, embeddings)`` of the rows of ``tunes`` in ``splits`` (in that order) whose
        code is not negative, every window of each clip averaged (:data:`meldata.CLIP_WINDOWS`).

        A split's outputs are computed once per (rows, codes, exact) and reused.
        """
        codes = np.asarray(codes)
        ids, logits, embeddings = [], [], []
        for split in splits:
            rows = _rows(tunes, codes, split)
            split_ids = tunes["tune_id"].to_numpy()[rows].astype(str)
            key = (split, tuple(split_ids), exact)
            if key not in self._memo:
                ds = meldata.split_datasets(tunes, self.inputs, codes, self.crop_frames, seed, splits=(split,),
                                            window_hop=self.window_hop)[split]
                self._memo[key] = training.predict(self.model, ds.as_eval(meldata.CLIP_WINDOWS), device, exact=exact)
            ids.append(split_ids)
            logits.append(self._memo[key][0])
            embeddings.append(self._memo[key][1])
        return np.concatenate(ids), np.concatenate(logits), np.concatenate(embeddings)

    def with_inputs(self, inputs: pd.Series) -> "CrnnCandidate":
        """The same network reading other clips' inputs (e.g. other renders of the same tunes)."""
        return dataclasses.replace(self, inputs=inputs, _memo={})

    def validation_f1(self, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> float:
        return _validation_macro_f1(self, tunes, codes, seed, device)

    def card(self, classes, validation_f1: float | None, folder: Path | None = None,
             extra: dict | None = None) -> saved_models.ModelCard:
        return saved_models.ModelCard("crnn", self.name, self.features, Path(self.checkpoint), tuple(map(str, classes)),
                                      validation={} if validation_f1 is None else {"macro_f1": float(validation_f1)},
                                      extra={**self.extra(), **(extra or {})})

    def extra(self) -> dict:
        """How ``predict`` feeds this network: ``card_extra`` and a ``window_hop`` other than half a window."""
        return {**({} if self.window_hop is None else {"window_hop": self.window_hop}), **self.card_extra}

    def logits(self, tunes: pd.DataFrame, codes, split: str, seed: int = 0, device=None) -> np.ndarray:
        """Clip logits (every window averaged) of the rows of ``split`` whose code is not negative."""
        return self.outputs(tunes, codes, (split,), seed, device)[1]


@dataclass
class ClassifierCandidate:
    """A classifier chosen by :func:`evaluation.classifier_on_splits`: its table ``name``, input
    ``features`` (in words), the ``chosen`` model, the input ``columns`` (as ``predict`` names them)
    and ``X``, the input of every tune (rows aligned with ``tunes``)."""

    name: str
    features: str
    chosen: evaluation.ChosenModel
    columns: list[str]
    X: np.ndarray

    def validation_f1(self, tunes=None, codes=None, seed: int = 0, device=None) -> float:
        return float(max(self.chosen.scores.values()))

    def card(self, classes, validation_f1: float, folder: Path | None = None,
             extra: dict | None = None) -> saved_models.ModelCard:
        """Writes ``style-classifier.skops`` and its card in ``folder``."""
        if folder is None:
            raise ValueError(f"{self.name}: a classifier's card needs the folder its model is saved in")
        return saved_models.read_card(saved_models.save_sklearn_card(
            folder, "style-classifier", self.chosen.model, name=self.name, features=self.features,
            classes=classes, inputs=saved_models.InputSpec(tuple(self.columns)),
            validation={"macro_f1": float(validation_f1)}, extra=extra))

    def logits(self, tunes: pd.DataFrame, codes, split: str, seed: int = 0, device=None) -> np.ndarray:
        """Log-probabilities (:func:`calibration.log_probabilities`) of the rows of ``split`` whose code is not
        negative: what a temperature divides, as ``predict`` does with a classifier's probabilities."""
        rows = _rows(tunes, codes, split)
        return calibration.log_probabilities(self.chosen.model.predict_proba(self.X[rows]))


@dataclass
class ProductCandidate:
    """The product of experts of a CRNN and a classifier (:func:`calibration.product_of_experts`):
    its logits are the mean of the two models' log-probabilities, each divided first by its own
    ``temperatures`` (the CRNN's, the classifier's; ``None``: uncalibrated). Named by both."""

    crnn: CrnnCandidate
    classifier: ClassifierCandidate
    temperatures: tuple[float, float] | None = None

    @classmethod
    def calibrated(cls, crnn: CrnnCandidate, classifier: ClassifierCandidate, tunes: pd.DataFrame, codes,
                   seed: int = 0, device=None) -> "ProductCandidate":
        """The product of the two models, each calibrated by a temperature fitted on the validation tunes
        (:func:`calibration.fit_temperature` on its own logits)."""
        truth = np.asarray(codes)[_rows(tunes, codes, "val")]
        temperatures = tuple(calibration.fit_temperature(model.logits(tunes, codes, "val", seed, device),
                                                         truth).temperature for model in (crnn, classifier))
        return cls(crnn, classifier, temperatures)

    @property
    def name(self) -> str:
        return f"{self.crnn.name} x {self.classifier.name}"

    @property
    def features(self) -> str:
        return f"{self.crnn.features} + {self.classifier.features}"

    def logits(self, tunes: pd.DataFrame, codes, split: str, seed: int = 0, device=None) -> np.ndarray:
        return calibration.product_of_experts(self.crnn.logits(tunes, codes, split, seed, device),
                                              self.classifier.logits(tunes, codes, split, seed, device),
                                              temperatures=self.temperatures)

    def validation_f1(self, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> float:
        return _validation_macro_f1(self, tunes, codes, seed, device)

    def with_inputs(self, crnn_inputs: pd.Series, X: np.ndarray) -> "ProductCandidate":
        """The same two models reading other clips: the CRNN's ``crnn_inputs``, the classifier's rows ``X``."""
        return ProductCandidate(self.crnn.with_inputs(crnn_inputs), dataclasses.replace(self.classifier, X=X),
                                self.temperatures)

    def card(self, classes, validation_f1: float, folder: Path | None = None,
             extra: dict | None = None) -> saved_models.ModelCard:
        """The classifier's card (``style-classifier.skops``), named as the product, with the CRNN's card
        under ``extra[saved_models.PRODUCT_KEY]`` and the two temperatures under
        ``extra[saved_models.EXPERT_TEMPERATURES_KEY]``: ``predict`` multiplies the two models' answers as
        :meth:`logits` does."""
        partner = self.crnn.card(classes, None).to_dict()  # its own score is in the choice's table
        named = dataclasses.replace(self.classifier, name=self.name, features=self.features)
        extra = {**(extra or {}), saved_models.PRODUCT_KEY: partner}
        if self.temperatures is not None:
            extra[saved_models.EXPERT_TEMPERATURES_KEY] = [float(t) for t in self.temperatures]
        return named.card(classes, validation_f1, folder, extra=extra)


@dataclass
class StyleChoice:
    """Every candidate's validation macro-F1 (best first), the best candidate, the best CRNN, the
    temperature ``scaling`` of the best candidate's probabilities (fitted on validation), the
    ``product`` of the best CRNN and the best classifier (``None`` without a classifier) and the
    ``table`` behind the choice (:func:`choose`: per candidate, in candidate order, its validation
    macro-F1, the bootstrap interval of its difference to the leader's, its validation negative
    log-likelihood after its own temperature, and which one was ``chosen``)."""

    validation_f1: pd.Series
    best: CrnnCandidate | ClassifierCandidate | ProductCandidate
    best_crnn: CrnnCandidate
    scaling: calibration.TemperatureScaling
    product: ProductCandidate | None = None
    table: pd.DataFrame | None = None

    def card(self, classes, folder: Path | None = None) -> saved_models.ModelCard:
        """The best model's card (``predict``'s style model), its ``extra`` holding the ``temperature``."""
        return self.best.card(classes, self.validation_f1[self.best.name], folder,
                              extra={"temperature": float(self.scaling.temperature)})

    def probabilities(self, tunes: pd.DataFrame, codes, split: str = "test", seed: int = 0, device=None,
                      calibrated: bool = True) -> np.ndarray:
        """The best model's class probabilities for the rows of ``split`` whose code is not negative,
        with the fitted temperature (``calibrated``) or without it."""
        logits = self.best.logits(tunes, codes, split, seed, device)
        return calibration.softmax_with_temperature(logits, self.scaling.temperature if calibrated else 1.0)

    def test_answers(self, tunes: pd.DataFrame, codes, classes, seed: int = 0, device=None) -> pd.DataFrame:
        """The best model's answer for each test tune: ``tune_id, model, style, probability`` (calibrated)."""
        proba = self.probabilities(tunes, codes, "test", seed, device)
        rows = _rows(tunes, codes, "test")
        return pd.DataFrame({"tune_id": tunes.loc[rows, "tune_id"].to_numpy(), "model": self.best.name,
                             "style": np.asarray(classes)[proba.argmax(axis=1)], "probability": proba.max(axis=1)})

    def reliability(self, tunes: pd.DataFrame, codes, split: str = "test", seed: int = 0,
                    device=None) -> tuple[pd.DataFrame, dict]:
        """How well the stated probabilities match the hit rate on ``split``, before and after the temperature.

        Returns ``(table, bins)``: one row per version (``temperature``, ``accuracy``, mean stated
        ``confidence`` of the top style, ``ece``: :func:`calibration.expected_calibration_error`) and
        each version's bin table for :func:`calibration.reliability_figure`.
        """
        codes = np.asarray(codes)
        truth = codes[_rows(tunes, codes, split)]
        rows, bins = [], {}
        for name, calibrated in (("uncalibrated", False), ("temperature fitted on validation", True)):
            proba = self.probabilities(tunes, codes, split, seed, device, calibrated=calibrated)
            ece, bins[name] = calibration.expected_calibration_error(proba, truth)
            rows.append({"probabilities": name, "temperature": self.scaling.temperature if calibrated else 1.0,
                         "accuracy": float(np.mean(proba.argmax(axis=1) == truth)),
                         "confidence": float(proba.max(axis=1).mean()), "ece": ece})
        return pd.DataFrame(rows).set_index("probabilities"), bins


def choose(crnns: list[CrnnCandidate], classifiers: list[ClassifierCandidate], tunes: pd.DataFrame, codes,
           seed: int = 0, device=None, n_boot: int = 1000) -> StyleChoice:
    """Rank every candidate by validation macro-F1 (CRNNs, classifiers, then the product of the best of each,
    :meth:`ProductCandidate.calibrated`) and choose the best: the highest macro-F1 (the earlier on a tie),
    unless validation cannot tell it from another. Then, among the candidates whose 95 % paired bootstrap
    interval (``n_boot`` resamples of the validation tunes, :func:`geoscores.bootstrap_ci`) of the macro-F1
    minus the leader's holds zero, the one whose probabilities are best: the lowest validation negative
    log-likelihood after its own temperature (the earlier on a tie), as notebook 04's region choice turns to a
    second validation measure. The chosen one's temperature is fitted on the validation tunes by their
    negative log-likelihood."""
    from .geoscores import bootstrap_ci

    if not crnns:
        raise ValueError("choose needs at least one CRNN (the map of music is drawn from one)")
    candidates, product = [*crnns, *classifiers], None
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must differ, got {names}")
    f1 = [c.validation_f1(tunes, codes, seed, device) for c in candidates]
    best_crnn = crnns[int(np.argmax(f1[:len(crnns)]))]
    if classifiers:
        product = ProductCandidate.calibrated(best_crnn, classifiers[int(np.argmax(f1[len(crnns):]))], tunes, codes,
                                              seed, device)
        candidates.append(product)
        f1.append(product.validation_f1(tunes, codes, seed, device))
    codes = np.asarray(codes)
    truth = codes[_rows(tunes, codes, "val")]
    logits = [c.logits(tunes, codes, "val", seed, device) for c in candidates]
    leader = int(np.argmax(f1))
    rows = []
    for candidate, score, scores in zip(candidates, f1, logits):
        low, high = bootstrap_ci(lambda y, a, b: evaluation.macro_f1(y, a) - evaluation.macro_f1(y, b), truth,
                                 scores.argmax(axis=1), logits[leader].argmax(axis=1), n_boot=n_boot, seed=seed)
        rows.append({"model": candidate.name, "validation_macro_f1": score, "minus_leader_low": low,
                     "minus_leader_high": high,
                     "validation_nll": calibration.fit_temperature(scores, truth).nll_after})
    table = pd.DataFrame(rows).set_index("model")
    tied = [k for k in range(len(candidates)) if k == leader
            or table["minus_leader_low"].iloc[k] <= 0 <= table["minus_leader_high"].iloc[k]]
    best = candidates[min(tied, key=lambda k: (table["validation_nll"].iloc[k], k))]
    table["chosen"] = table.index == best.name
    scaling = calibration.fit_temperature(logits[candidates.index(best)], truth)
    return StyleChoice(table["validation_macro_f1"].rename("validation_macro_f1").sort_values(ascending=False,
                                                                                              kind="stable"),
                       best, best_crnn, scaling, product, table)
