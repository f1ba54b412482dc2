"""Shared test set-up: caches go to a per-session temporary directory.

Unit tests never read or write the user's ``data/`` cache: ``MUSICGEO_DATA`` is
pointed at a temporary folder before any musicgeo module is imported, and the
config module's paths are re-read from it. The folder is removed when the test
process exits.

``tests/after_nbval/`` is the exception: those tests check what the notebooks
wrote under ``data/`` and ``reports/`` and run only as `make test`'s last stage
(`make after-nbval`, which sets ``MUSICGEO_TEST_STAGE=after-nbval``); any other
pytest run leaves them out.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

AFTER_NBVAL = os.environ.get("MUSICGEO_TEST_STAGE") == "after-nbval"
collect_ignore = [] if AFTER_NBVAL else ["after_nbval"]
if not AFTER_NBVAL:
    _TMP = tempfile.mkdtemp(prefix="musicgeo-test-data-")
    atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
    os.environ["MUSICGEO_DATA"] = _TMP
os.environ.setdefault("MPLBACKEND", "Agg")
