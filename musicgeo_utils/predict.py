"""Where is this song from, and what style? Score audio files as the notebooks scored the test clips.

Command line (also installed as the ``musicgeo-predict`` console script)::

    musicgeo-predict song.wav [--profile small] [--bundle PATH] [--top 5] [--map out.html]
    musicgeo-predict a.wav b.mp3 ... --csv answers.csv     # batch: one row per file

In Python, load the models once and call the :class:`Predictor` on paths or
waveforms::

    predictor = Predictor(profile="small")
    answer = predictor("song.wav")              # or predictor(samples, sample_rate=44100)

The models come from the prediction bundle that notebook 04 writes
(:mod:`musicgeo_utils.predict_bundle`): for each question the model that
validation ranked best (region: a region classifier of notebook 03 on summary
or transcribed-score features, a geographic CRNN, or the product of the two;
style: a classifier of notebook 04, a style CRNN, or the product of the two). A file is heard exactly as notebooks 02-04
heard a test clip: read with soundfile (librosa for other formats), mixed to
mono; resampled to 12 kHz for the mel spectrogram and the summary features
(:func:`features.extract_clip`); transcribed at its own rate
(:func:`transcription.transcribe_samples`) into the transcribed score's
descriptors; a CRNN scores every window of the clip (hop: half a window for
the mel CRNN, the ``window_hop`` its model card or the bundle's embedding
names for the pitch CRNN) and averages its logits, as the notebooks'
evaluation does (``meldata.CLIP_WINDOWS``). So the answer for a test tune's audio file is the
answer the notebooks saved for it (a test after nbval checks this).

How sure it is: the most probable region with its calibrated probability
(temperature fitted on validation), the decoded point, and "uncertain" when
less than half of the probability lies within 1,000 km of that point
(:func:`regions.decoding_summary`'s support); the style probabilities with
the style model's own temperature, also fitted on validation (absent from an
older bundle: none, and the answer says its style probabilities are uncalibrated). Whether the clip is like the
music the models learned: the bundle's out-of-distribution check
(:mod:`musicgeo_utils.novelty`, calibrated on validation) flags an unfamiliar
clip, prints a warning with the reason and states the answer as uncertain; the
answer itself stays the models'. Bad input (unreadable, empty or
silent audio, NaN or infinite samples, a clip shorter than one window, a
missing bundle or model)
gives one line naming the file, never a traceback; in batch mode that file's
row carries the reason and the run goes on.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import cache
from .embedding import cosine_nearest
from .features import FeatureError
from .predict_bundle import (BUNDLE_FORMAT, BUNDLE_NAME, MEL, PITCH_ROLL, Bundle, PredictError,  # noqa: F401
                             default_bundle_path, read_bundle, region_extra, write_bundle)
from .saved_models import EXPERT_TEMPERATURES_KEY, ModelError, clip_inputs, load_sklearn

#: Exit status for bad input (file, bundle, checkpoint) and for bad arguments.
EXIT_BAD_INPUT, EXIT_USAGE = 1, 2
#: A decoded point backed by less of the probability than this (within 1,000 km) is "uncertain".
UNCERTAIN_BELOW = 0.5
#: Columns of the batch mode's CSV.
CSV_COLUMNS = ["file", "status", "error", "region_model", "top_region", "top_region_probability", "support",
               "uncertain", "lat", "lon", "decoding", "country", "style_model", "style", "style_probability",
               "duration_s", "n_windows", "unfamiliar", "novelty", "novelty_reason"]


# --------------------------------------------------------------------------- audio


def read_samples(path: str | Path) -> tuple[np.ndarray, int]:
    """An audio file's ``(frames, channels)`` float32 samples and rate, as the notebooks decode a clip.

    soundfile first (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1), librosa
    (audioread / ffmpeg) for other formats. Raises :class:`PredictError`
    naming the file when it is missing, unreadable or empty.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as err:  # LibsndfileError is a RuntimeError
        # soundfile's message starts "Error opening '<path>': "; ours names the file once already
        samples, rate = _librosa_fallback(path, str(err).replace(f"Error opening {str(path)!r}: ", ""))
    if samples.size == 0:
        raise PredictError(f"{path}: no audio samples (empty file)")
    return samples, int(rate)


