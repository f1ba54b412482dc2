"""A geographic (region) CRNN's answers, as notebook 04 scores them and ``predict`` repeats them.

Notebook 04 trains region CRNNs on two inputs (the mel spectrogram; the
semitone roll of the transcribed notes). Each is scored the same way
(:func:`calibrated_answers`): logits averaged over every window of a clip
(:data:`meldata.CLIP_WINDOWS`), one temperature fitted on the validation
tunes (:func:`calibration.fit_temperature`), and the decoding of the
calibrated probabilities to a place chosen on validation by the balanced
median (:class:`geomethods.RegionDecoder`: the mean over countries of each
country's median error). The test split plays no part in either choice.

A region model need not be a network: :func:`product_answers` scores the
product of experts of a region CRNN and notebook 03's region classifier
(:func:`calibration.product_of_experts`, equal weights, nothing fitted) by the
same protocol, and its model card makes ``predict`` multiply the same two
models. :func:`choose` ranks notebook 04's region models on validation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from . import calibration, geo, geoscores, meldata, regions, saved_models, training
from .geomethods import RegionDecoder
from .predict_bundle import region_extra


@dataclass
class RegionAnswers:
    """One region CRNN scored on validation and test (see the module docstring)."""

    name: str
    features: str
    checkpoint: Path
    scaling: calibration.TemperatureScaling
    decoder: RegionDecoder
    test_logits: np.ndarray
    card_extra: dict = field(default_factory=dict)
    val_logits: np.ndarray | None = None
    #: A product of experts (:func:`product_answers`): the region CRNN's answers and the classifier's card.
    crnn: "RegionAnswers | None" = None
    classifier: saved_models.ModelCard | None = None
    #: A calibrated product's expert temperatures (the CRNN's, the classifier's); ``None``: uncalibrated.
    expert_temperatures: tuple[float, float] | None = None

    @property
    def decoding(self) -> str:
        return self.decoder.best_params_["decoding"]

    @property
    def val_balanced_median_km(self) -> float:
        """The validation balanced median (km) of the chosen decoding."""
        return float(self.decoder.validation_scores_["val_balanced_median_km"].min())

    @property
    def test_proba(self) -> np.ndarray:
        """Calibrated test probabilities (columns: the region classes)."""
        return self.scaling.transform(self.test_logits)

    def test_places(self) -> tuple[np.ndarray, np.ndarray]:
        """Decoded test (lat, lon) in degrees."""
        return self.decoder.predict(self.test_proba)

    def scores(self, logits, tunes: pd.DataFrame, shares: pd.DataFrame) -> dict:
        """:func:`geoscores.error_metrics` of clip ``logits`` (rows: ``tunes``, with ``lat``, ``lon``
        and ``country``) scaled and decoded as the test logits are: the same temperature, decoding
        and country answer (:func:`regions.predicted_countries`). The test tunes' ``test_logits``
        give the in-domain score; the same tunes rendered otherwise give, say, the held-out-timbre one."""
        proba, errors = self._decoded(logits, tunes)
        countries = regions.predicted_countries(proba, shares, regions=list(self.decoder.regions))
        return geoscores.error_metrics(errors, tunes["country"], countries == tunes["country"].to_numpy())

    def errors_km(self, logits, tunes: pd.DataFrame) -> np.ndarray:
        """Great-circle error (km) of each row of clip ``logits`` (rows: ``tunes``, with ``lat`` and ``lon``),
        decoded as :meth:`scores` decodes them: per tune, for a bootstrap over tunes."""
        return self._decoded(logits, tunes)[1]

    def _decoded(self, logits, tunes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated probabilities, great-circle errors in km) of ``logits``, one row per tune."""
        logits = np.asarray(logits)
        if len(logits) != len(tunes):
            raise ValueError(f"{self.name}: {len(logits)} rows of logits for {len(tunes)} tunes")
        proba = self.scaling.transform(logits)
        lat, lon = self.decoder.predict(proba)
        return proba, geo.great_circle_km(tunes["lat"], tunes["lon"], lat, lon)

    def summary(self) -> dict:
        """Temperature, the validation balanced median of every decoding, the chosen decoding."""
        by_decoding = self.decoder.validation_scores_.set_index("decoding")["val_balanced_median_km"]
        return {"model": self.name, "temperature": self.scaling.temperature,
                **{f"val balanced median km: {d}": km for d, km in by_decoding.items()}, "decoding": self.decoding}

    def card(self, centroids: pd.DataFrame, shares: pd.DataFrame) -> saved_models.ModelCard:
        """The bundle's model card: the checkpoint, the region table, the shares, the decoding, the temperature.
        A product's card is the classifier's, renamed, with the CRNN's card under ``PRODUCT_KEY``."""
        regions = list(self.decoder.regions)
        extra = region_extra(centroids.set_index("region").loc[regions].reset_index(), shares.loc[regions],
                             self.decoding, self.scaling.temperature, decode_calibrated=True)
        validation = {"balanced_median_km": self.val_balanced_median_km}
        if self.classifier is None:
            return saved_models.ModelCard("crnn", self.name, self.features, Path(self.checkpoint), tuple(regions),
                                          validation=validation, extra={**extra, **self.card_extra})
        partner = saved_models.ModelCard("crnn", self.crnn.name, self.crnn.features, Path(self.crnn.checkpoint),
                                         tuple(regions), extra=dict(self.crnn.card_extra))
        if self.expert_temperatures is not None:
            extra[saved_models.EXPERT_TEMPERATURES_KEY] = [float(t) for t in self.expert_temperatures]
        return dataclasses.replace(self.classifier, name=self.name, features=self.features, validation=validation,
                                   extra={**extra, saved_models.PRODUCT_KEY: partner.to_dict()})

    def product_logits(self, crnn_logits, inputs: pd.DataFrame) -> np.ndarray:
        """A product's logits for clips its CRNN heard as ``crnn_logits`` (rows: clips) and whose named inputs
        (:func:`saved_models.clip_input_table`, the same clips in order) its classifier reads."""
        if self.classifier is None:
            raise ValueError(f"{self.name} is not a product of experts")
        return _product(crnn_logits, self.classifier, saved_models.load_sklearn(self.classifier.file), inputs,
                        self.expert_temperatures)


