"""Where is this song from? Score any audio file with the trained models.

Command line (also installed as the ``musicgeo-predict`` console script)::

    python -m musicgeo_utils.predict song.wav [--profile small] [--bundle PATH]
                                              [--top 5] [--map out.html]

The models come as a *prediction bundle* that notebook 04 writes with
:func:`write_bundle`: a JSON file (default
``<data>/models/<profile>/predict-bundle.json``) naming, in its own folder,
the style CRNN and the geographic CRNN checkpoints, the region centroids,
the feature parameters and a reference table of held-out tunes' style
embeddings::

    {"format": "musicgeo-predict-1", "profile": "small", "seed": 0,
     "sample_rate": 12000, "crop_frames": 256, "feature_params": {...},
     "style": {"checkpoint": "style.pt", "classes": ["American fiddle", ...]},
     "geo": {"checkpoint": "geo.pt", "decoding": "top" | "weighted" | "median",
             "regions": [{"region": ..., "country": ..., "lat": ..., "lon": ...}]},
     "reference": "reference.npz"}   # arrays tune_id, style, embedding (n, d); may be null

A file of any length, channel count and sample rate is read (soundfile,
then librosa for other formats), mixed to mono, resampled to the bundle's
rate, turned into a log-mel spectrogram and cut into windows of
``crop_frames`` frames with a hop of half a window; each model's softmax
probabilities are averaged over the windows. Bad input (unreadable, empty or
silent audio, a clip shorter than one window, a missing bundle or
checkpoint) gives one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from .cache import write_json
from .features import FeatureError, FeatureParams
from .geo import REGION_DECODINGS

BUNDLE_FORMAT = "musicgeo-predict-1"
BUNDLE_NAME = "predict-bundle.json"
#: Exit status for bad input (file, bundle, checkpoint) and for bad arguments.
EXIT_BAD_INPUT, EXIT_USAGE = 1, 2


class PredictError(Exception):
    """A problem with the input or the bundle, told in one line (no traceback)."""


# --------------------------------------------------------------------------- the bundle


@dataclass(frozen=True)
class Bundle:
    """A validated prediction bundle; file names are resolved in its folder."""

    path: Path
    profile: str
    seed: int
    sample_rate: int
    crop_frames: int
    feature_params: FeatureParams
    style_checkpoint: Path
    style_classes: tuple[str, ...]
    geo_checkpoint: Path
    decoding: str
    regions: pd.DataFrame = field(compare=False)
    reference: Path | None


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


def _regions(raw: list, path: Path) -> pd.DataFrame:
    """The geo head's regions as a table, checked: names, countries, lat/lon in degrees."""
    if not raw:
        raise PredictError(f"bundle {path}: geo.regions is empty")
    rows = []
    for i, entry in enumerate(raw):
        where = f"geo.regions[{i}]."
        row = {k: _need(entry, k, str, where, path) for k in ("region", "country")}
        row.update({k: float(_need(entry, k, (int, float), where, path)) for k in ("lat", "lon")})
        if abs(row["lat"]) > 90 or abs(row["lon"]) > 180:
            raise PredictError(f"bundle {path}: {where[:-1]} lat/lon {row['lat']}, {row['lon']} out of range")
        rows.append(row)
    return pd.DataFrame(rows, columns=["region", "country", "lat", "lon"])


def _feature_params(raw: dict, sample_rate: int, path: Path) -> FeatureParams:
    try:
        params = FeatureParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    except (TypeError, ValueError) as err:
        raise PredictError(f"bundle {path}: feature_params do not fit FeatureParams: {err}") from None
    if params.sample_rate != sample_rate:
        raise PredictError(f"bundle {path}: sample_rate {sample_rate} Hz differs from "
                           f"feature_params.sample_rate {params.sample_rate} Hz")
    return params