def _librosa_fallback(path: Path, reason: str) -> tuple[np.ndarray, int]:
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():  # librosa warns before trying audioread
            warnings.simplefilter("ignore")
            y, rate = librosa.load(path, sr=None, mono=True)
    except Exception:  # audioread raises backend-specific types; the soundfile reason is clearer
        raise PredictError(f"{path}: unreadable audio ({reason})") from None
    return np.ascontiguousarray(y, dtype=np.float32)[:, None], int(rate)


@dataclass
class Heard:
    """One clip as the models hear it: ``inputs`` (named summary + ``heard:`` columns), ``mel``, the
    transcribed notes' semitone ``roll`` (:mod:`musicgeo_utils.pitchroll`), its length, and the
    melody front end's ``voiced`` frames (empty when it heard nothing)."""

    name: str
    inputs: pd.Series
    mel: np.ndarray
    roll: np.ndarray
    duration_s: float
    n_windows: int
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def hear(samples: np.ndarray, rate: int, bundle: Bundle, name: str = "<audio>") -> Heard:
    """Features of one clip exactly as notebooks 02-04 computed them for a rendered test clip."""
    from . import pitchroll, transcribed_score, transcription
    from .features import extract_clip, mono_at_rate, summary_names
    from .meldata import window_starts

    samples = np.asarray(samples, dtype=np.float32)
    samples = samples[:, None] if samples.ndim == 1 else samples
    broken = int(np.size(samples) - np.count_nonzero(np.isfinite(samples)))
    if broken:
        raise PredictError(f"{name}: {broken} NaN or infinite samples; no answer for a damaged signal")
    params = bundle.feature_params
    y = mono_at_rate(samples, rate, params)
    window_s = bundle.crop_frames * params.hop_length / params.sample_rate
    if y.size < bundle.crop_frames * params.hop_length:  # also catches clips too short for one FFT
        raise PredictError(f"{name}: clip of {y.size / params.sample_rate:.2f} s is shorter than one "
                           f"window ({window_s:.2f} s = {bundle.crop_frames} frames)")
    try:
        clip = extract_clip(y, params, clip_id=name)
    except FeatureError as err:
        raise PredictError(str(err)) from None
    heard = transcription.transcribe_clip(samples.mean(axis=1), rate, name, bundle.transcription_params)
    descriptors, _ = transcribed_score.transcribed_score_descriptors(heard, [name])
    summary = pd.Series(clip.summary, index=summary_names(params))
    roll = pitchroll.note_roll(heard.notes, samples.shape[0] / rate)
    track = heard.tracks.get(name)
    return Heard(name, clip_inputs(summary, descriptors.iloc[0]), clip.mel, roll, y.size / params.sample_rate,
                 len(window_starts(clip.mel.shape[1], bundle.crop_frames)),
                 np.zeros(0, dtype=bool) if track is None else np.asarray(track.voiced, dtype=bool))


# --------------------------------------------------------------------------- models


def _load_crnn(path: Path, n_outputs: int | None, what: str, device):
    """A checkpoint's model in eval mode, checked to have ``n_outputs`` classes (when given)."""
    from . import training

    try:
        model, _, _ = training.load_checkpoint(path, device)
    except (FileNotFoundError, ValueError) as err:
        raise PredictError(f"{what}: {err}") from None
    n_classes = model.hparams.get("n_classes") if hasattr(model, "hparams") else None
    if not hasattr(model, "head") or n_outputs is not None and n_classes != n_outputs:
        raise PredictError(f"{what} {path}: model has {n_classes} outputs, the bundle lists {n_outputs}")
    return model


