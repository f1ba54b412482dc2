"""tools/colab_setup.py on copies of notebooks and of the setting: idempotent, removable, a no-op outside Colab."""
import contextlib
import importlib.util
import io
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("colab_setup", ROOT / "tools" / "colab_setup.py")
colab_setup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_setup)
PLACEHOLDER = "OWNER/musicgeo"


def small_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 07 · A title"),
        nbformat.v4.new_code_cell('profile = "small"\nseed = 0', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(profile, seed)"),
    ])
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def settings(tmp_path):
    """A copy of musicgeo_utils/colab.py, so that tests never rewrite the real setting."""
    path = tmp_path / "colab.py"
    shutil.copy(colab_setup.SETTINGS, path)
    return path


def tool(settings, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert colab_setup.main([*map(str, args), "--settings", str(settings)]) == 0
    return out.getvalue()


@pytest.fixture
def notebooks(tmp_path, settings):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    real = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[:1]
    for path in real:
        shutil.copy(path, folder / path.name)
    small_notebook(folder / "07_small.ipynb")
    # The committed notebooks carry the cells already: start from notebooks without them.
    tool(settings, *folder.glob("*.ipynb"), "--remove")
    return sorted(folder.glob("*.ipynb"))


def ours(nb):
    return [c for c in nb.cells if colab_setup.TAG in c.metadata.get("tags", [])]


def test_the_committed_setting_is_the_placeholder():
    assert colab_setup.read_setting() == {"REPOSITORY": PLACEHOLDER, "BRANCH": "main"}
    from musicgeo_utils import colab
    assert (colab.REPOSITORY, colab.BRANCH) == (PLACEHOLDER, "main")


def test_cells_are_inserted_once_and_a_rerun_changes_nothing(notebooks, settings):
    tool(settings, *notebooks, "--repo", "someone/musicgeo")
    first = {p: p.read_bytes() for p in [*notebooks, settings]}
    out = tool(settings, *notebooks, "--repo", "someone/musicgeo")
    assert {p: p.read_bytes() for p in [*notebooks, settings]} == first
    assert out.count("unchanged") == len(notebooks) + 1 and "updated" not in out
    assert colab_setup.read_setting(settings) == {"REPOSITORY": "someone/musicgeo", "BRANCH": "main"}
    assert tool(settings, *notebooks).count("unchanged") == len(notebooks) + 1  # no --repo: the setting as it is
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        badge, setup = ours(nb)
        assert nb.cells[0] is badge and badge.cell_type == "markdown"
        assert ("https://colab.research.google.com/github/someone/musicgeo/blob/main/notebooks/"
                f"{path.name}") in badge.source
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0] is setup and "parameters" in code[1].metadata.get("tags", [])
        assert "git+https://github.com/someone/musicgeo.git@main" in setup.source
        assert len(setup.source.splitlines()) <= 5 and "colab.setup(" in setup.source


def test_changing_the_repo_replaces_not_duplicates(notebooks, settings):
    path = notebooks[-1]
    tool(settings, path)
    assert PLACEHOLDER in nbformat.read(path, as_version=4).cells[0].source
    tool(settings, path, "--repo", "me/musicgeo", "--branch", "dev")
    nb = nbformat.read(path, as_version=4)
    assert len(ours(nb)) == 2 and "OWNER" not in nb.cells[0].source
    assert "/me/musicgeo/blob/dev/notebooks/07_small.ipynb" in nb.cells[0].source
    assert "musicgeo.git@dev" in ours(nb)[1].source
    assert colab_setup.read_setting(settings) == {"REPOSITORY": "me/musicgeo", "BRANCH": "dev"}
    text = settings.read_text()
    assert text.count("me/musicgeo") == 1 and 'BRANCH = "dev"' in text and "OWNER" in text  # the docstring keeps its note


def test_remove_restores_the_original_cells(notebooks, settings):
    before = [nbformat.read(p, as_version=4).cells for p in notebooks]
    tool(settings, *notebooks)
    tool(settings, *notebooks, "--remove")
    after = [nbformat.read(p, as_version=4).cells for p in notebooks]
    assert after == before


def _cell_texts(path):
    """(id, type, tags, source) of every cell: what the tool writes, not execution state.

    ``make golden`` executes the setup cell like any other (an execution count,
    no output outside Colab), so the files' bytes differ from what the tool
    writes while the cells are the same.
    """
    nb = nbformat.read(path, as_version=4)
    return [(c.get("id"), c.cell_type, tuple(c.metadata.get("tags", [])), c.source) for c in nb.cells]


def test_the_committed_notebooks_carry_the_cells_of_the_setting(tmp_path, settings):
    """Applying the tool to the committed notebooks changes no cell: they are up to date."""
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        tool(settings, copy)
        changed = [new[0] for new, old in zip(_cell_texts(copy), _cell_texts(path)) if new != old]
        assert len(_cell_texts(copy)) == len(_cell_texts(path)) and not changed, (path.name, changed)


def test_bad_repo_or_branch_is_refused(settings):
    with pytest.raises(ValueError, match="owner/name"):
        colab_setup.repo_url("https://github.com/x/y")
    with pytest.raises(ValueError, match="branch"):
        tool(settings, "--branch", "main; rm -rf /")
    assert colab_setup.read_setting(settings)["BRANCH"] == "main"


def test_setup_cell_is_a_silent_no_op_outside_colab(tmp_path, monkeypatch):
    from IPython.core.inputtransformer2 import TransformerManager

    assert "google.colab" not in sys.modules
    source = colab_setup.setup_cell(colab_setup.repo_url(PLACEHOLDER), "main").source
    code = TransformerManager().transform_cell(source)  # what IPython runs: !pip -> get_ipython().system(...)

    def no_shell(*args):
        raise AssertionError(f"the cell ran a shell command outside Colab: {args}")

    monkeypatch.chdir(tmp_path)
    env = dict(os.environ)
    namespace, out = {"get_ipython": lambda: type("Shell", (), {"system": staticmethod(no_shell)})()}, io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        exec(compile(code, "colab-setup", "exec"), namespace)
    assert out.getvalue() == "" and namespace["colab"].in_colab() is False
    assert Path.cwd() == tmp_path and dict(os.environ) == env and list(tmp_path.iterdir()) == []


def test_notebook_runs_unchanged_with_the_setup_cell(tmp_path, settings):
    """Executed by a real kernel, as papermill/nbval do: the setup cell has no output."""
    from nbclient import NotebookClient

    path = small_notebook(tmp_path / "07_small.ipynb")
    tool(settings, path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    setup = next(c for c in nb.cells if c.get("id") == "colab-setup")
    printed = next(c for c in nb.cells if c.source == "print(profile, seed)")
    assert setup.outputs == [] and printed.outputs[0]["text"] == "small 0\n"
