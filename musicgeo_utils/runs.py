"""One run of the notebooks: which dataset, where its files are, and what it offers.

Every notebook's parameters cell has ``dataset`` and ``data_root`` (beside
``profile`` and ``seed``); its first cell makes a :class:`Run` from them.
The run says

- **what the dataset offers** (:data:`OFFERS`): ``audio`` (rendered or its own;
  UCI GOM has only published features), ``notes`` (a score for every
  item, so audio is rendered and transcriptions can be scored against the
  truth), ``locations`` (latitude/longitude, for the geographic sections) and
  its label (``style`` for the folk corpus, ``genre`` for GTZAN and FMA), and
  ``provenance`` (each item's geocode level and book: the folk corpus only). A
  notebook section that needs something the dataset lacks starts with the cell
  magic ``%%needs notes`` (or any of :data:`CAPABILITIES`, several at once:
  ``%%needs locations notes``): on such a dataset the cell prints one line
  saying why and is skipped, without an error (:func:`needs`);
- **its other split**: GTZAN runs as ``gtzan`` (the fault-filtered split) and
  as ``gtzan_random`` (the same files, a random split); :meth:`Run.split_twin`
  and :func:`compare_splits` put the two runs' tables side by side;
- **where its outputs go**: the folk default keeps ``data/results/``,
  ``data/models/<profile>/`` and ``reports/``; another dataset gets its own
  folder under each (``data/results/gtzan/``, ``data/models/gtzan/<profile>/``,
  ``reports/gtzan/``), so two datasets never mix. Feature, transcription and
  audio caches are keyed by file content and need no dataset name;
- **its data**: :meth:`Run.tunes` and :meth:`Run.features` give every notebook
  the same table whatever the dataset: one row per item with ``tune_id``,
  ``title``, ``style`` (the label), ``split``, ``country``, ``lat``/``lon``
  (NaN without locations) and ``audio_path``.

The folk corpus is rendered from its scores (:mod:`musicgeo_utils.manifest`);
an audio dataset (``gtzan``, ``fma``) is read from its files as they are.
``uci_gom`` has no audio, only the features its authors published: notebook
03 runs its geographic methods on them, the audio notebooks stop with
:class:`NotOffered` (``audio``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import config

#: What each dataset offers the notebooks (:data:`CAPABILITIES`) and its ``label``: the
#: column that the style models learn, shown as ``style`` in every tunes table.
OFFERS: dict[str, dict] = {
    "folk": {"audio": True, "notes": True, "locations": True, "catalogue": False, "provenance": True,
             "label": "style"},
    "gtzan": {"audio": True, "notes": False, "locations": False, "catalogue": True, "provenance": False,
              "label": "genre"},
    # the same recordings with a seeded random split (the Music-Mapp write-up's), not artist-filtered
    "gtzan_random": {"audio": True, "notes": False, "locations": False, "catalogue": True, "provenance": False,
                     "label": "genre"},
    "fma": {"audio": True, "notes": False, "locations": True, "catalogue": True, "provenance": False, "label": "genre"},
    # Lakh MIDI matched to the MSD: whole MIDI files rendered through the soundfont, artist locations.
    # Its notes are MIDI, but the notebooks' score sections read the folk corpus's manifest: no "notes".
    "lmd_msd": {"audio": True, "notes": False, "locations": True, "catalogue": True, "provenance": False,
                "label": "country"},
    # UCI "Geographical Original of Music": published features and a point per track, no audio
    "uci_gom": {"audio": False, "notes": False, "locations": True, "catalogue": True, "provenance": False,
                "label": "country"},
}
#: Where a dataset name is another dataset's files read differently (its loader's name, keywords).
ALIASES = {"gtzan_random": ("gtzan", {"split": "random"})}
#: The same files under another split, and how each split is called in a side-by-side table
#: (:func:`compare_splits`): GTZAN's fault-filtered, artist-conditional split and a random one.
SPLIT_TWINS = {"gtzan": "gtzan_random", "gtzan_random": "gtzan"}
SPLIT_NAMES = {"gtzan": "filtered split", "gtzan_random": "random split"}
#: Capabilities a notebook section can need (``%%needs ...``): ``catalogue`` = a dataset read by its
#: loader from files under ``data_root`` (tracks, skips, split); the folk corpus comes from music21.
#: ``provenance`` = each item's geocode level and book (collection), which only the folk corpus records.
CAPABILITIES = ("audio", "notes", "locations", "catalogue", "provenance")
#: How a skipped cell says what its dataset lacks.
LACKS = {"audio": "no audio (only published features)", "notes": "no scores (notes)", "locations": "no locations",
         "catalogue": "no dataset files to list (its tunes come from music21's corpus)",
         "provenance": "no geocode levels or books (only the folk corpus records them)"}
#: Columns every run's tunes table has.
TUNE_COLUMNS = ["tune_id", "title", "style", "split", "country", "lat", "lon", "audio_path"]


class NotOffered(RuntimeError):
    """A notebook needs something its dataset does not offer (e.g. notebook 03 on GTZAN)."""


@dataclass(frozen=True)
class Run:
    """The notebooks' parameters as one object (``dataset``, ``data_root``, ``profile``, ``seed``)."""

    dataset: str = "folk"
    data_root: str | None = None
    profile: str = "small"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in OFFERS:
            raise ValueError(f"dataset {self.dataset!r} has no notebook chain; choose one of {sorted(OFFERS)}")
        config.get_profile(self.profile)  # a clear error for an unknown profile

    # ------------------------------------------------------------------ offers

    @property
    def folk(self) -> bool:
        return self.dataset == "folk"

    def offers(self, capability: str) -> bool:
        """Whether the dataset offers ``capability`` (one of :data:`CAPABILITIES`)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; choose from {CAPABILITIES}")
        return bool(OFFERS[self.dataset][capability])

    def missing(self, *capabilities: str) -> list[str]:
        """Those of ``capabilities`` that the dataset lacks."""
        return [c for c in capabilities if not self.offers(c)]

    def require(self, *capabilities: str, what: str = "this notebook") -> None:
        """Raise :class:`NotOffered` naming the dataset and what it lacks (the pipeline skips such a notebook)."""
        lacking = self.missing(*capabilities)
        if lacking:
            raise NotOffered(f"{what} needs {' and '.join(lacking)}, which dataset {self.dataset!r} does not offer")

    @property
    def label(self) -> str:
        """What the ``style`` column holds for this dataset: 'style' or 'genre'."""
        return OFFERS[self.dataset]["label"]

    def split_twin(self) -> "Run | None":
        """The run of the same files under the other split (:data:`SPLIT_TWINS`), or ``None``."""
        twin = SPLIT_TWINS.get(self.dataset)
        return None if twin is None else Run(twin, self.data_root, self.profile, self.seed)

    # ------------------------------------------------------------------ where outputs go

    def _scoped(self, *parts: str) -> tuple[str, ...]:
        return parts if self.folk else (self.dataset, *parts)

    def results_path(self, name: str, suffix: str = ".parquet") -> Path:
        """``data/results/[<dataset>/]<name>-<profile>-<seed><suffix>``."""
        return config.data_path("results", *self._scoped(f"{name}-{self.profile}-{self.seed}{suffix}"))

    def models_dir(self) -> Path:
        """``data/models/[<dataset>/]<profile>/``: the saved models and predict's bundle."""
        return config.data_dir("models", *self._scoped(self.profile))

    def reports_path(self, *parts: str) -> Path:
        """``reports/[<dataset>/]<parts>`` (maps, screenshots)."""
        return config.reports_path(*self._scoped(*parts))

    def reports_dir(self, *parts: str) -> Path:
        return config.reports_dir(*self._scoped(*parts))

    # ------------------------------------------------------------------ data

    def load(self):
        """The dataset as :func:`datasets.load_dataset` returns it (tracks and skips), with a split.

        Where the loader gives no split and label (``lmd_msd``, ``uci_gom``),
        ``country`` is today's country at each point and the split is drawn
        with the seed: by artist for Lakh MIDI (no artist in two splits,
        :func:`splits.assign_splits`), by track for UCI GOM (no artists
        published), stratified by country either way.
        """
        from . import datasets

        name, kw = ALIASES.get(self.dataset, (self.dataset, {}))
        if name in ("folk", "gtzan"):
            kw = {**kw, "seed": self.seed}
        root = self.data_root if self.data_root or name == self.dataset else datasets.default_root(name)
        data = datasets.load_dataset(name, root, **kw)
        if "split" not in data.tracks:
            _add_country_and_split(data, self.seed)
        return data

    def tunes(self) -> pd.DataFrame:
        """The profile's items, one row each, with at least :data:`TUNE_COLUMNS` (no audio yet for folk)."""
        if self.folk:
            from . import manifest

            return manifest.load_profile(self.profile, self.seed)[0]
        if not self.offers("audio"):
            return feature_tunes(self.load())
        tunes = audio_tunes(self.load().tracks, self.dataset, config.get_profile(self.profile), self.seed)
        if "midi_path" in tunes:  # Lakh MIDI: each song's whole MIDI file rendered (render.render_midi)
            from . import manifest, render

            rendered = render.render_midi_files(tunes, manifest.render_params(self.profile))
            tunes["audio_path"] = rendered["audio_path"].to_numpy()
            tunes["render_problem"] = rendered["reason"].where(rendered["status"] == "skipped").to_numpy()
        return tunes

    def geo_tunes(self) -> pd.DataFrame:
        """The items whose geographic answers notebooks 03 and 04 saved, for notebook 06.

        Folk: the profile's tunes (:meth:`tunes`, the manifest's columns: geocode level,
        collection). Another dataset: its items with audio features and a location, as
        notebook 03 reads them (``features(located=True)``, from the feature cache).
        """
        if self.folk:
            return self.tunes()
        return self.features(located=True)[0]

    def features(self, n_jobs: int | None = None, client=None, located: bool = False):
        """``(tunes, extraction.FeatureSet)`` of the profile's clips, rows in the same order.

        Folk: :func:`manifest.profile_features` (rendered clips). An audio
        dataset: its files as they are, every skip counted in ``FeatureSet.skips``.
        ``located``: only items with a latitude/longitude (the geographic
        notebooks); the others join the skips as ``no location``.
        """
        if self.folk:
            from . import manifest

            tunes, result = manifest.profile_features(self.profile, self.seed, n_jobs=n_jobs, client=client)
        elif not self.offers("audio"):  # published features (uci_gom): every track, as released
            from . import extraction

            data = self.load()
            tunes = feature_tunes(data)
            summary = data.features.set_axis(data.features.index.astype(str)).loc[tunes["tune_id"]]
            result = extraction.FeatureSet(summary.rename_axis("clip_id"), pd.Series(dtype=object),
                                           pd.DataFrame(columns=["clip_id", "reason"]),
                                           {"published": len(summary), "skipped": 0})
        else:
            from . import extraction, features

            tunes = self.tunes()
            heard = tunes["audio_path"].notna()  # a MIDI file that could not be rendered has no audio
            items = tunes.loc[heard, ["tune_id", "audio_path"]].rename(columns={"tune_id": "clip_id"})
            result = extraction.extract_many(items, features.FeatureParams(), n_jobs=n_jobs, client=client)
            if not heard.all():
                unheard = tunes.loc[~heard, "tune_id"]
                _add_skips(result, unheard, tunes.loc[~heard].get("render_problem", "no audio"))
            tunes = tunes.set_index("tune_id").loc[result.summary.index].reset_index()
        return _located(tunes, result) if located else (tunes, result)