def crnn_outputs(model, mel: np.ndarray, crop_frames: int, device=None,
                 window_hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(logits, embedding) of one clip: every window scored, averaged, as the notebooks evaluate.

    ``window_hop``: frames between windows (``None``: half a window; see ``meldata.window_starts``).
    """
    from . import training
    from .meldata import CLIP_WINDOWS, MelDataset

    ds = MelDataset([mel], np.zeros(1, dtype=np.int64), crop_frames=crop_frames, train=False,
                    eval_crops=CLIP_WINDOWS, window_hop=window_hop)
    logits, embedding = training.predict(model, ds, device)
    return logits[0], embedding[0]


def _reference(path: Path | None, dim: int) -> pd.DataFrame | None:
    """The reference embeddings (``tune_id, style`` + unit vectors); ``None`` without a file."""
    if path is None:
        return None
    try:
        data = cache.read_npz(path)
        tune_id, style, emb = data["tune_id"], data["style"], np.asarray(data["embedding"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as err:
        raise PredictError(f"reference {path}: unreadable or missing tune_id/style/embedding ({err})") from None
    if emb.ndim != 2 or emb.shape[1] != dim or not len(tune_id) == len(style) == len(emb):
        raise PredictError(f"reference {path}: embedding shape {emb.shape} does not fit "
                           f"{len(tune_id)} tunes of the style model's {dim}-d embedding")
    return pd.DataFrame({"tune_id": tune_id.astype(str), "style": style.astype(str)}).assign(_vector=list(emb))


def _neighbours(reference: pd.DataFrame | None, embedding: np.ndarray, k: int) -> pd.DataFrame:
    columns = ["tune_id", "style", "similarity"]
    if reference is None or not len(reference):
        return pd.DataFrame(columns=columns)
    order, similarity = cosine_nearest(np.stack(reference["_vector"].to_numpy()), embedding, k)
    return pd.DataFrame({"tune_id": reference["tune_id"].to_numpy()[order[0]],
                         "style": reference["style"].to_numpy()[order[0]],
                         "similarity": similarity[0]}, columns=columns)


# --------------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """The answer for one audio file.

    ``regions``: every region class (``region, country, lat, lon,
    probability``: calibrated), most probable first; ``lat``/``lon``: the
    decoded point (degrees, the bundle's ``decoding`` of the probabilities the
    notebook decodes); ``country``: the notebooks' country answer
    (``sum_r P(r) P(country | r)``); ``support``: the calibrated probability
    within 1,000 km of the point, ``uncertain`` when under
    :data:`UNCERTAIN_BELOW`; ``styles``: ``style, probability`` (calibrated when the style card states a temperature), most
    probable first; ``neighbours``: the reference tunes nearest in the style CRNN's
    penultimate space (``tune_id, style, similarity``, cosine);
    ``n_windows``/``window_s``: the mel spectrogram's windows (the batch CSV's
    column); ``heard_as``: per input of the CRNNs that answer (region, style,
    embedding), its windows, their length and hop, as the first line prints;
    ``region_model``/``style_model``: the models that answered;
    ``unfamiliar``: the out-of-distribution check flagged the clip
    (``novelty``: its score, ``novelty_reason``: the statistic that made it,
    ``novelty_statistics``: the clip's statistics beside the validation
    medians; ``None``, ``""`` and ``{}`` when the bundle has no check);
    ``uncertain`` is then true as well; ``style_temperature``: the style card's
    temperature, ``None`` when it states none (its probabilities are then uncalibrated).
    """

    path: Path
    regions: pd.DataFrame
    lat: float
    lon: float
    decoding: str
    country: str
    support: float
    uncertain: bool
    styles: pd.DataFrame
    neighbours: pd.DataFrame
    region_model: str
    style_model: str
    n_windows: int
    window_s: float
    duration_s: float
    embedding: np.ndarray
    top: int = 5
    heard_as: str = ""
    unfamiliar: bool = False
    novelty: float | None = None
    novelty_reason: str = ""
    novelty_statistics: dict = field(default_factory=dict)
    style_temperature: float | None = None

    @property
    def top_region(self) -> pd.Series:
        return self.regions.iloc[0]

    def row(self) -> dict:
        """The batch CSV's row (:data:`CSV_COLUMNS`)."""
        return {"file": str(self.path), "status": "ok", "error": "", "region_model": self.region_model,
                "top_region": self.top_region["region"], "top_region_probability": float(self.top_region["probability"]),
                "support": self.support, "uncertain": self.uncertain, "lat": self.lat, "lon": self.lon,
                "decoding": self.decoding, "country": self.country, "style_model": self.style_model,
                "style": self.styles.iloc[0]["style"], "style_probability": float(self.styles.iloc[0]["probability"]),
                "duration_s": self.duration_s, "n_windows": self.n_windows, "unfamiliar": self.unfamiliar,
                "novelty": self.novelty, "novelty_reason": self.novelty_reason}


