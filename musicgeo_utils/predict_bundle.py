"""The prediction bundle: what ``musicgeo-predict`` loads, written by notebook 04.

A JSON file (default ``<data>/models/<profile>/predict-bundle.json``) whose
files sit in its own folder::

    {"format": "musicgeo-predict-2", "profile": "small", "seed": 0,
     "crop_frames": 256, "feature_params": {...}, "transcription_params": {...},
     "region": <model card>,   # the region model validation ranked best (notebooks 03 and 04)
     "style": <model card>,    # the style model validation ranked best (notebook 04)
     "embedding": {"checkpoint": "pitch-crnn-....pt", "reference": "reference-embeddings.npz",
                   "input": "pitch roll", "crop_frames": 200, "window_hop": 25},
     "novelty": {"centre": [...], "scale": [...], "threshold": 4.1, "k": 10, "false_alarm": 0.03}}

A model card (:mod:`musicgeo_utils.saved_models`) names the model's kind
(``sklearn`` or ``crnn``), file, input columns with their standardisation,
classes and validation scores. The region card's ``extra`` holds the
``decoding`` chosen on validation, the ``regions`` (``region, country, lat,
lon`` of each class, in class order), the training tunes'
``country_shares`` (``P(country | region)``, the notebooks' country answer),
the ``temperature`` fitted on validation and whether the notebook decodes the
calibrated probabilities (``decode_calibrated``). ``embedding`` is the style
CRNN whose penultimate layer places a clip among the reference tunes
(training and validation tunes only): the CRNN that validation ranked best,
the one notebook 05 maps. Its ``input`` is ``"mel spectrogram"`` (the default,
windows of the bundle's ``crop_frames``) or :data:`PITCH_ROLL` (windows of its
own ``crop_frames`` roll frames); its optional ``window_hop`` is the number of
frames between the windows that score a clip (absent: half a window). A CRNN
model card says the same in its ``extra``. The style card's ``extra`` may hold
a ``temperature`` fitted on validation (``style_choice``; absent: 1), which
``predict`` applies to the style model's logits or log-probabilities, and may
hold a CRNN's card under ``product_with`` (:data:`saved_models.PRODUCT_KEY`):
the style answer is then the product of the two models' probabilities
(:func:`calibration.product_of_experts`), before the temperature. The region
card may hold one too (notebook 04's product of its geographic CRNN and notebook
03's region classifier): the product's logits are then what the region card's
temperature and decoding apply to.
``novelty`` (optional) is the out-of-distribution check calibrated on validation
(:class:`musicgeo_utils.novelty.NoveltyCheck`); it needs the ``reference``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from .cache import read_json, write_json
from .features import FeatureParams
from .geo import REGION_DECODINGS
from .novelty import NoveltyCheck
from .saved_models import EXPERT_TEMPERATURES_KEY, PRODUCT_KEY, ModelCard, ModelError, card_from_dict
from .transcription import TranscriptionParams

BUNDLE_FORMAT = "musicgeo-predict-2"
BUNDLE_NAME = "predict-bundle.json"
#: The inputs a CRNN of the bundle can read: the mel spectrogram, or the transcribed notes' semitone roll.
MEL, PITCH_ROLL = "mel spectrogram", "pitch roll"


class PredictError(Exception):
    """A problem with the input or the bundle, told in one line (no traceback)."""


@dataclass(frozen=True)
class Bundle:
    """A validated prediction bundle; file names are resolved in its folder."""

    path: Path
    profile: str
    seed: int
    crop_frames: int
    feature_params: FeatureParams
    transcription_params: TranscriptionParams
    region: ModelCard
    style: ModelCard
    embedding: Path
    reference: Path | None
    regions: pd.DataFrame = field(compare=False)
    country_shares: pd.DataFrame = field(compare=False)
    decoding: str = "top"
    temperature: float = 1.0
    decode_calibrated: bool = False
    style_temperature: float | None = None  # None: the style card states none (probabilities uncalibrated)
    embedding_input: str = MEL
    embedding_crop_frames: int | None = None
    embedding_window_hop: int | None = None
    novelty: NoveltyCheck | None = None
    style_partner: ModelCard | None = None  # the CRNN the style card's model is multiplied with (PRODUCT_KEY)
    region_partner: ModelCard | None = None  # the same for the region card

    @property
    def sample_rate(self) -> int:
        return self.feature_params.sample_rate


def default_bundle_path(profile: str = "small") -> Path:
    """``<data>/models/<profile>/predict-bundle.json`` (``MUSICGEO_DATA`` moves ``<data>``)."""
    return config.DATA_DIR / "models" / profile / BUNDLE_NAME


def _need(mapping: dict, key: str, kind, where: str, path: Path):
    """``mapping[key]`` if present and of type ``kind``; else a PredictError naming both."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise PredictError(f"bundle {path}: missing {where}{key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise PredictError(f"bundle {path}: {where}{key!r} must be {getattr(kind, '__name__', kind)}, "
                           f"got {type(value).__name__}")
    return value


def _bundle_file(folder: Path, name: str, what: str, path: Path) -> Path:
    """A file named in the bundle: a plain name inside the bundle's folder, and present."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise PredictError(f"bundle {path}: {what} {name!r} must be a file name in the bundle's folder")
    target = folder / name
    if not target.is_file():
        raise PredictError(f"bundle {path}: {what} not found: {target}")
    return target


def _regions(raw: list, classes: tuple[str, ...], path: Path) -> pd.DataFrame:
    """The region model's classes as a table, checked: names in class order, countries, lat/lon in degrees."""
    if not isinstance(raw, list) or not raw:
        raise PredictError(f"bundle {path}: region.extra.regions must be a non-empty list")
    rows = []
    for i, entry in enumerate(raw):
        where = f"region.extra.regions[{i}]."
        row = {k: _need(entry, k, str, where, path) for k in ("region", "country")}
        row.update({k: float(_need(entry, k, (int, float), where, path)) for k in ("lat", "lon")})
        if abs(row["lat"]) > 90 or abs(row["lon"]) > 180:
            raise PredictError(f"bundle {path}: {where[:-1]} lat/lon {row['lat']}, {row['lon']} out of range")
        rows.append(row)
    table = pd.DataFrame(rows, columns=["region", "country", "lat", "lon"])
    if tuple(table["region"]) != tuple(classes):
        raise PredictError(f"bundle {path}: region.extra.regions do not follow the region model's "
                           f"{len(classes)} classes in order")
    return table


def _shares(raw, classes: tuple[str, ...], path: Path) -> pd.DataFrame:
    """``P(country | region)`` rows for every class, as :func:`regions.region_country_shares` gives it."""
    if not isinstance(raw, dict) or set(raw) != set(classes):
        raise PredictError(f"bundle {path}: region.extra.country_shares must have one entry per region class")
    table = pd.DataFrame.from_dict(raw, orient="index").fillna(0.0).astype(float)
    if not np.allclose(table.sum(axis=1), 1.0) or (table.to_numpy() < 0).any():
        raise PredictError(f"bundle {path}: region.extra.country_shares rows must be shares summing to 1")
    return table.sort_index().sort_index(axis=1)


def _params(cls, raw, what: str, path: Path):
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    except (TypeError, ValueError, AttributeError) as err:
        raise PredictError(f"bundle {path}: {what} do not fit {cls.__name__}: {err}") from None


def _card(raw: dict, key: str, folder: Path, path: Path) -> ModelCard:
    try:
        return card_from_dict(_need(raw, key, dict, "", path), folder, f"bundle {path}: {key}")
    except ModelError as err:
        raise PredictError(str(err)) from None


def bundle_from_dict(raw: dict, path: Path) -> Bundle:
    """Validate a parsed bundle; every problem names the file and the field."""
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise PredictError(f"bundle {path}: not a {BUNDLE_FORMAT} file (format {found!r}; rerun notebook 04)")
    folder = path.parent
    crop = _need(raw, "crop_frames", int, "", path)
    if crop <= 0:
        raise PredictError(f"bundle {path}: crop_frames must be positive, got {crop}")
    region, style = _card(raw, "region", folder, path), _card(raw, "style", folder, path)
    extra = region.extra
    decoding = _need(extra, "decoding", str, "region.extra.", path)
    if decoding not in REGION_DECODINGS:
        raise PredictError(f"bundle {path}: region.extra.decoding must be one of {REGION_DECODINGS}, "
                           f"got {decoding!r}")
    temperature = float(_need(extra, "temperature", (int, float), "region.extra.", path))
    decode_calibrated = bool(_need(extra, "decode_calibrated", bool, "region.extra.", path))
    if not temperature > 0:
        raise PredictError(f"bundle {path}: region.extra.temperature must be positive, got {temperature}")
    style_temperature = None
    if "temperature" in style.extra:
        style_temperature = float(_need(style.extra, "temperature", (int, float), "style.extra.", path))
        if not (np.isfinite(style_temperature) and style_temperature > 0):
            raise PredictError(f"bundle {path}: style.extra.temperature must be a positive number, "
                               f"got {style_temperature}")
    embedding = _need(raw, "embedding", dict, "", path)
    reference = embedding.get("reference")
    embedding_input = embedding.get("input", MEL)
    if embedding_input not in (MEL, PITCH_ROLL):
        raise PredictError(f"bundle {path}: embedding.input must be {MEL!r} or {PITCH_ROLL!r}, got {embedding_input!r}")
    embedding_crop = _need(embedding, "crop_frames", int, "embedding.", path) if "crop_frames" in embedding else crop
    if embedding_crop <= 0:
        raise PredictError(f"bundle {path}: embedding.crop_frames must be positive, got {embedding_crop}")
    embedding_hop = _need(embedding, "window_hop", int, "embedding.", path) if "window_hop" in embedding else None
    if embedding_hop is not None and embedding_hop <= 0:
        raise PredictError(f"bundle {path}: embedding.window_hop must be positive, got {embedding_hop}")
    partner, region_partner = _partner(style, "style", folder, path), _partner(region, "region", folder, path)
    if region_partner is not None and (region.kind != "sklearn" or not decode_calibrated):
        raise PredictError(f"bundle {path}: region.extra.{PRODUCT_KEY} needs a classifier's region card "
                           "whose decoding reads the calibrated product (decode_calibrated true)")
    for key, card, its_partner in (("style", style, partner), ("region", region, region_partner)):
        temperatures = card.extra.get(EXPERT_TEMPERATURES_KEY) if card is not None else None
        if temperatures is None:
            continue
        if its_partner is None or not isinstance(temperatures, list) or len(temperatures) != 2 or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and np.isfinite(t) and t > 0
                for t in temperatures):
            raise PredictError(f"bundle {path}: {key}.extra.{EXPERT_TEMPERATURES_KEY} must be two positive numbers "
                               f"(the partner CRNN's temperature, then the card's own) on a product card, "
                               f"got {temperatures!r}")
    for where, card in (("region", region), ("style", style), (f"style.extra.{PRODUCT_KEY}", partner),
                        (f"region.extra.{PRODUCT_KEY}", region_partner)):
        value = card.extra.get("window_hop") if card is not None and card.kind == "crnn" else None
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise PredictError(f"bundle {path}: {where}.extra.window_hop must be a positive int, got {value!r}")
    novelty = raw.get("novelty")
    if novelty is not None:
        if reference is None:
            raise PredictError(f"bundle {path}: novelty needs embedding.reference")
        try:
            novelty = NoveltyCheck.from_dict(_need(raw, "novelty", dict, "", path))
        except ValueError as err:
            raise PredictError(f"bundle {path}: {err}") from None
    return Bundle(
        path=path, profile=str(raw.get("profile", "")), seed=int(raw.get("seed", 0)), crop_frames=crop,
        feature_params=_params(FeatureParams, _need(raw, "feature_params", dict, "", path), "feature_params", path),
        transcription_params=_params(TranscriptionParams, _need(raw, "transcription_params", dict, "", path),
                                     "transcription_params", path),
        region=region, style=style,
        embedding=_bundle_file(folder, _need(embedding, "checkpoint", str, "embedding.", path),
                               "embedding checkpoint", path),
        reference=None if reference is None else _bundle_file(folder, str(reference), "reference", path),
        regions=_regions(extra.get("regions"), region.classes, path),
        country_shares=_shares(extra.get("country_shares"), region.classes, path),
        decoding=decoding, temperature=temperature, style_temperature=style_temperature,
        decode_calibrated=decode_calibrated,
        embedding_input=embedding_input, embedding_crop_frames=embedding_crop, embedding_window_hop=embedding_hop,
        novelty=novelty, style_partner=partner, region_partner=region_partner)


