"""A geographic (region) CRNN's answers, as notebook 04 scores them and ``predict`` repeats them.

Notebook 04 trains region CRNNs on two inputs (the mel spectrogram; the
semitone roll of the transcribed notes). Each is scored the same way
(:func:`calibrated_answers`): logits averaged over every window of a clip
(:data:`meldata.CLIP_WINDOWS`), one temperature fitted on the validation
tunes (:func:`calibration.fit_temperature`), and the decoding of the
calibrated probabilities to a place chosen on validation by the balanced
median (:class:`geomethods.RegionDecoder`: the mean over countries of each
country's median error). The test split plays no part in either choice.
"""
from __future__ import annotations

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
        """The bundle's model card: the checkpoint, the region table, the shares, the decoding, the temperature."""
        regions = list(self.decoder.regions)
        extra = region_extra(centroids.set_index("region").loc[regions].reset_index(), shares.loc[regions],
                             self.decoding, self.scaling.temperature, decode_calibrated=True)
        return saved_models.ModelCard("crnn", self.name, self.features, Path(self.checkpoint), tuple(regions),
                                      validation={"balanced_median_km": self.val_balanced_median_km},
                                      extra={**extra, **self.card_extra})


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
                         dict(card_extra or {}))