class Predictor:
    """The bundle's models, loaded once; call it on a path, or on samples with ``sample_rate``."""

    def __init__(self, bundle: str | Path | None = None, profile: str = "small", device=None,
                 n_neighbours: int = 10):
        self.bundle = read_bundle(bundle if bundle is not None else default_bundle_path(profile))
        self.device, self.n_neighbours = device, n_neighbours
        self.region_model = self._load(self.bundle.region, "region model")
        self.style_model = self._load(self.bundle.style, "style model")
        partner = self.bundle.style_partner  # the CRNN a product-of-experts style model multiplies with
        self.style_partner = None if partner is None else self._load(partner, "style model's CRNN")
        partner = self.bundle.region_partner  # the same for a product-of-experts region model
        self.region_partner = None if partner is None else self._load(partner, "region model's CRNN")
        self.embedder = _load_crnn(self.bundle.embedding, None, "embedding checkpoint", device)
        self.reference = _reference(self.bundle.reference, int(self.embedder.head[-1].in_features))
        self._reference_vectors = None if self.reference is None else np.stack(self.reference["_vector"].to_numpy())

    def _load(self, card, what: str):
        if card.kind == "crnn":
            return _load_crnn(card.file, len(card.classes), f"{what} checkpoint", self.device)
        try:
            model = load_sklearn(card.file)
        except ModelError as err:
            raise PredictError(f"{what}: {err}") from None
        if len(getattr(model, "classes_", ())) != len(card.classes):
            raise PredictError(f"{what} {card.file}: {len(getattr(model, 'classes_', ()))} classes, "
                               f"the card lists {len(card.classes)}")
        return model

    def _crnn(self, model, heard: Heard, source: str, crop_frames: int | None,
              window_hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(logits, embedding) of a CRNN reading ``source`` (:data:`MEL` or :data:`PITCH_ROLL`) of the clip,
        its windows ``window_hop`` frames apart (``None``: half a window)."""
        if source == PITCH_ROLL:
            return crnn_outputs(model, heard.roll, int(crop_frames), self.device, window_hop)
        return crnn_outputs(model, heard.mel, int(crop_frames or self.bundle.crop_frames), self.device, window_hop)

    def _windows(self, heard: Heard) -> str:
        """What the CRNNs that answer heard: per input, its windows, their length and hop (seconds)."""
        from . import pitchroll
        from .meldata import window_starts

        b, params = self.bundle, self.bundle.feature_params
        used = [(card.extra.get("input", MEL), card.extra.get("crop_frames"), card.extra.get("window_hop"))
                for card in (b.region, b.style, b.style_partner, b.region_partner)
                if card is not None and card.kind == "crnn"]
        used.append((b.embedding_input, b.embedding_crop_frames, b.embedding_window_hop))
        parts = []
        for source, crop, hop in dict.fromkeys(used):
            roll = source == PITCH_ROLL
            frames, crop = (heard.roll.shape[1], int(crop)) if roll else (heard.mel.shape[1], int(crop or b.crop_frames))
            second = 1.0 / pitchroll.ROLL_FPS if roll else params.hop_length / params.sample_rate
            n = len(window_starts(frames, crop, hop))
            parts.append(f"{'pitch roll' if roll else 'mel spectrogram'}: {n} window(s) of {crop * second:.2f} s, "
                         f"{(hop or crop // 2) * second:.2f} s apart")
        return "; ".join(parts)

    def _scores(self, card, model, heard: Heard) -> np.ndarray:
        """The model's class scores for the clip: probabilities (sklearn) or averaged logits (CRNN)."""
        if card.kind == "crnn":
            logits, _ = self._crnn(model, heard, card.extra.get("input", MEL), card.extra.get("crop_frames"),
                                   card.extra.get("window_hop"))
            return logits.astype(np.float64)
        try:
            return model.predict_proba(card.inputs.vector(heard.inputs, heard.name))[0]
        except ModelError as err:
            raise PredictError(str(err)) from None

    def _logits(self, card, model, partner_card, partner, heard: Heard) -> np.ndarray:
        """``(1, classes)``: a model's logits (a classifier's log-probabilities), or the product of experts of
        the card's model and its CRNN ``partner``, as notebook 04 computes them (``style_choice`` for the
        style, ``region_crnn.product_answers`` for the region)."""
        from . import calibration

        scores = self._scores(card, model, heard)[None, :]  # a CRNN's logits or class probabilities
        logits = scores if card.kind == "crnn" else calibration.log_probabilities(scores)
        if partner_card is None:
            return logits
        temperatures = card.extra.get(EXPERT_TEMPERATURES_KEY)  # a product of calibrated experts; absent: uncalibrated
        return calibration.product_of_experts(self._scores(partner_card, partner, heard)[None, :], logits,
                                              temperatures=temperatures)

    def __call__(self, source, sample_rate: int | None = None, name: str | None = None, top: int = 5) -> Prediction:
        if isinstance(source, (str, Path)):
            samples, rate = read_samples(source)
            name = name or str(source)
        else:
            if sample_rate is None:
                raise PredictError("a waveform needs its sample_rate")
            samples, rate, name = np.asarray(source), int(sample_rate), name or "<waveform>"
        return self.predict_heard(hear(samples, rate, self.bundle, name), top)

    def predict_heard(self, heard: Heard, top: int = 5) -> Prediction:
        """The answer for a clip already heard (:func:`hear`)."""
        from . import calibration, regions, training
        from .geo import decode_region_probabilities

        b = self.bundle
        logits = self._logits(b.region, self.region_model, b.region_partner, self.region_partner, heard)[0]
        if b.region.kind == "sklearn" and b.region_partner is None:  # notebook 03 decodes its probabilities as is
            raw = self._scores(b.region, self.region_model, heard)
        else:  # a CRNN's logits, or a product's: what notebook 04 calibrates
            raw = training.softmax(logits[None, :])[0]
        calibrated = calibration.softmax_with_temperature(logits[None, :], b.temperature)[0]
        decoded = calibrated if b.decode_calibrated else raw
        lat, lon = decode_region_probabilities(decoded[None, :], b.regions["lat"], b.regions["lon"], b.decoding)
        described = regions.decoding_summary(calibrated[None, :], b.regions, b.decoding, regions=list(b.region.classes))
        support = float(described["support"].iloc[0])
        country = str(regions.predicted_countries(decoded[None, :], b.country_shares, regions=list(b.region.classes))[0])
        style_logits = self._logits(b.style, self.style_model, b.style_partner, self.style_partner, heard)
        style_proba = calibration.softmax_with_temperature(style_logits, b.style_temperature or 1.0)[0]
        _, embedding = self._crnn(self.embedder, heard, b.embedding_input, b.embedding_crop_frames,
                                  b.embedding_window_hop)
        params = b.feature_params
        familiarity = self._novelty(heard, embedding)
        table = b.regions.assign(probability=calibrated.astype(float))
        styles = pd.DataFrame({"style": b.style.classes, "probability": style_proba.astype(float)})
        return Prediction(
            path=Path(heard.name), lat=float(lat[0]), lon=float(lon[0]), decoding=b.decoding, country=country,
            support=support, uncertain=support < UNCERTAIN_BELOW or familiarity.get("unfamiliar", False),
            regions=table.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True),
            styles=styles.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True),
            neighbours=_neighbours(self.reference, embedding, self.n_neighbours),
            region_model=_model_label(b.region.name, b.region.features), style_model=_model_label(b.style.name, b.style.features),
            n_windows=heard.n_windows, window_s=b.crop_frames * params.hop_length / params.sample_rate,
            duration_s=heard.duration_s, embedding=embedding, top=top, heard_as=self._windows(heard),
            style_temperature=b.style_temperature, **familiarity)

    def _novelty(self, heard: Heard, embedding: np.ndarray) -> dict:
        """The out-of-distribution check's fields of :class:`Prediction` (none without a check)."""
        from . import novelty

        check = self.bundle.novelty
        if check is None or self._reference_vectors is None:
            return {}
        stats = novelty.statistics(embedding[None, :], self._reference_vectors, [heard.mel], [heard.voiced],
                                   k=check.k)
        return {"unfamiliar": bool(check.unfamiliar(stats).iloc[0]), "novelty": float(check.novelty(stats).iloc[0]),
                "novelty_reason": str(check.reasons(stats).iloc[0]),
                "novelty_statistics": {**{k: float(v) for k, v in stats.iloc[0].items()},
                                       **{f"validation median {k}": c for k, c in zip(novelty.STATISTICS, check.centre)}}}


