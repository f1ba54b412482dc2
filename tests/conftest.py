"""Shared test set-up: caches go to a per-session temporary directory.

Tests never read or write the user's ``data/`` cache: ``MUSICGEO_DATA`` is
pointed at a temporary folder before any musicgeo module is imported, and the
config module's paths are re-read from it. The folder is removed when the test
process exits.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_TMP = tempfile.mkdtemp(prefix="musicgeo-test-data-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["MUSICGEO_DATA"] = _TMP
os.environ.setdefault("MPLBACKEND", "Agg")