def _bundle_from_dict(raw: dict, path: Path) -> Bundle:
    """Validate a parsed bundle; every problem names the file and the field."""
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        raise PredictError(f"bundle {path}: not a {BUNDLE_FORMAT} file (format "
                           f"{raw.get('format') if isinstance(raw, dict) else None!r})")
    folder = path.parent
    sample_rate = _need(raw, "sample_rate", int, "", path)
    crop = _need(raw, "crop_frames", int, "", path)
    if crop <= 0:
        raise PredictError(f"bundle {path}: crop_frames must be positive, got {crop}")
    style, geo = _need(raw, "style", dict, "", path), _need(raw, "geo", dict, "", path)
    classes = _need(style, "classes", list, "style.", path)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise PredictError(f"bundle {path}: style.classes must be a non-empty list of names")
    decoding = _need(geo, "decoding", str, "geo.", path)
    if decoding not in REGION_DECODINGS:
        raise PredictError(f"bundle {path}: geo.decoding must be one of {REGION_DECODINGS}, got {decoding!r}")
    reference = raw.get("reference")
    return Bundle(
        path=path, profile=str(raw.get("profile", "")), seed=int(raw.get("seed", 0)),
        sample_rate=sample_rate, crop_frames=crop,
        feature_params=_feature_params(_need(raw, "feature_params", dict, "", path), sample_rate, path),
        style_checkpoint=_bundle_file(folder, _need(style, "checkpoint", str, "style.", path),
                                      "style checkpoint", path),
        style_classes=tuple(classes),
        geo_checkpoint=_bundle_file(folder, _need(geo, "checkpoint", str, "geo.", path),
                                    "geo checkpoint", path),
        decoding=decoding, regions=_regions(_need(geo, "regions", list, "geo.", path), path),
        reference=None if reference is None else _bundle_file(folder, str(reference), "reference", path),
    )


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
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PredictError(f"bundle {path}: not valid JSON ({err})") from None
    return _bundle_from_dict(raw, path)


def write_bundle(path: str | Path, **fields) -> Path:
    """Write a prediction bundle JSON atomically, after validating it as :func:`read_bundle` does.

    ``fields`` are the schema's keys (``profile, seed, sample_rate,
    crop_frames, feature_params, style, geo, reference``); ``format`` is
    added. ``feature_params`` may be a :class:`FeatureParams`. The
    checkpoints and reference file must already be in ``path``'s folder.
    """
    path = Path(path)
    if isinstance(fields.get("feature_params"), FeatureParams):
        from dataclasses import asdict

        fields["feature_params"] = asdict(fields["feature_params"])
    payload = json.loads(json.dumps({"format": BUNDLE_FORMAT, **fields}, default=_plain))
    _bundle_from_dict(payload, path)
    return write_json(path, payload)


def _plain(value):
    """JSON fallback for NumPy scalars, tuples and paths in bundle fields."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return value.name
    raise TypeError(f"bundle fields must be plain data, got {type(value).__name__}")


# --------------------------------------------------------------------------- models


def _load_model(path: Path, n_outputs: int, what: str, device):
    """A checkpoint's model in eval mode, checked to have ``n_outputs`` classes."""
    from . import training

    try:
        model, _, _ = training.load_checkpoint(path, device)
    except (FileNotFoundError, ValueError) as err:
        raise PredictError(f"{what}: {err}") from None
    n_classes = model.hparams.get("n_classes") if hasattr(model, "hparams") else None
    if n_classes != n_outputs or not hasattr(model, "head"):
        raise PredictError(f"{what} {path}: model has {n_classes} outputs, the bundle lists {n_outputs}")
    return model


def _reference(path: Path | None, dim: int) -> pd.DataFrame | None:
    """The reference embeddings (``tune_id, style`` + unit vectors); ``None`` without a file."""
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            tune_id, style, emb = (data["tune_id"], data["style"], data["embedding"].astype(np.float32))
    except (OSError, ValueError, KeyError) as err:
        raise PredictError(f"reference {path}: unreadable or missing tune_id/style/embedding ({err})") from None
    if emb.ndim != 2 or emb.shape[1] != dim or not len(tune_id) == len(style) == len(emb):
        raise PredictError(f"reference {path}: embedding shape {emb.shape} does not fit "
                           f"{len(tune_id)} tunes of the style model's {dim}-d embedding")
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return pd.DataFrame({"tune_id": tune_id.astype(str), "style": style.astype(str)}).assign(_unit=list(unit))


# --------------------------------------------------------------------------- audio -> windows


def read_audio(path: str | Path, params: FeatureParams) -> np.ndarray:
    """Any audio file as mono float32 at ``params.sample_rate`` Hz.

    soundfile first (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1), librosa
    (audioread / ffmpeg) for other formats. An unreadable or empty file
    raises :class:`PredictError` naming it.
    """
    from .features import load_audio

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    try:
        y = load_audio(path, params, clip_id=str(path))
    except FeatureError as err:
        y = _librosa_fallback(path, params, err.reason)
    if y.size == 0:
        raise PredictError(f"{path}: no audio samples (empty file)")
    return y


def _librosa_fallback(path: Path, params: FeatureParams, reason: str) -> np.ndarray:
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():  # librosa warns before trying audioread
            warnings.simplefilter("ignore")
            y, _ = librosa.load(path, sr=params.sample_rate, mono=True)
    except Exception:  # audioread raises backend-specific types; the soundfile reason is clearer
        raise PredictError(f"{path}: unreadable audio ({reason})") from None
    return np.ascontiguousarray(y, dtype=np.float32)


