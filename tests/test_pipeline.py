"""The papermill runner: parameters are injected only where a notebook declares them."""
import nbformat

from musicgeo_utils import pipeline


def _notebook(path, parameters_source):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters_source)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params,
                nbformat.v4.new_code_cell("print(profile, seed)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_declared_parameters_reads_the_tagged_cell(tmp_path):
    path = _notebook(tmp_path / "01_x.ipynb", 'profile = "small"  # comment\nseed: int = 0\n  indented = 1\n')
    assert pipeline.declared_parameters(path) == {"profile", "seed"}


def test_run_injects_parameters_and_strip_removes_timestamps(tmp_path):
    source = _notebook(tmp_path / "01_x.ipynb", 'profile = "small"\nseed = 0\n')
    out = tmp_path / "out"
    timings = pipeline.run_all([source], out, {"profile": "full", "seed": 3, "dataset": "folk"})
    assert set(timings) == {"01_x.ipynb"} and (out / "timings.json").exists()
    executed = nbformat.read(out / "01_x.ipynb", as_version=4)
    printed = [o["text"] for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert printed == ["full 3\n"]  # dataset is not declared, so not injected
    pipeline.strip_run_metadata(out / "01_x.ipynb")
    stripped = nbformat.read(out / "01_x.ipynb", as_version=4)
    assert "papermill" not in stripped.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in stripped.cells)
