"""One interface over every corpus: :func:`load_dataset`, the folk loader and downloads.

:func:`load_dataset` (``folk``, ``lmd_msd``, ``gtzan``, ``fma``, ``uci_gom``)
returns a :class:`Dataset`: a ``tracks`` table and a ``skips`` table
(``item, reason``) of everything left out, counted, never silently dropped.
:func:`download` fetches a dataset where its publisher allows, checked
against a published checksum.

The loaders live one concept a module, and their public names are
re-exported here (``datasets.<name>`` keeps working):

- :mod:`musicgeo_utils.dataset_base`: the :class:`Dataset` record, skips,
  default folders, SHA-256 checksums;
- :mod:`musicgeo_utils.msd`: Million Song Dataset artist locations and HDF5 files;
- :mod:`musicgeo_utils.lakh_midi`: Lakh MIDI matched to the MSD, MIDI melodies;
- :mod:`musicgeo_utils.audio_datasets`: GTZAN and FMA;
- :mod:`musicgeo_utils.uci_gom`: the UCI "Geographical Original of Music"
  loader and :func:`evaluate_uci_gom`.

Coordinates are degrees (latitude north, longitude east positive).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import pandas as pd

# Re-exports: the notebooks and older callers use ``datasets.<name>``.
from .audio_datasets import (FMA_COLUMNS, FMA_SMALL_KNOWN_BAD, FMA_SPLIT_NAMES,  # noqa: F401
                             FMA_SUBSETS, GTZAN_CAVEAT, GTZAN_FILTERED_SPLIT, GTZAN_GENRES,
                             GTZAN_KNOWN_FAULTS, GTZAN_NOT_FILTERED, GTZAN_SPLIT_NAMES, GTZAN_SPLITS,
                             audio_problem, fma_audio_path, gtzan_filtered_split, load_fma,
                             load_gtzan, read_fma_tracks, read_gtzan_split, split_by_seed)
from .dataset_base import SKIP_COLUMNS, Dataset, default_root, sha256_file, verify_checksum  # noqa: F401
from .lakh_midi import (LMD_URL, MIN_MELODY_NOTES, best_matches, lmd_h5_path,  # noqa: F401
                        lmd_midi_path, lmd_notes, load_lmd_msd, midi_melody, msd_id_dirs,
                        read_match_scores)
from .msd import (MSD_ARTIST_LOCATIONS, MSD_COLUMNS, MSD_DIR, MSD_METADATA_FIELDS,  # noqa: F401
                  MSD_SEPARATOR, MSD_SONG_COLUMNS, MSD_SUBSET_ARTIST_LOCATIONS, MSDFormatError,
                  load_msd_artist_locations, load_msd_summary, read_msd_songs, skips_table)
from .uci_gom import (UCI_GOM_FEATURE_COUNTS, UCI_GOM_FILES, UCI_GOM_SORT,  # noqa: F401
                      UCI_GOM_SUMMARY_COLUMNS, UCI_GOM_URL, ZHOU_2014_MEAN_KM, evaluate_uci_gom,
                      load_uci_gom, load_uci_gom_dataset, uci_gom_file, uci_gom_regions,
                      uci_gom_summary_table)


def load_folk(root: str | Path | None = None, seed: int = 0, use_cache: bool = True,
              collections=None) -> Dataset:
    """The embedded default: folk tunes from music21's corpus (:func:`manifest.build_manifest`).

    ``tracks`` are the manifest's tunes (``track_id`` = ``tune_id``; ``artist``
    is unknown for traditional tunes); ``skips`` are the parse skips;
    ``info['notes']`` holds the notes table. ``root`` is ignored; ``collections``
    restricts the corpus (default: every folk collection).
    """
    from . import manifest

    built = manifest.build_manifest(seed=seed, use_cache=use_cache, collections=collections)
    tracks = built.tunes.copy()
    tracks.insert(0, "track_id", tracks["tune_id"])
    if "artist" not in tracks:
        tracks["artist"] = None
    skips = pd.DataFrame({"item": built.skips.get("file", pd.Series(dtype=str)).astype(str) + " X:"
                          + built.skips.get("x", pd.Series(dtype=str)).astype(str),
                          "reason": built.skips.get("reason", pd.Series(dtype=str)).astype(str)},
                         columns=SKIP_COLUMNS)
    return Dataset("folk", None, tracks, skips, info={"notes": built.notes, "seed": seed})


#: Loader of each dataset name accepted by :func:`load_dataset`.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "folk": load_folk, "lmd_msd": load_lmd_msd, "gtzan": load_gtzan, "fma": load_fma,
    "uci_gom": load_uci_gom_dataset,
}


def load_dataset(name: str, root: str | Path | None = None, **kw) -> Dataset:
    """Load dataset ``name`` (``folk``, ``lmd_msd``, ``gtzan``, ``fma``, ``uci_gom``).

    ``root`` is the folder holding its files (default ``<data>/raw/<name>``,
    see :func:`default_root`); other keywords go to the loader
    (:func:`load_folk`, :func:`load_lmd_msd`, :func:`load_gtzan`,
    :func:`load_fma`, :func:`load_uci_gom_dataset`).
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](root, **kw)


