"""Give every numbered notebook an "Open in Colab" badge and a Colab-only setup cell.

    python tools/colab_setup.py --repo <owner>/musicgeo [--branch main] [notebooks ...]

Default notebooks: ``notebooks/[0-9][0-9]_*.ipynb``. Two cells are inserted:

1. a markdown badge at the very top, linking
   ``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/notebooks/<name>``;
2. a setup code cell just before the first code cell (the papermill
   ``parameters`` cell) that, **only on Colab**, clones the repository (if it
   is not there yet), installs its requirements without touching Colab's CUDA
   build of torch (``requirements.txt`` minus any torch line; tinysoundfont
   with ``--no-deps``), installs the package editable, optionally mounts
   Google Drive (``MOUNT_DRIVE = True``) and points ``MUSICGEO_DATA`` at a
   Drive folder so caches survive the session. Outside Colab the cell does
   nothing and prints nothing, so papermill and nbval runs are unaffected
   (it is also tagged ``nbval-ignore-output``).

Both cells carry the tag :data:`TAG` and a sentinel line; a rerun removes
every tagged cell first and inserts fresh ones, so running the script twice
gives byte-identical files, and ``--remove`` takes them out again. The
owner in :data:`REPO_URL` is a placeholder: set yours with ``--repo``.

The badge image is fetched from colab.research.google.com by whoever views
the notebook; a builder of an offline report should leave out cells tagged
:data:`TAG` (e.g. nbconvert's ``TagRemovePreprocessor``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

#: The repository on GitHub; ``OWNER`` is a placeholder for ``--repo``.
REPO_URL = "https://github.com/OWNER/musicgeo"
#: Tag of every cell this script inserts (and removes on a rerun).
TAG = "musicgeo-colab"
BADGE_SENTINEL = "<!-- musicgeo-colab: badge, inserted by tools/colab_setup.py; edits are overwritten -->"
SETUP_SENTINEL = "# musicgeo-colab: setup, inserted by tools/colab_setup.py; edits are overwritten"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

SETUP_TEMPLATE = '''{sentinel}
# Runs only on Google Colab; elsewhere it does nothing and prints nothing.
import os, subprocess, sys
IN_COLAB = "google.colab" in sys.modules
MOUNT_DRIVE = False  # True: keep data caches on Google Drive (asks for permission)
if IN_COLAB:
    REPO_DIR = "/content/musicgeo"
    if not os.path.isdir(REPO_DIR):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{branch}", "{repo_url}", REPO_DIR], check=True)
    # Colab's own CUDA torch is kept: requirements without any torch line, the rest as the Makefile.
    with open(f"{{REPO_DIR}}/requirements.txt") as src, open(f"{{REPO_DIR}}/.colab-requirements.txt", "w") as dst:
        dst.writelines(l for l in src if not l.strip().lower().startswith(("torch", "torchvision", "torchaudio")))
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["-r", f"{{REPO_DIR}}/.colab-requirements.txt"], check=True)
    subprocess.run(pip + ["--no-deps", "-r", f"{{REPO_DIR}}/requirements-nodeps.txt"], check=True)
    subprocess.run(pip + ["--no-deps", "-e", REPO_DIR], check=True)
    sys.path.insert(0, REPO_DIR)  # the running kernel does not re-read site-packages' .pth files
    os.chdir(f"{{REPO_DIR}}/notebooks")
    if MOUNT_DRIVE:
        from google.colab import drive
        drive.mount("/content/drive")
        os.environ["MUSICGEO_DATA"] = "/content/drive/MyDrive/musicgeo/data"
        os.makedirs(os.environ["MUSICGEO_DATA"], exist_ok=True)'''


def repo_url(repo: str | None) -> str:
    """``https://github.com/<owner>/<name>`` for ``owner/name`` (``None``: the placeholder)."""
    if repo is None:
        return REPO_URL
    if not _REPO.match(repo):
        raise ValueError(f"--repo must look like owner/name, got {repo!r}")
    return f"https://github.com/{repo}"


def colab_url(url: str, branch: str, notebook: str) -> str:
    """The Colab link that opens ``notebooks/<notebook>`` of a GitHub repository."""
    return url.replace("https://github.com/", "https://colab.research.google.com/github/", 1) \
        + f"/blob/{branch}/notebooks/{notebook}"


def badge_cell(url: str, branch: str, notebook: str) -> nbformat.NotebookNode:
    """The markdown badge cell (tagged, with its sentinel)."""
    link = colab_url(url, branch, notebook)
    source = f'{BADGE_SENTINEL}\n<a href="{link}" target="_parent"><img src="{BADGE_IMAGE}" alt="Open In Colab"/></a>'
    cell = nbformat.v4.new_markdown_cell(source, metadata={"tags": [TAG]})
    cell["id"] = "colab-badge"
    return cell


def setup_cell(url: str, branch: str) -> nbformat.NotebookNode:
    """The Colab-only setup code cell (tagged, output ignored by nbval)."""
    source = SETUP_TEMPLATE.format(sentinel=SETUP_SENTINEL, repo_url=url + ".git", branch=branch)
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG, "nbval-ignore-output"]})
    cell["id"] = "colab-setup"
    return cell


def _is_ours(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    text = cell.get("source", "")
    return TAG in tags or text.startswith((BADGE_SENTINEL, SETUP_SENTINEL))


def apply(nb: nbformat.NotebookNode, name: str, url: str, branch: str = "main",
          remove: bool = False) -> nbformat.NotebookNode:
    """Remove any cells inserted before; unless ``remove``, insert the badge and setup cells."""
    cells = [c for c in nb.cells if not _is_ours(c)]
    if not remove:
        first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
        cells.insert(first_code, setup_cell(url, branch))
        cells.insert(0, badge_cell(url, branch, name))
    nb.cells = cells
    return nb


def process(path: Path, url: str, branch: str = "main", remove: bool = False) -> bool:
    """Rewrite one notebook file; returns whether its bytes changed."""
    before = path.read_text(encoding="utf-8")
    nb = apply(nbformat.reads(before, as_version=4), path.name, url, branch, remove)
    nbformat.validate(nb)
    after = nbformat.writes(nb) + "\n"
    if after != before:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(after, encoding="utf-8")
        tmp.replace(path)  # atomic: an interrupted run never leaves half a notebook
    return after != before


def main(argv: list[str] | None = None) -> int:
    """Command line; prints one line per notebook and returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--repo", default=None, help="owner/name on GitHub (default: the OWNER placeholder)")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--remove", action="store_true", help="take the inserted cells out again")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    paths = args.notebooks or sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    url = repo_url(args.repo)
    for path in paths:
        changed = process(path, url, args.branch, args.remove)
        print(f"{path}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