def calibrated_answers(name: str, features: str, model: nn.Module, sets: dict, tunes: pd.DataFrame, region_codes,
                       centroids: pd.DataFrame, region_names, checkpoint: Path, card_extra: dict | None = None,
                       device=None) -> RegionAnswers:
    """Score a region CRNN on ``sets["val"]`` and ``sets["test"]`` (region-coded :class:`MelDataset`\\ s of
    ``tunes``' validation and test rows, every one with a region): temperature and decoding on validation.

    The model card's extra records the sets' ``window_hop`` (when not the default half window), so
    that ``predict`` scores a file over the same windows."""
    val_logits, test_logits = (training.predict(model, sets[s].as_eval(meldata.CLIP_WINDOWS), device)[0]
                               for s in ("val", "test"))
    hop = sets["val"].window_hop
    extra = {**({} if hop is None else {"window_hop": hop}), **(card_extra or {})}
    return answers_from_logits(name, features, val_logits, test_logits, tunes, region_codes, centroids, region_names,
                               checkpoint, extra)


def answers_from_logits(name: str, features: str, val_logits, test_logits, tunes: pd.DataFrame, region_codes,
                        centroids: pd.DataFrame, region_names, checkpoint: Path | None = None,
                        card_extra: dict | None = None) -> RegionAnswers:
    """:func:`calibrated_answers` from the clip logits of ``tunes``' validation and test rows (in row order):
    a temperature and a decoding fitted on validation. Any region model's logits (a classifier's
    :func:`calibration.log_probabilities`, a product of experts) are scored as a region CRNN's."""
    region_codes = np.asarray(region_codes)
    val_rows = (tunes["split"] == "val").to_numpy()
    val_codes = region_codes[val_rows]
    if (val_codes < 0).any() or len(val_logits) != int(val_rows.sum()):
        raise ValueError(f"{name}: every validation tune needs a region class of the training split")
    scaling = calibration.fit_temperature(val_logits, val_codes)
    decoder = RegionDecoder.from_centroids(centroids, region_names)
    val = tunes[val_rows]
    decoder.tune(scaling.transform(val_logits), val["lat"], val["lon"], val["country"])
    return RegionAnswers(name, features, Path(checkpoint or ""), scaling, decoder, np.asarray(test_logits),
                         dict(card_extra or {}), np.asarray(val_logits))


def classifier_log_probabilities(card: saved_models.ModelCard, classifier, inputs: pd.DataFrame) -> np.ndarray:
    """Log-probabilities (columns: ``card.classes``) of a region classifier's card and its fitted model for the
    rows of ``inputs`` (named columns: :func:`saved_models.clip_input_table`), standardised as the card says."""
    if len(getattr(classifier, "classes_", ())) != len(card.classes):
        raise ValueError(f"{card.name}: its model has {len(getattr(classifier, 'classes_', ()))} classes, "
                         f"the card lists {len(card.classes)}")
    return calibration.log_probabilities(classifier.predict_proba(card.inputs.matrix(inputs, card.name)))


def _product(crnn_logits, card: saved_models.ModelCard, classifier, inputs: pd.DataFrame,
             temperatures=None) -> np.ndarray:
    """The product of experts of a region CRNN's clip logits and a classifier's log-probabilities (same clips),
    each divided first by its ``temperatures`` entry when given (the CRNN's, then the classifier's)."""
    heard = classifier_log_probabilities(card, classifier, inputs)
    return calibration.product_of_experts(np.asarray(crnn_logits), heard, temperatures=temperatures)