def predict_file(path: str | Path, bundle_path: str | Path | None = None, profile: str = "small",
                 top: int = 5, n_neighbours: int = 10, device=None) -> Prediction:
    """One file with a freshly loaded :class:`Predictor` (load it once yourself for many files)."""
    return Predictor(bundle_path, profile, device, n_neighbours)(path, top=top)


def predict_many(paths, predictor: Predictor, progress: bool = True) -> pd.DataFrame:
    """One CSV row per file (:data:`CSV_COLUMNS`); a file that fails gets ``status="error"`` and the reason."""
    from tqdm.auto import tqdm

    rows = []
    for path in tqdm(list(paths), desc="musicgeo-predict", unit="file", disable=not progress, file=sys.stderr):
        try:
            rows.append(predictor(path).row())
        except (PredictError, OSError, RuntimeError, ValueError) as err:
            rows.append({"file": str(path), "status": "error", "error": str(err)})
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


# --------------------------------------------------------------------------- output


def _degrees(lat: float, lon: float) -> str:
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'}, {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


def _model_label(name: str, features: str) -> str:
    """``name (features)``, unless the name already ends with its features in brackets."""
    return name if name.endswith(f"({features})") else f"{name} ({features})"


def format_prediction(pred: Prediction) -> str:
    """The answer as the text the command line prints."""
    lines = [f"{pred.path}: {pred.duration_s:.1f} s; the CRNNs hear "
             + (pred.heard_as or f"{pred.n_windows} window(s) of {pred.window_s:.2f} s")]
    if pred.unfamiliar:
        value = pred.novelty_statistics.get(pred.novelty_reason, float("nan"))
        typical = pred.novelty_statistics.get(f"validation median {pred.novelty_reason}", float("nan"))
        lines.append(f"WARNING: this clip is unlike the music the models learned (its {pred.novelty_reason} "
                     f"{value:.3f} lies far outside the validation clips', whose median is {typical:.3f}); the "
                     "answers below are guesses, and their probabilities overstate how sure the models can be")
    lines += [
             f"Region model (best on validation): {pred.region_model}",
             f"Top {pred.top} regions (calibrated probabilities):"]
    for i, row in enumerate(pred.regions.head(pred.top).itertuples(index=False), 1):
        lines.append(f"  {i}. {row.region} ({row.country}): {100 * row.probability:.1f} %")
    verdict = ("uncertain: the probability is spread over far-apart regions" if pred.support < UNCERTAIN_BELOW
               else "uncertain: the clip is unlike the training clips" if pred.unfamiliar
               else "the point stands for most of the probability")
    lines.append(f"Decoded point ({pred.decoding}): {_degrees(pred.lat, pred.lon)}; most probable country "
                 f"(probabilities summed over its regions): {pred.country}; "
                 f"{100 * pred.support:.0f} % of the probability within 1,000 km ({verdict})")
    lines.append(f"Style model (best on validation): {pred.style_model}; top {pred.top} styles "
                 + ("(uncalibrated probabilities: the bundle's style card states no temperature):"
                    if pred.style_temperature is None else
                    f"(calibrated probabilities: temperature {pred.style_temperature:.2f}, fitted on validation):"))
    for i, row in enumerate(pred.styles.head(pred.top).itertuples(index=False), 1):
        lines.append(f"  {i}. {row.style}: {100 * row.probability:.1f} %")
    if len(pred.neighbours):
        votes = pred.neighbours["style"].value_counts()
        lines.append(f"Nearest reference tunes in the style CRNN's space ({len(pred.neighbours)}): "
                     + ", ".join(f"{style} {count}" for style, count in votes.items()))
        for row in pred.neighbours.head(pred.top).itertuples(index=False):
            lines.append(f"  {row.tune_id} ({row.style}): cosine similarity {row.similarity:.3f}")
    return "\n".join(lines)