def _add_skips(result, clip_ids: pd.Series, reason) -> None:
    """Count ``clip_ids`` as skipped in ``result.skips`` with ``reason`` (one, or one per clip)."""
    reasons = reason.to_numpy() if isinstance(reason, pd.Series) else reason
    added = pd.DataFrame({"clip_id": clip_ids.to_numpy(), "reason": reasons})
    result.skips = pd.concat([result.skips, added], ignore_index=True)


def has_location(tunes: pd.DataFrame) -> np.ndarray:
    """Which rows of ``tunes`` have both a latitude and a longitude (a boolean array)."""
    return (tunes["lat"].notna() & tunes["lon"].notna()).to_numpy()


def located(tunes: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``tunes`` with a latitude and longitude (index reset): what a geographic section scores.

    ``tunes`` itself where every row has one (the folk corpus), so such a run computes exactly as before.
    """
    has = has_location(tunes)
    return tunes if has.all() else tunes[has].reset_index(drop=True)


def _located(tunes: pd.DataFrame, result):
    """Keep the rows with a latitude and longitude; count the others as skips (``no location``)."""
    has = has_location(tunes)
    if has.all():
        return tunes, result
    gone = tunes.loc[~has, "tune_id"]
    _add_skips(result, gone, "no location")
    result.summary = result.summary[has]
    result.mel_paths = result.mel_paths.drop(gone, errors="ignore")
    return tunes[has].reset_index(drop=True), result


def _add_country_and_split(data, seed: int) -> None:
    """``country`` at each track's point and a seeded ``split`` (see :meth:`Run.load`), in place."""
    from .audio_datasets import split_by_seed
    from .geocode import countries_at
    from .splits import assign_splits

    tracks = data.tracks
    tracks["country"] = countries_at(tracks["lat"], tracks["lon"]).to_numpy()
    if "artist_id" in tracks:
        grouped = tracks.assign(group=tracks["artist_id"].astype(str))
        tracks["split"] = assign_splits(grouped, seed).to_numpy()
        data.info["split"] = f"seeded (seed {seed}), by artist (no artist in two splits), stratified by country"
    else:
        tracks["split"] = split_by_seed(tracks["country"], seed)
        data.info["split"] = f"seeded (seed {seed}), stratified by country, 70/15/15 (none published)"


def feature_tunes(data) -> pd.DataFrame:
    """A dataset of published features (UCI GOM) as the notebooks' tunes table: every track.

    ``style`` and ``region`` are the ``country`` (from :meth:`Run.load`); no audio.
    """
    tracks = data.tracks
    country = tracks["country"].to_numpy()
    return pd.DataFrame({"tune_id": tracks["track_id"].astype(str).to_numpy(),
                         "title": tracks.get("title", tracks["track_id"]).astype(str).to_numpy(),
                         "style": country, "split": tracks["split"].to_numpy(), "country": country,
                         "lat": tracks["lat"].to_numpy(float), "lon": tracks["lon"].to_numpy(float),
                         "audio_path": np.nan, "region": country, "place": None, "collection": data.name})


def audio_tunes(tracks: pd.DataFrame, dataset: str, profile: config.Profile, seed: int) -> pd.DataFrame:
    """An audio dataset's tracks as the notebooks' tunes table, sampled like a profile.

    ``style`` is the dataset's label (``genre``); ``country`` is today's
    country at the point (:func:`geocode.countries_at`), empty and
    ``lat``/``lon`` NaN where the dataset has no location; ``region`` is the
    country, ``place`` empty (no named place), ``collection`` the dataset's name. At most
    ``profile.per_stratum`` tracks per (label, split), drawn with ``seed``,
    so that small and tiny profiles keep every split and label.
    """
    label = OFFERS[dataset]["label"]
    missing = [c for c in ("track_id", label, "split") if c not in tracks]
    missing += [] if "audio_path" in tracks or "midi_path" in tracks else ["audio_path"]
    if missing:
        raise ValueError(f"dataset {dataset!r}: tracks lack column(s) {', '.join(missing)}")
    out = tracks.copy()
    out["tune_id"] = out["track_id"].astype(str)
    out["style"] = out[label].astype(str)
    for column, default in (("title", ""), ("lat", np.nan), ("lon", np.nan), ("audio_path", None)):
        if column not in out:
            out[column] = default
    if "country" not in out:  # from the points, where the dataset has them (FMA's artist locations)
        from .geocode import countries_at

        out["country"] = countries_at(out["lat"], out["lon"]).to_numpy()
    out["country"] = out["country"].fillna("").astype(str)
    # what the geographic notebooks read beside the point: the region classes start from the
    # country (regions.classification_regions), no named place, the dataset as the collection
    out["region"], out["place"], out["collection"] = out["country"], None, dataset  # place: no named place
    if profile.per_stratum is not None:
        rng = np.random.default_rng(seed)
        out = out.assign(_draw=rng.random(len(out))).sort_values(["style", "split", "_draw"])
        out = out.groupby(["style", "split"], sort=False).head(profile.per_stratum).drop(columns="_draw")
    order = [c for c in TUNE_COLUMNS] + [c for c in out.columns if c not in TUNE_COLUMNS]
    return out[order].sort_values("tune_id").reset_index(drop=True)


# --------------------------------------------------------------------------- the cell magic

_CURRENT: dict[str, Run] = {}


def use(dataset: str = "folk", data_root: str | None = None, profile: str = "small", seed: int = 0) -> Run:
    """Make the notebook's :class:`Run` (and register ``%%needs`` in IPython, where it runs)."""
    run = Run(dataset, None if data_root in (None, "") else str(data_root), profile, int(seed))
    _CURRENT["run"] = run
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return run
    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(needs, magic_kind="cell", magic_name="needs")
    return run


def needs(line: str, cell: str) -> None:
    """Cell magic ``%%needs notes locations``: run the cell only if the run's dataset offers those.

    A capability written ``-notes`` must be absent instead: ``%%needs audio -notes`` is a cell
    for audio without scores (what a scored section shows better on the folk corpus).
    Otherwise print one line (which dataset, what it lacks or has) and skip the cell.
    """
    from IPython import get_ipython

    run = _CURRENT.get("run")
    if run is None:
        raise RuntimeError("%%needs: call musicgeo_utils.runs.use(...) first (the notebook's setup cell does)")
    words = line.split()
    lacking = run.missing(*[w for w in words if not w.startswith("-")])
    having = [w[1:] for w in words if w.startswith("-") and run.offers(w[1:])]
    if lacking:
        print(f"skipped: dataset {run.dataset!r} has {' and '.join(LACKS[c] for c in lacking)}")
        return
    if having:
        print(f"skipped: this cell is for datasets without {' or '.join(having)}; dataset {run.dataset!r} has them "
              "(the sections above use them)")
        return
    get_ipython().run_cell(cell).raise_error()  # an error in the cell fails the notebook


def compare_splits(run: Run, name: str = "style", key: str = "features",
                   columns: tuple[str, ...] = ("model", "accuracy", "macro_f1", "n")) -> pd.DataFrame:
    """One results table of ``run`` and of its :meth:`~Run.split_twin`, side by side.

    Reads ``<name>-<profile>-<seed>.parquet`` of both runs (what notebook 04
    wrote for each) and joins them on ``key``: one column group per split
    (:data:`SPLIT_NAMES`, this run's first), ``columns`` in each. The key is
    the input (``features``: "mel spectrogram", "summary features"), not the
    model's name, which carries what validation chose (e.g. ``C=1`` on one
    split, ``C=0.01`` on the other). An input that only one run has gets NaN
    on the other side. The twin's table must exist: a missing one raises
    :class:`FileNotFoundError` saying which ``make report`` makes it. ``run``
    without a twin is a :class:`ValueError`.
    """
    twin = run.split_twin()
    if twin is None:
        raise ValueError(f"dataset {run.dataset!r} has no other split to compare with (those that do: "
                         f"{sorted(SPLIT_TWINS)})")
    tables = {}
    for one in (run, twin):
        path = one.results_path(name)
        if not path.is_file():
            where = (f" DATA_ROOT={one.data_root}" if one.data_root else "") + f" PROFILE={one.profile}" + (
                f" SEED={one.seed}" if one.seed else "")
            raise FileNotFoundError(f"{path}: no {name} results for dataset {one.dataset!r} yet; run "
                                    f"`make report DATASET={one.dataset}{where}` first")
        table = pd.read_parquet(path)
        missing = [c for c in (key, *columns) if c not in table.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        tables[SPLIT_NAMES[one.dataset]] = table.set_index(key)[list(columns)]
    both = pd.concat(tables, axis=1, join="outer", sort=False)
    both.columns.names = ["split", None]
    return both
