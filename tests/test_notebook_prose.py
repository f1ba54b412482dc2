"""Prose that cannot go stale: tools/prose_check.py on the committed notebooks and on planted figures."""
import contextlib
import importlib.util
import io
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("prose_check", ROOT / "tools" / "prose_check.py")
prose_check = importlib.util.module_from_spec(spec)
sys.modules["prose_check"] = prose_check  # dataclasses look their module up there
spec.loader.exec_module(prose_check)


def texts(markdown):
    return [f.text for f in prose_check.figures(markdown)]


def figure(markdown):
    (found,) = prose_check.figures(markdown)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_in_the_prose_is_in_an_output(path):
    nb = nbformat.read(path, as_version=4)
    missing = [f"cell {i}: {f.text} in '...{f.context}...'" for i, f in prose_check.unsourced(nb)]
    assert not missing, "figures stated in markdown that no output of the notebook contains:\n" + "\n".join(missing)


def test_a_planted_figure_fails(tmp_path):
    path = tmp_path / NOTEBOOKS[-1].name
    nb = nbformat.read(NOTEBOOKS[-1], as_version=4)
    nb.cells.insert(5, nbformat.v4.new_markdown_cell("On the test split the error was 4,321 km, or 0.8765 of it."))
    nbformat.write(nb, path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert prose_check.main([str(path)]) == 1
    assert [(i, f.text) for i, f in prose_check.unsourced(nb)] == [(5, "4,321"), (5, "0.8765")]
    assert "4,321 in '...On the test split the error was [4,321] km" in out.getvalue()


def test_the_committed_notebooks_pass_on_the_command_line():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert prose_check.main([str(p) for p in NOTEBOOKS]) == 0
    assert "every figure in the prose is in an output" in out.getvalue()


@pytest.mark.parametrize("text, value, step", [
    ("0.64", 0.64, 0.01), ("1,040", 1040, 10), ("4,700", 4700, 100), ("481", 481, 1),
    ("0", 0, 1), ("2,500", 2500, 100), ("12.50", 12.5, 0.01), ("100", 100, 100),
])
def test_parse_number_reads_the_precision_the_text_implies(text, value, step):
    assert prose_check.parse_number(text) == (pytest.approx(value), pytest.approx(step))


@pytest.mark.parametrize("prose, output, ok", [
    ("0.64", 0.6412, True), ("0.64", 0.6451, False), ("0.64", 0.635, True),
    ("1,040 km", 1043.2, True), ("1,040 km", 1040, True), ("1,040 km", 1046, False),
    ("4,700 km", 4651, True), ("4,700 km", 4751, False),
    ("481 tunes", 481.4, True), ("481 tunes", 482, False),
    ("91 %", 0.912, True), ("91 %", 91.3, True), ("91 %", 0.92, False), ("0.91", 91, False),
    ("3.58 bits", 3.584, True), ("3.58 bits", 3.59, False),
])
def test_a_figure_matches_outputs_that_round_to_it(prose, output, ok):
    found = figure(prose)
    assert found.matches(output) is ok
    assert prose_check._any_match(found, [output]) is ok


def test_thousands_separators_and_percentages_in_outputs():
    values = prose_check.output_values(["1,040 [940, 1540]", "China 51%, Ireland 48%", "x 1.5e+03"])
    assert {1040, 940, 1540, 51, 0.51, 48, 0.48, 1500} <= set(values)
    assert prose_check._any_match(figure("a probability of 0.51"), sorted(values))
    assert prose_check._any_match(figure("about 1,500 km"), sorted(values))


def test_what_is_not_a_figure():
    assert texts("## 3. The split\nSee notebook 04, notebooks 03 and 04, section 4 and Map 2.") == []
    assert texts("O'Neill 1903 and Aird c. 1782-1803; Zhou, Claire & King 2014") == []
    assert texts("the CIFAR-10 net, MP3 excerpts, 3-D unit vectors, 3x3 convolutions, the 10th percentile") == []
    assert texts("run `bench.py --n 48` or\n```\npython x.py --jobs 2\n```\n<!-- 12 --> [a](https://x.org/1/2)") == []
    assert texts("a mean error of 3,113 km (Zhou), 96 mel bands, 12 kHz, hop 256, n_fft 512, [-1, 1]") == []
    assert texts("a 2000 km error and 1,230 tunes, 7 of them") == ["2000", "1,230", "7"]
    assert [f.percent for f in prose_check.figures("91 % and 0.91 and 5 per cent")] == [True, False, True]


def test_every_allowlist_entry_says_why():
    assert 0 < len(prose_check.ALLOWLIST) <= 25
    assert all(len(why) > 10 for _pattern, why in prose_check.ALLOWLIST)


def test_html_outputs_count_by_their_visible_text_only():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("It is 1,234 km, not 777 km, and not 555 km."),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": '<iframe srcdoc="777"></iframe><script>var a = 555;</script><b>1234</b>',
                                  "text/plain": "<Map>"})]),
    ])
    assert [f.text for _, f in prose_check.unsourced(nb)] == ["777", "555"]


def test_rendered_markdown_outputs_are_sources():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("As printed below, 0.49 of it."),
        nbformat.v4.new_code_cell("display(Markdown(...))", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/markdown": "The ratio is **0.49**.", "text/plain": "<Markdown>"})]),
    ])
    assert prose_check.unsourced(nb) == []