def prediction_map(pred: Prediction, out_path: str | Path) -> Path:
    """An offline HTML map of the answer: graded circles for the top regions and the decoded point.

    Circle radius grows with the square root of the probability (area ~
    probability); every label is escaped; the page needs no network.
    """
    from . import map_html, maps

    m = maps.base_map(location=(pred.lat, pred.lon), zoom_start=3)
    top = pred.regions.head(pred.top).copy()
    top["radius"] = 6 + 30 * np.sqrt(top["probability"] / max(top["probability"].max(), 1e-12))
    top["label"] = [f"{r.region} ({r.country}): {100 * r.probability:.1f} %" for r in top.itertuples()]
    maps.add_points(m, top, color="#2b8cbe", radius="radius", tooltip="label", fill_opacity=0.45)
    point = pd.DataFrame({"lat": [pred.lat], "lon": [pred.lon],
                          "label": [f"decoded point ({pred.decoding}): {_degrees(pred.lat, pred.lon)}, "
                                    f"country {pred.country}"]})
    maps.add_points(m, point, color="#d7301f", radius=7, tooltip="label", fill_opacity=1.0)
    lats, lons = [*top["lat"], pred.lat], [*top["lon"], pred.lon]
    m.fit_bounds([[min(lats) - 5, min(lons) - 5], [max(lats) + 5, max(lons) + 5]])  # every circle in view
    maps.add_legend(m, {f"top {len(top)} regions (area ~ probability)": "#2b8cbe",
                        "decoded point": "#d7301f"}, title=f"Where is {pred.path.name} from?")
    return map_html.save_offline(m, out_path)