# =========================================================================== downloads

#: Official files per dataset: (url, hash algorithm, published digest or None).
DOWNLOADS: dict[str, list[tuple[str, str, str | None]]] = {
    # Digests published in the README of github.com/mdeff/fma.
    "fma": [("https://os.unil.cloud.switch.ch/fma/fma_metadata.zip", "sha1",
             "f0df49ffe5f2a6008d7dc83c6915b31835dfe733"),
            ("https://os.unil.cloud.switch.ch/fma/fma_small.zip", "sha1",
             "ade154f733639d52e35e32f5593efe5be76c6d70")],
    # The LMD page publishes no checksums for these files.
    "lmd_msd": [(f"{LMD_URL}/lmd_matched.tar.gz", "md5", None),
                (f"{LMD_URL}/lmd_matched_h5.tar.gz", "md5", None),
                (f"{LMD_URL}/match_scores.json", "md5", None)],
    # The original Marsyas host; no checksum is published.
    "gtzan": [("http://opihi.cs.uvic.ca/sound/genres.tar.gz", "md5", None)],
}


def _hash_file(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, dest: str | Path | None = None, verify: bool = True) -> list[Path]:
    """Download a dataset's official files into ``dest`` (default :func:`default_root`).

    Only where the publisher allows it (:data:`DOWNLOADS`: FMA, Lakh MIDI,
    GTZAN; the MSD and UCI files are fetched by hand). Each file is written
    atomically and checked against its published digest; a file without a
    published digest is refused unless ``verify=False`` is passed explicitly,
    before anything is fetched. Archives are not unpacked. Needs internet;
    never run by the tests.
    """
    import shutil
    import urllib.request

    from .cache import atomic_path

    if name not in DOWNLOADS:
        raise ValueError(f"no download for {name!r}; available: {sorted(DOWNLOADS)}")
    unverified = [url for url, _, digest in DOWNLOADS[name] if digest is None]
    if verify and unverified:
        raise ValueError(f"{name}: no published checksum for {unverified}; pass verify=False "
                         "to download without one, at your own risk")
    dest = Path(dest) if dest is not None else default_root(name)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for url, algorithm, digest in DOWNLOADS[name]:
        path = dest / url.rsplit("/", 1)[1]
        if path.is_file() and digest and _hash_file(path, algorithm) == digest:
            paths.append(path)  # already here and intact: a rerun fetches nothing
            continue
        with atomic_path(path) as tmp:
            with urllib.request.urlopen(url) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            # Checked before the rename, so a corrupt download never takes the final name.
            if verify and _hash_file(tmp, algorithm) != digest:
                raise ValueError(f"{url}: {algorithm} of the download differs from the published "
                                 f"{digest}; nothing was kept, retry")
        paths.append(path)
    return paths