def _partner(card: ModelCard, key: str, folder: Path, path: Path) -> ModelCard | None:
    """The CRNN card under the ``key`` card's ``extra[PRODUCT_KEY]``, checked; ``None`` when there is none."""
    if PRODUCT_KEY not in card.extra:
        return None
    where = f"bundle {path}: {key}.extra.{PRODUCT_KEY}"
    try:
        partner = card_from_dict(card.extra[PRODUCT_KEY], folder, where)
    except ModelError as err:
        raise PredictError(str(err)) from None
    if partner.kind != "crnn" or partner.classes != card.classes:
        raise PredictError(f"{where}: must be a CRNN's card with the {key} card's {len(card.classes)} classes")
    if partner.extra.get("input", MEL) not in (MEL, PITCH_ROLL):
        raise PredictError(f"{where}: input must be {MEL!r} or {PITCH_ROLL!r}, got {partner.extra.get('input')!r}")
    return partner


def read_bundle(path: str | Path) -> Bundle:
    """Read and validate a prediction bundle (see the module docstring for its schema).

    Raises :class:`PredictError` naming the file and the field for a missing
    file, invalid JSON, a wrong format tag, a missing or mistyped field, a
    file name outside the bundle's folder, or a named file that is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"prediction bundle not found: {path} (run notebook 04 to write it, "
                           "or pass --bundle)")
    return bundle_from_dict(read_json(path, PredictError, "bundle "), path)


def write_bundle(path: str | Path, *, region: ModelCard, style: ModelCard, feature_params: FeatureParams,
                 transcription_params: TranscriptionParams, **fields) -> Path:
    """Write a prediction bundle JSON atomically, after validating it as :func:`read_bundle` does.

    ``fields``: ``profile, seed, crop_frames, embedding`` (see the module
    docstring). The cards' model files, the checkpoint and the reference must
    already be in ``path``'s folder.
    """
    path = Path(path)
    payload = {"format": BUNDLE_FORMAT, **fields, "feature_params": asdict(feature_params),
               "transcription_params": asdict(transcription_params),
               "region": region.to_dict(), "style": style.to_dict()}
    payload = json.loads(json.dumps(payload, default=_plain))
    bundle_from_dict(payload, path)
    return write_json(path, payload)


def _plain(value):
    """JSON fallback for NumPy scalars, tuples and paths in bundle fields."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return value.name
    raise TypeError(f"bundle fields must be plain data, got {type(value).__name__}")


def region_extra(regions: pd.DataFrame, country_shares: pd.DataFrame, decoding: str, temperature: float,
                 decode_calibrated: bool) -> dict:
    """The region card's ``extra``: ``regions`` (``region, country, lat, lon`` in class order), shares, decoding."""
    return {"decoding": decoding, "temperature": float(temperature), "decode_calibrated": bool(decode_calibrated),
            "regions": regions[["region", "country", "lat", "lon"]].to_dict("records"),
            "country_shares": {str(r): {str(c): float(v) for c, v in row.items() if v}
                               for r, row in country_shares.iterrows()}}