def music_map_page(predictor: Predictor, pred: Prediction, out_path: str | Path):
    """The map of music (notebook 05's tunes and layouts, beside the bundle) with the song placed
    among its nearest tunes in the same embedding (:func:`songmap.song_map`); (page, nearest tunes)."""
    from . import songmap

    path = predictor.bundle.path.parent / songmap.REFERENCE_NAME
    try:
        return songmap.song_map(songmap.read_map_reference(path), pred.path.name, pred.embedding, out_path)
    except FileNotFoundError:
        raise PredictError(f"{path} not found: run notebook 05 to draw the map of music") from None
    except ValueError as err:
        raise PredictError(f"{path}: {err}") from None


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicgeo-predict",
                                     description="Where is this song from, and what style? Top regions, the "
                                                 "decoded point, styles and an offline map; many files: a CSV.")
    parser.add_argument("audio", type=Path, nargs="+", help="audio files soundfile or librosa can read")
    parser.add_argument("--profile", default="small", help="profile whose bundle to use (default small)")
    parser.add_argument("--bundle", type=Path, default=None, help="prediction bundle JSON (overrides --profile)")
    parser.add_argument("--top", type=int, default=5, help="regions and styles to list (default 5)")
    parser.add_argument("--map", type=Path, default=None, help="write an offline HTML map here (one file only)")
    parser.add_argument("--music-map", type=Path, default=None,
                        help="write the map of music with this song placed among its nearest tunes (one file only)")
    parser.add_argument("--csv", type=Path, default=None, help="batch mode: one row per file into this CSV")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar in batch mode")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    return parser


def _error(message: str) -> None:
    print(f"musicgeo-predict: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 bad input or any file failed, 2 bad arguments)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or the help)
        return int(exit_.code or 0)
    if args.top < 1:
        _error("--top must be at least 1")
        return EXIT_USAGE
    batch = args.csv is not None or len(args.audio) > 1
    if batch and (args.map is not None or args.music_map is not None):
        _error("--map and --music-map draw one file's answer; leave them out in batch mode")
        return EXIT_USAGE
    try:
        predictor = Predictor(args.bundle, args.profile, args.device)
        if not batch:
            pred = predictor(args.audio[0], top=args.top)
            print(format_prediction(pred))
            if args.map is not None:
                print(f"Map: {prediction_map(pred, args.map)}")
            if args.music_map is not None:
                page, nearest = music_map_page(predictor, pred, args.music_map)
                print(f"Music map: {page} (nearest tunes: {', '.join(nearest['title'])})")
            return 0
    except (PredictError, OSError, RuntimeError) as err:
        _error(str(err))
        return EXIT_BAD_INPUT
    answers = predict_many(args.audio, predictor, progress=not args.no_progress)
    failed = answers[answers["status"] != "ok"]
    for row in failed.itertuples():
        _error(row.error)
    if args.csv is not None:
        with cache.atomic_path(args.csv) as tmp:
            answers.to_csv(tmp, index=False)
        print(f"{len(answers) - len(failed)} of {len(answers)} files answered; {len(failed)} failed; CSV: {args.csv}")
    else:
        print(answers.drop(columns=["error"]).to_string(index=False))
    return EXIT_BAD_INPUT if len(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
