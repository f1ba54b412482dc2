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
    slowest = pipeline.slowest_cells(out / "01_x.ipynb", n=5)
    assert [c["index"] for c in slowest] and {c["index"] for c in slowest} == {1, 2, 3}  # parameters, injected parameters, print
    assert all(c["seconds"] >= 0 for c in slowest) and "print(profile, seed)" in [c["first_line"] for c in slowest]
    pipeline.strip_run_metadata(out / "01_x.ipynb")
    stripped = nbformat.read(out / "01_x.ipynb", as_version=4)
    assert "papermill" not in stripped.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in stripped.cells)


def test_a_notebook_needing_what_the_dataset_lacks_becomes_one_line_and_the_run_goes_on(tmp_path):
    """Notebook 03 on GTZAN: runs.NotOffered stops it; the report gets its title and the reason."""
    geo = _notebook(tmp_path / "03_geo.ipynb", 'profile = "small"\nseed = 0\ndataset = "folk"\n')
    nb = nbformat.read(geo, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        "from musicgeo_utils import runs\nruns.use(dataset, profile=profile, seed=seed).require('locations')"))
    nbformat.write(nb, geo)
    other = _notebook(tmp_path / "04_other.ipynb", 'profile = "small"\nseed = 0\n')
    out = tmp_path / "out"
    timings = pipeline.run_all([geo, other], out, {"profile": "tiny", "seed": 0, "dataset": "gtzan"})
    assert timings["03_geo.ipynb"] == ("not run: this notebook needs locations, "
                                       "which dataset 'gtzan' does not offer")
    assert isinstance(timings["04_other.ipynb"], float)  # the run went on
    notice = nbformat.read(out / "03_geo.ipynb", as_version=4)
    assert [c.cell_type for c in notice.cells] == ["markdown"] and notice.cells[0].source.startswith("# Title")
    assert "does not offer" in notice.cells[0].source
    # the folk corpus offers locations: the same notebook runs through
    assert isinstance(pipeline.run_all([geo], tmp_path / "folk", {"dataset": "folk"})["03_geo.ipynb"], float)


def test_executed_dir_keeps_the_folk_default_and_scopes_other_datasets():
    assert str(pipeline.executed_dir()) == "reports/executed"
    assert str(pipeline.executed_dir("gtzan")) == "reports/gtzan/executed"
