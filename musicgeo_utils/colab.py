"""Google Colab setup in one call: ``from musicgeo_utils import colab; colab.setup()``.

Every notebook's setup cell (written by ``tools/colab_setup.py``) installs this package from
GitHub when it is missing on Colab, then calls :func:`setup`, which on Colab

1. clones :data:`REPOSITORY` at :data:`BRANCH` into :data:`REPO_DIR` unless it is there already;
2. installs the lock file of the running Python (``requirements.lock`` for 3.11,
   ``requirements-py312.lock`` for 3.12 and later) without any torch line, so that Colab keeps
   its own CUDA build of torch, then ``requirements-nodeps.txt`` with ``--no-deps`` and the clone
   itself, editable (``--no-deps``); a stamp file records what was installed, so a rerun
   installs nothing unless a lock file changed;
3. points the running kernel at the clone's package and changes into its ``notebooks/``;
4. with ``drive=True``, mounts Google Drive (once) and sets ``MUSICGEO_DATA`` to a Drive folder,
   so the data caches outlive the Colab session.

Outside Colab it does nothing, prints nothing and returns ``None``: the same cell runs unchanged
under papermill, nbval and Jupyter.

:data:`REPOSITORY` and :data:`BRANCH` are the one setting of the repository's GitHub location:
``python tools/colab_setup.py --repo owner/name [--branch main]`` rewrites them here and in every
notebook's badge and setup cell.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

#: owner/name of the repository on GitHub (``OWNER`` is a placeholder; set it with the tool).
REPOSITORY = "OWNER/musicgeo"
#: the branch the badges open and the setup clones.
BRANCH = "main"
#: where the clone lives on Colab.
REPO_DIR = Path("/content/musicgeo")
#: where Google Drive is mounted, and the data folder on it (``drive=True``).
DRIVE_MOUNT = "/content/drive"
DRIVE_DATA = "/content/drive/MyDrive/musicgeo/data"
#: never installed on Colab: its own CUDA build stays.
TORCH_PACKAGES = ("torch", "torchvision", "torchaudio")
STAMP = ".colab-installed"

_run = subprocess.run  # replaced in tests


def in_colab() -> bool:
    """Whether this kernel runs on Google Colab."""
    return "google.colab" in sys.modules


def repository_url(repository: str = REPOSITORY) -> str:
    """``https://github.com/<owner>/<name>``."""
    return f"https://github.com/{repository}"


def lock_file(root: Path, version: tuple[int, int] = tuple(sys.version_info[:2])) -> Path:
    """The lock file for a Python version: 3.12 and later use ``requirements-py312.lock``."""
    return Path(root) / ("requirements-py312.lock" if tuple(version) >= (3, 12) else "requirements.lock")


def without_torch(requirements: str) -> str:
    """The lines of a requirements file, less those that install torch, torchvision or torchaudio."""
    name = re.compile(r"^\s*([A-Za-z0-9_.-]+)")
    kept = []
    for line in requirements.splitlines(keepends=True):
        m = name.match(line)
        if m and re.sub(r"[-_.]+", "-", m.group(1).lower()) in TORCH_PACKAGES:
            continue
        kept.append(line)
    return "".join(kept)


def _install_key(root: Path) -> str:
    """What an install depends on: the lock, the no-deps list, pyproject.toml and the Python version."""
    digest = hashlib.sha256(sys.version.encode())
    for path in (lock_file(root), root / "requirements-nodeps.txt", root / "pyproject.toml"):
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def setup(repo: str | None = None, branch: str | None = None, drive: bool = False,
          root: Path | str = REPO_DIR) -> Path | None:
    """Make a Colab runtime ready for the notebooks (see the module docstring); elsewhere a no-op.

    Safe to rerun: nothing is cloned or installed twice. Returns the clone's path on Colab,
    ``None`` elsewhere.
    """
    if not in_colab():
        return None
    root = Path(root)
    if not (root / ".git").exists():
        _run(["git", "clone", "--depth", "1", "--branch", branch or BRANCH,
              repository_url(repo or REPOSITORY) + ".git", str(root)], check=True)
    stamp, key = root / STAMP, _install_key(root)
    if not stamp.exists() or stamp.read_text() != key:
        requirements = root / ".colab-requirements.txt"
        requirements.write_text(without_torch(lock_file(root).read_text()))
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        _run(pip + ["-r", str(requirements)], check=True)
        _run(pip + ["--no-deps", "-r", str(root / "requirements-nodeps.txt")], check=True)
        _run(pip + ["--no-deps", "-e", str(root)], check=True)
        stamp.write_text(key)
    _use_clone(root)
    os.chdir(root / "notebooks")
    if drive:
        if not os.path.ismount(DRIVE_MOUNT):
            from google.colab import drive as google_drive
            google_drive.mount(DRIVE_MOUNT)
        os.environ["MUSICGEO_DATA"] = DRIVE_DATA
        os.makedirs(DRIVE_DATA, exist_ok=True)
    return root


def _use_clone(root: Path) -> None:
    """Import the package from the clone from now on (a running kernel does not re-read ``.pth``
    files, and the editable install replaced the copy this module was imported from)."""
    import importlib

    import musicgeo_utils

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    package = root / "musicgeo_utils"
    if package.is_dir():
        musicgeo_utils.__path__[:] = [str(package)]
        os.environ.setdefault("MUSICGEO_ROOT", str(root))
    importlib.invalidate_caches()