def product_answers(crnn: RegionAnswers, card: saved_models.ModelCard, inputs: pd.DataFrame,
                    tunes: pd.DataFrame, region_codes, centroids: pd.DataFrame, region_names,
                    calibrated: bool = False) -> RegionAnswers:
    """The product of experts of the region CRNN ``crnn`` (its validation and test logits) and a region
    classifier (``card``, whose model file it loads: e.g. notebook 03's ``region-classifier.json``) reading
    ``inputs`` (indexed by tune id), scored as :func:`answers_from_logits` scores a region CRNN: a temperature and
    a decoding fitted on validation. The classifier's classes must be the CRNN's ``region_names``, in order.
    ``calibrated``: each expert is first divided by its own validation temperature (the CRNN's ``scaling``, the
    classifier's fitted here), as the style product is; the card records them for ``predict``."""
    if tuple(card.classes) != tuple(region_names):
        raise ValueError(f"{card.name}: its classes are not the region task's {len(region_names)} regions in order")
    classifier = saved_models.load_sklearn(card.file)
    ids = {split: tunes.loc[(tunes["split"] == split).to_numpy(), "tune_id"] for split in ("val", "test")}
    temperatures = None
    if calibrated:
        val_codes = np.asarray(region_codes)[(tunes["split"] == "val").to_numpy()]
        own = calibration.fit_temperature(classifier_log_probabilities(card, classifier, inputs.loc[ids["val"]]),
                                          val_codes)
        temperatures = (float(crnn.scaling.temperature), own.temperature)
    answers = answers_from_logits(
        f"{crnn.name} x {card.name}", f"{crnn.features} + {card.features}",
        _product(crnn.val_logits, card, classifier, inputs.loc[ids["val"]], temperatures),
        _product(crnn.test_logits, card, classifier, inputs.loc[ids["test"]], temperatures),
        tunes, region_codes, centroids, region_names)
    return dataclasses.replace(answers, crnn=crnn, classifier=card, expert_temperatures=temperatures)


def choose(candidates: list[RegionAnswers], val: pd.DataFrame, shares: pd.DataFrame, seed: int = 0,
           n_boot: int = 1000) -> tuple[RegionAnswers, pd.DataFrame]:
    """Notebook 04's region model: the lowest validation balanced median (a tie keeps the earlier one), unless
    validation cannot tell it from another: then, among the candidates whose 95 % paired bootstrap interval
    (``n_boot`` resamples of the validation tunes ``val``, :func:`geoscores.bootstrap_ci`) of the balanced
    median minus the leader's holds zero, the one with the highest validation balanced country accuracy over
    the countries with at least 10 tunes (the leader on a tie). Returns the chosen one and a table of the
    candidates' validation scores."""
    leader = min(candidates, key=lambda answers: answers.val_balanced_median_km)
    errors = {answers.name: answers.errors_km(answers.val_logits, val) for answers in candidates}
    rows = []
    for answers in candidates:
        low, high = geoscores.bootstrap_ci(
            lambda error, error_ref, country: (geoscores.error_metrics(error, country)["balanced_median_km"]
                                               - geoscores.error_metrics(error_ref, country)["balanced_median_km"]),
            errors[answers.name], errors[leader.name], val["country"], n_boot=n_boot, seed=seed)
        rows.append({"model": answers.name, "val_balanced_median_km": answers.val_balanced_median_km,
                     "minus_leader_low": low, "minus_leader_high": high,
                     "val_balanced_country_accuracy_10": answers.scores(answers.val_logits, val, shares)[
                         "balanced_country_accuracy_10"]})
    table = pd.DataFrame(rows).set_index("model")
    chosen = pick(table)
    return next(answers for answers in candidates if answers.name == chosen), table.assign(chosen=table.index == chosen)


def pick(table: pd.DataFrame) -> str:
    """:func:`choose`'s rule on its table (index: model names in candidate order; columns
    ``val_balanced_median_km``, ``minus_leader_low``/``high``, ``val_balanced_country_accuracy_10``): the
    leader (the lowest balanced median, the earlier on a tie) unless another model's interval against it holds
    zero and its country accuracy is higher; a missing accuracy (no country with 10 tunes) counts as lowest."""
    leader = table["val_balanced_median_km"].idxmin()
    tied = table[(table["minus_leader_low"] <= 0) & (table["minus_leader_high"] >= 0) | (table.index == leader)]
    accuracy = tied["val_balanced_country_accuracy_10"].fillna(-np.inf)
    best = accuracy[accuracy == accuracy.max()].index
    return leader if leader in best else best[0]