def mel_windows(y: np.ndarray, params: FeatureParams, crop_frames: int, name: str = "<audio>") -> np.ndarray:
    """Log-mel windows ``(n_windows, n_mels, crop_frames)`` with a hop of half a window.

    Windows start at 0, hop, 2 hop, ... while a whole window fits (the tail
    shorter than a hop is left out). Raises :class:`PredictError` for silent
    audio or a clip shorter than one window (``crop_frames`` frames).
    """
    from .features import mel_spectrogram

    window_s = crop_frames * params.hop_length / params.sample_rate
    if y.size < crop_frames * params.hop_length:  # also catches clips too short for one FFT
        raise PredictError(f"{name}: clip of {y.size / params.sample_rate:.2f} s is shorter than one "
                           f"window ({window_s:.2f} s = {crop_frames} frames)")
    try:
        mel = mel_spectrogram(y, params, clip_id=name)
    except FeatureError as err:
        raise PredictError(str(err)) from None
    hop = max(1, crop_frames // 2)
    starts = range(0, mel.shape[1] - crop_frames + 1, hop)
    return np.stack([mel[:, s:s + crop_frames] for s in starts]).astype(np.float32)


def score_windows(model, windows: np.ndarray, device=None, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(softmax probabilities averaged over windows, mean embedding) of a classifier CRNN."""
    import torch

    probs, embs = [], []
    device = next(model.parameters()).device if device is None else device
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            x = torch.from_numpy(windows[start:start + batch_size]).to(device)
            emb = model.embed(x)
            probs.append(torch.softmax(model.head(emb).float(), dim=1).cpu().numpy())
            embs.append(emb.float().cpu().numpy())
    return np.concatenate(probs).mean(axis=0), np.concatenate(embs).mean(axis=0)


# --------------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """The answer for one audio file.

    ``regions``: every region of the geo head (``region, country, lat, lon,
    probability``), most probable first; ``lat``/``lon``: the decoded point
    (degrees, with the bundle's ``decoding``); ``country``/``nearest_region``
    /``nearest_km``: the region centroid nearest to that point and its
    great-circle distance (km); ``styles``: ``style, probability``, most
    probable first; ``neighbours``: the reference tunes nearest in the style
    model's embedding (``tune_id, style, similarity``, cosine); ``n_windows``
    scored windows of ``window_s`` seconds; ``duration_s`` of the file.
    """

    path: Path
    regions: pd.DataFrame
    lat: float
    lon: float
    decoding: str
    country: str
    nearest_region: str
    nearest_km: float
    styles: pd.DataFrame
    neighbours: pd.DataFrame
    n_windows: int
    window_s: float
    duration_s: float
    embedding: np.ndarray
    top: int = 5


def _decoded_point(proba: np.ndarray, regions: pd.DataFrame, decoding: str) -> tuple[float, float, int, float]:
    """(lat, lon) of the decoded point, index of the nearest region centroid, distance km."""
    from .geo import decode_region_probabilities, great_circle_km, nearest_point_index

    lat, lon = decode_region_probabilities(proba[None, :], regions["lat"], regions["lon"], decoding)
    nearest = int(nearest_point_index(lat, lon, regions["lat"].to_numpy(), regions["lon"].to_numpy())[0])
    km = float(great_circle_km(lat[0], lon[0], regions.at[nearest, "lat"], regions.at[nearest, "lon"]))
    return float(lat[0]), float(lon[0]), nearest, km


def _neighbours(reference: pd.DataFrame | None, embedding: np.ndarray, k: int) -> pd.DataFrame:
    columns = ["tune_id", "style", "similarity"]
    if reference is None or not len(reference):
        return pd.DataFrame(columns=columns)
    unit = embedding / max(float(np.linalg.norm(embedding)), 1e-12)
    similarity = np.stack(reference["_unit"].to_numpy()) @ unit
    order = np.argsort(-similarity, kind="stable")[:k]
    return pd.DataFrame({"tune_id": reference["tune_id"].to_numpy()[order],
                         "style": reference["style"].to_numpy()[order],
                         "similarity": similarity[order].astype(float)}, columns=columns)


def predict_file(path: str | Path, bundle_path: str | Path | None = None, profile: str = "small",
                 top: int = 5, n_neighbours: int = 10, device=None) -> Prediction:
    """Predict where the music in ``path`` comes from, and its style.

    ``bundle_path`` defaults to :func:`default_bundle_path` of ``profile``.
    Raises :class:`PredictError` (one line, naming the file) for a missing or
    invalid bundle or checkpoint, unreadable, empty or silent audio, or a
    clip shorter than one window.
    """
    bundle = read_bundle(bundle_path if bundle_path is not None else default_bundle_path(profile))
    y = read_audio(path, bundle.feature_params)
    windows = mel_windows(y, bundle.feature_params, bundle.crop_frames, str(path))
    style_model = _load_model(bundle.style_checkpoint, len(bundle.style_classes), "style checkpoint", device)
    geo_model = _load_model(bundle.geo_checkpoint, len(bundle.regions), "geo checkpoint", device)
    style_proba, embedding = score_windows(style_model, windows)
    geo_proba, _ = score_windows(geo_model, windows)
    lat, lon, nearest, km = _decoded_point(geo_proba, bundle.regions, bundle.decoding)
    regions = bundle.regions.assign(probability=geo_proba.astype(float))
    styles = pd.DataFrame({"style": bundle.style_classes, "probability": style_proba.astype(float)})
    reference = _reference(bundle.reference, embedding.shape[0])
    params = bundle.feature_params
    return Prediction(
        path=Path(path), lat=lat, lon=lon, decoding=bundle.decoding,
        regions=regions.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True),
        country=str(bundle.regions.at[nearest, "country"]),
        nearest_region=str(bundle.regions.at[nearest, "region"]), nearest_km=km,
        styles=styles.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True),
        neighbours=_neighbours(reference, embedding, n_neighbours), n_windows=len(windows),
        window_s=bundle.crop_frames * params.hop_length / params.sample_rate,
        duration_s=y.size / params.sample_rate, embedding=embedding, top=top)


# --------------------------------------------------------------------------- output


def _degrees(lat: float, lon: float) -> str:
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'}, {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


def format_prediction(pred: Prediction) -> str:
    """The answer as the text the command line prints."""
    lines = [f"{pred.path}: {pred.duration_s:.1f} s, scored over {pred.n_windows} window(s) of "
             f"{pred.window_s:.2f} s", f"Top {pred.top} regions:"]
    for i, row in enumerate(pred.regions.head(pred.top).itertuples(index=False), 1):
        lines.append(f"  {i}. {row.region} ({row.country}): {100 * row.probability:.1f} %")
    lines.append(f"Decoded point ({pred.decoding}): {_degrees(pred.lat, pred.lon)}; nearest country: "
                 f"{pred.country} (region {pred.nearest_region}, {pred.nearest_km:,.0f} km away)")
    if pred.decoding == "weighted" and len(pred.regions):
        best = pred.regions.iloc[0]
        lines.append(f"  (the probability-weighted mean of all region centroids, the decoding chosen on "
                     f"validation: it can fall between far-apart regions; the most probable region's "
                     f"centroid is {best['region']}, {_degrees(best['lat'], best['lon'])})")
    elif pred.decoding == "median":
        lines.append("  (the probability-weighted geometric median of the region centroids, the decoding "
                     "chosen on validation: the point with the least expected distance to the origin "
                     "if these probabilities are right)")
    lines.append("Top styles:")
    for i, row in enumerate(pred.styles.head(pred.top).itertuples(index=False), 1):
        lines.append(f"  {i}. {row.style}: {100 * row.probability:.1f} %")
    if len(pred.neighbours):
        votes = pred.neighbours["style"].value_counts()
        lines.append(f"Nearest styles on the music map ({len(pred.neighbours)} nearest reference tunes): "
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
                                    f"nearest country {pred.country}"]})
    maps.add_points(m, point, color="#d7301f", radius=7, tooltip="label", fill_opacity=1.0)
    lats, lons = [*top["lat"], pred.lat], [*top["lon"], pred.lon]
    m.fit_bounds([[min(lats) - 5, min(lons) - 5], [max(lats) + 5, max(lons) + 5]])  # every circle in view
    maps.add_legend(m, {f"top {len(top)} regions (area ~ probability)": "#2b8cbe",
                        "decoded point": "#d7301f"}, title=f"Where is {pred.path.name} from?")
    return map_html.save_offline(m, out_path)


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicgeo-predict",
                                     description="Where is this song from? Top regions, decoded "
                                                 "coordinates, styles and an offline map.")
    parser.add_argument("audio", type=Path, help="any audio file soundfile or librosa can read")
    parser.add_argument("--profile", default="small", help="profile whose bundle to use (default small)")
    parser.add_argument("--bundle", type=Path, default=None, help="prediction bundle JSON (overrides --profile)")
    parser.add_argument("--top", type=int, default=5, help="regions and styles to list (default 5)")
    parser.add_argument("--map", type=Path, default=None, help="write an offline HTML map here")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 bad input, 2 bad arguments)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message (or the help)
        return int(exit_.code or 0)
    if args.top < 1:
        print("musicgeo-predict: error: --top must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        pred = predict_file(args.audio, args.bundle, args.profile, args.top, device=args.device)
        print(format_prediction(pred))
        if args.map is not None:
            print(f"Map: {prediction_map(pred, args.map)}")
    except (PredictError, OSError, RuntimeError) as err:
        print(f"musicgeo-predict: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
