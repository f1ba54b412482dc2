"""What every dataset loader shares: the :class:`Dataset` record, skips, folders, checksums.

- :class:`Dataset`: a loaded corpus (``tracks``, a ``skips`` table of
  everything left out and why, optional ``features``, ``info``); ``_Skips``
  collects those rows without ever raising;
- :func:`default_root`: where a dataset's files are expected by default;
- :func:`sha256_file` / :func:`verify_checksum`: a file checked against the
  ``SHA256SUMS`` beside it.

The loaders themselves live in :mod:`musicgeo_utils.msd`,
:mod:`musicgeo_utils.lakh_midi`, :mod:`musicgeo_utils.audio_datasets` and
:mod:`musicgeo_utils.uci_gom`; :func:`musicgeo_utils.datasets.load_dataset`
is the one interface over them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import config

# --------------------------------------------------------------------------- checksums


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listed_checksum(path: Path) -> str | None:
    """The digest that a ``SHA256SUMS`` beside ``path`` lists for it, if any."""
    sums = path.parent / "SHA256SUMS"
    if not sums.exists():
        return None
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            return parts[0].lower()
    return None


def verify_checksum(path: str | Path) -> None:
    """Check ``path`` against the ``SHA256SUMS`` file in its folder.

    Raises ``FileNotFoundError`` if the file or its checksum entry is missing
    and ``ValueError`` naming the file and both digests on a mismatch.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    expected = _listed_checksum(path)
    if expected is None:
        raise FileNotFoundError(f"{path}: not listed in {path.parent / 'SHA256SUMS'}")
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(f"{path}: SHA-256 mismatch (expected {expected}, got {actual}); "
                         "the file is corrupt or was edited: restore the original copy")


# =========================================================================== the record

#: Columns of every loader's skips table.
SKIP_COLUMNS = ["item", "reason"]


@dataclass
class Dataset:
    """One loaded corpus: its tracks, what was left out and why.

    ``tracks`` has at least ``track_id``, ``title``, ``artist`` plus the
    dataset's own columns (``lat``/``lon`` in degrees for geographic
    datasets; ``genre``/``split`` for genre datasets; ``audio_path`` or
    ``midi_path``). ``skips`` has one row per item left out (``item``: a file
    or id, ``reason``). ``features`` holds precomputed features where the
    dataset ships them (UCI GOM); ``info`` notes how the tracks were chosen.
    """

    name: str
    root: Path | None
    tracks: pd.DataFrame
    skips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIP_COLUMNS))
    features: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    def skip_counts(self) -> pd.Series:
        """Number of skipped items per reason (the reason's text before the first colon)."""
        return self.skips["reason"].str.split(":").str[0].value_counts()


class _Skips:
    """Collects ``(item, reason)`` rows; never raises, so a batch run goes on."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, item: object, reason: str) -> None:
        self.rows.append({"item": str(item), "reason": reason})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SKIP_COLUMNS)


def default_root(name: str) -> Path:
    """Where a dataset's files are expected by default: ``<data>/raw/<name>``.

    ``<data>`` is ``config.DATA_DIR`` (``MUSICGEO_DATA`` overrides it, e.g. a
    Google Drive folder on Colab).
    """
    return config.DATA_DIR / "raw" / name


def _require_dir(path: Path, what: str, hint: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: {what} not found; {hint}")
    return path
