"""Give every numbered notebook an "Open in Colab" badge and a short Colab setup cell.

    python tools/colab_setup.py [--repo owner/name] [--branch main] [notebooks ...]

The repository's GitHub location is one setting, :data:`musicgeo_utils.colab.REPOSITORY` (and
``BRANCH``) in ``musicgeo_utils/colab.py``; ``--repo``/``--branch`` rewrite it there, and every
notebook's cells are written from it (without ``--repo``: the value already there, at first the
``OWNER/musicgeo`` placeholder). Default notebooks: ``notebooks/[0-9][0-9]_*.ipynb``. Two cells:

1. a markdown badge at the very top, linking
   ``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/notebooks/<name>``;
2. a setup code cell just before the first code cell (the papermill ``parameters`` cell): on
   Colab, it installs the package from GitHub if it is missing and calls
   :func:`musicgeo_utils.colab.setup` (clone, lock file without torch, no-deps packages, the
   package; optionally Google Drive for the caches). Outside Colab it does nothing and prints
   nothing, so papermill and nbval runs are unaffected (it is also tagged ``nbval-ignore-output``).

Both cells carry the tag :data:`TAG` and a sentinel line; a rerun removes every tagged cell first
and inserts fresh ones, so running the script twice gives byte-identical files, and ``--remove``
takes them out again.

The badge image is fetched from colab.research.google.com by whoever views the notebook; a
builder of an offline report should leave out cells tagged :data:`TAG` (e.g. nbconvert's
``TagRemovePreprocessor``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
#: The file that holds the setting (REPOSITORY and BRANCH).
SETTINGS = ROOT / "musicgeo_utils" / "colab.py"
#: Tag of every cell this script inserts (and removes on a rerun).
TAG = "musicgeo-colab"
BADGE_SENTINEL = "<!-- musicgeo-colab: badge, inserted by tools/colab_setup.py; edits are overwritten -->"
SETUP_SENTINEL = "# musicgeo-colab: setup, inserted by tools/colab_setup.py; edits are overwritten"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")

SETUP_TEMPLATE = '''{sentinel}
import importlib.util, sys  # Colab only: install the package once; colab.setup() does the rest
if "google.colab" in sys.modules and not importlib.util.find_spec("musicgeo_utils"):
    !pip install -q --no-deps git+{repo_url}.git@{branch}
from musicgeo_utils import colab; colab.setup(drive=False)  # drive=True: data caches on Google Drive'''
_SETTING = re.compile(r'^(REPOSITORY|BRANCH) = "([^"]*)"$', re.M)


def read_setting(path: Path = SETTINGS) -> dict[str, str]:
    """``{"REPOSITORY": "owner/name", "BRANCH": "main"}`` as the settings file has them."""
    return dict(_SETTING.findall(path.read_text(encoding="utf-8")))


def write_setting(path: Path, repository: str, branch: str) -> bool:
    """Set REPOSITORY and BRANCH in the settings file; returns whether its bytes changed."""
    before = path.read_text(encoding="utf-8")
    values = {"REPOSITORY": repository, "BRANCH": branch}
    after = _SETTING.sub(lambda m: f'{m.group(1)} = "{values[m.group(1)]}"', before)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def repo_url(repo: str) -> str:
    """``https://github.com/<owner>/<name>`` for ``owner/name``."""
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
    source = SETUP_TEMPLATE.format(sentinel=SETUP_SENTINEL, repo_url=url, branch=branch)
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
    """Command line; prints one line per file and returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--repo", default=None, help="owner/name on GitHub (default: the setting as it is)")
    parser.add_argument("--branch", default=None, help="default: the setting as it is")
    parser.add_argument("--remove", action="store_true", help="take the inserted cells out again")
    parser.add_argument("--settings", type=Path, default=SETTINGS, help=argparse.SUPPRESS)  # tests use a copy
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    setting = read_setting(args.settings)
    repo, branch = args.repo or setting["REPOSITORY"], args.branch or setting["BRANCH"]
    url = repo_url(repo)  # refuses a malformed --repo before anything is written
    if not _BRANCH.match(branch):
        raise ValueError(f"--branch must be a plain branch name, got {branch!r}")
    if not args.remove:
        changed = write_setting(args.settings, repo, branch)
        print(f"{args.settings}: {'updated' if changed else 'unchanged'}")
    for path in paths:
        changed = process(path, url, branch, args.remove)
        print(f"{path}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
