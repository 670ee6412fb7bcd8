"""pipeline.unicode.normalize gives what Arrow's utf8_normalize gives, and collapse_whitespace what
Python's `" ".join(s.split())` gives, on real multilingual text and on strings written for it."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.readers import ReadOptions, expand_inputs, read_file
from pipeline.unicode import collapse_whitespace, normalize
from tests.conftest import SAMPLE

NEEDS_WORK = [
    "ﬁnance ﬂow",                # ligatures: NFKC splits them, NFC keeps them
    "Ｆｕｌｌｗｉｄｔｈ ２０２４",    # fullwidth forms
    "x² + y³ = ½",               # superscripts and vulgar fractions
    "cafe\u0301 nai\u0308ve",     # combining accents: NFC composes them
    "\u1100\u1161\u11a8",         # Hangul jamo: composed into one syllable
    "Å Ω K",                     # Angstrom, Ohm and Kelvin signs: canonical singletons
    "plain ASCII line",
    "",
    None,
    "\u0301 a combining mark first, x\u0344 one that decomposes in two, e\u0301\u00e9\u0301",
    "\u1100 \u1161 jamo apart stay apart; \uac00\u11a8 joined",
]


@pytest.mark.parametrize("form", ["NFC", "NFKC", "NFD", "NFKD"])
def test_written_strings_are_normalised_as_arrow_does(form):
    texts = pa.array(NEEDS_WORK, pa.string())
    got = normalize(texts, form)
    assert got.equals(pc.utf8_normalize(texts, form))
    if form == "NFKC":
        assert got[0].as_py() == "finance flow" and got[3].as_py() == "café naïve"


@pytest.mark.parametrize("form", ["NFC", "NFKC"])
def test_the_sample_corpus_in_nine_languages_is_normalised_as_arrow_does(form):
    tables = [t for ref in expand_inputs([(str(SAMPLE), None)]) for t in read_file(ref, ReadOptions())]
    texts = pa.chunked_array([t.column("text") for t in tables])
    assert len(texts) > 2000 and not pc.all(pc.string_is_ascii(texts)).as_py()
    assert normalize(texts, form).equals(pc.utf8_normalize(texts, form).combine_chunks())


def test_the_quick_check_reads_each_non_ascii_run_with_the_character_before_it():
    from pipeline.unicode import _around_non_ascii

    texts = pa.array(["plain", "a é b", "é", None, "xe\u0301y", "", "ü", "日本 ok ﬁ."], pa.string())
    assert _around_non_ascii(texts).to_pylist() == ["", " é", "é", None, "e\u0301", "", "ü", "日本 ﬁ"]
    assert _around_non_ascii(texts.slice(4)).to_pylist() == ["e\u0301", "", "ü", "日本 ﬁ"]


def test_all_ascii_and_empty_arrays_come_back_unchanged():
    ascii_only = pa.array(["abc", None, "d e"], pa.string())
    assert normalize(ascii_only, "NFKC") is ascii_only
    assert len(normalize(pa.array([], pa.string()), "NFC")) == 0


SPACED = [
    "Trailing newlines\n\n", "  leading spaces and a tab\t", "one\r\ntwo\x0bthree\x0cfour\x1cfive",
    "non-breaking\u00a0space and an ideographic\u3000one", "line\u2028and paragraph\u2029separators",
    "next-line\u0085control, ogham\u1680mark, em\u2003space, narrow\u202fnbsp",
    "zero-width\u200bspace is not whitespace", "\x01 a control byte that is not whitespace \x02",
    "日本語の 文章\u3000です", "résumé —  naïve … ", " \t\n ", "", None,
]


def _python(texts: list) -> list:
    return [None if s is None else " ".join(s.split()) for s in texts]


def test_whitespace_collapses_as_python_splits_it():
    texts = pa.array(SPACED, pa.string())
    assert collapse_whitespace(texts).to_pylist() == _python(SPACED)
    assert collapse_whitespace(texts.slice(3, 7)).to_pylist() == _python(SPACED[3:10])  # a slice: offsets re-based
    halves = pa.chunked_array([texts.slice(0, 5), texts.slice(5)])
    assert collapse_whitespace(halves).to_pylist() == _python(SPACED)
    large = collapse_whitespace(texts.cast(pa.large_string()))
    assert large.type == pa.large_string() and large.to_pylist() == _python(SPACED)


def test_the_sample_corpus_collapses_as_python_splits_it():
    tables = [t for ref in expand_inputs([(str(SAMPLE), None)]) for t in read_file(ref, ReadOptions())]
    texts = pa.chunked_array([t.column("text") for t in tables])
    assert collapse_whitespace(texts).to_pylist() == _python(texts.to_pylist())
