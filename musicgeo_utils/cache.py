"""Atomic writes and content keys for every on-disk cache.

A cache file is written to a temporary file in the same directory and then
renamed over its final name (``os.replace`` is atomic on POSIX and Windows),
so an interrupted run leaves either the old file or the new one, never half
of one, and a rerun resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    ``suffix`` (default: that of ``path``) lets writers that choose a format
    from the file name (soundfile, pandas) see the right extension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.tmp-", suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600 files; give the final file the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    return write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def read_json(path: str | os.PathLike, error: type[Exception] = ValueError, what: str = "") -> Any:
    """Parsed JSON of a UTF-8 file; ``error("<what><path>: not valid JSON (...)")`` when it is not."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{what}{path}: not valid JSON ({err})") from None


def write_parquet(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write a DataFrame to Parquet atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a NumPy array (``.npy``, never pickled) atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
    return Path(path)


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.npy`` written by :func:`write_npy` (pickles refused)."""
    return np.load(path, allow_pickle=False)


def content_key(*parts: Any, length: int = 16) -> str:
    """A short, stable hex key from JSON-serialisable parts and bytes/arrays.

    Used to name cache entries after what they were computed from (audio
    content, parameters), so a change in any part invalidates exactly the
    entries it touches.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(str(part.dtype).encode() + str(part.shape).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, (bytes, bytearray, memoryview)):
            digest.update(bytes(part))
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()[:length]


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write several arrays to one ``.npz`` atomically (no object arrays: never pickled)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(path)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``.npz`` written by :func:`write_npz` (pickles refused)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def upsert_parquet(path: str | os.PathLike, rows: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Write ``rows`` into the Parquet table at ``path``, replacing rows with the same ``key`` values.

    For a results file that several notebooks fill (each writes its own rows;
    a rerun replaces them, never duplicates them). Rows of the file with
    other keys are kept, in their order, before the new rows. Atomic like
    :func:`write_parquet`; returns the table written.
    """
    key = list(key)
    missing = set(key) - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack key column(s) {sorted(missing)}")
    path = Path(path)
    if path.exists():
        old = pd.read_parquet(path)
        keep = ~old.set_index(key).index.isin(rows.set_index(key).index)
        rows = pd.concat([old[keep], rows], ignore_index=True)
    write_parquet(path, rows.reset_index(drop=True))
    return rows.reset_index(drop=True)
