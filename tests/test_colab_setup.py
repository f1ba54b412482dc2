"""tools/colab_setup.py on copies of notebooks: idempotent, removable, a no-op outside Colab."""
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
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    real = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[:1]
    for path in real:
        shutil.copy(path, folder / path.name)
    small_notebook(folder / "07_small.ipynb")
    # The committed notebooks carry the cells already: start from notebooks without them.
    colab_setup.main([*map(str, folder.glob("*.ipynb")), "--remove"])
    return sorted(folder.glob("*.ipynb"))


def ours(nb):
    return [c for c in nb.cells if colab_setup.TAG in c.metadata.get("tags", [])]


def test_cells_are_inserted_once_and_a_rerun_changes_nothing(notebooks):
    colab_setup.main([*map(str, notebooks), "--repo", "someone/musicgeo"])
    first = {p: p.read_bytes() for p in notebooks}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        colab_setup.main([*map(str, notebooks), "--repo", "someone/musicgeo"])
    assert {p: p.read_bytes() for p in notebooks} == first
    assert out.getvalue().count("unchanged") == len(notebooks)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        badge, setup = ours(nb)
        assert nb.cells[0] is badge and badge.cell_type == "markdown"
        assert ("https://colab.research.google.com/github/someone/musicgeo/blob/main/notebooks/"
                f"{path.name}") in badge.source
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0] is setup and "parameters" in code[1].metadata.get("tags", [])
        assert "https://github.com/someone/musicgeo.git" in setup.source


def test_changing_the_repo_replaces_not_duplicates(notebooks):
    path = notebooks[-1]
    colab_setup.main([str(path)])
    assert "OWNER/musicgeo" in nbformat.read(path, as_version=4).cells[0].source
    colab_setup.main([str(path), "--repo", "me/musicgeo", "--branch", "dev"])
    nb = nbformat.read(path, as_version=4)
    assert len(ours(nb)) == 2 and "OWNER" not in nb.cells[0].source
    assert "/me/musicgeo/blob/dev/notebooks/07_small.ipynb" in nb.cells[0].source


def test_remove_restores_the_original_cells(notebooks):
    before = [nbformat.read(p, as_version=4).cells for p in notebooks]
    colab_setup.main([*map(str, notebooks)])
    colab_setup.main([*map(str, notebooks), "--remove"])
    after = [nbformat.read(p, as_version=4).cells for p in notebooks]
    assert after == before


def test_bad_repo_is_refused():
    with pytest.raises(ValueError, match="owner/name"):
        colab_setup.repo_url("https://github.com/x/y")


def test_setup_cell_is_a_silent_no_op_outside_colab(tmp_path, monkeypatch):
    assert "google.colab" not in sys.modules
    source = colab_setup.setup_cell(colab_setup.REPO_URL, "main").source
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ)
    namespace, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        exec(compile(source, "colab-setup", "exec"), namespace)
    assert out.getvalue() == "" and namespace["IN_COLAB"] is False and namespace["MOUNT_DRIVE"] is False
    assert "REPO_DIR" not in namespace  # nothing of the Colab branch ran
    assert Path.cwd() == tmp_path and dict(os.environ) == env and list(tmp_path.iterdir()) == []


def test_setup_cell_never_reinstalls_torch():
    source = colab_setup.setup_cell(colab_setup.REPO_URL, "main").source
    assert 'startswith(("torch", "torchvision", "torchaudio"))' in source
    assert '"--no-deps", "-r", f"{REPO_DIR}/requirements-nodeps.txt"' in source
    nodeps = (ROOT / "requirements-nodeps.txt").read_text()
    requirements = [line.strip().lower() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "tinysoundfont" in nodeps and not any(line.startswith("torch") for line in requirements)
    assert "drive.mount(\"/content/drive\")" in source and "MUSICGEO_DATA" in source


def test_notebook_runs_unchanged_with_the_setup_cell(tmp_path):
    """Executed by a real kernel, as papermill/nbval do: the setup cell has no output."""
    from nbclient import NotebookClient

    path = small_notebook(tmp_path / "07_small.ipynb")
    colab_setup.main([str(path)])
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    setup = next(c for c in nb.cells if c.get("id") == "colab-setup")
    printed = next(c for c in nb.cells if c.source == "print(profile, seed)")
    assert setup.outputs == [] and printed.outputs[0]["text"] == "small 0\n"
