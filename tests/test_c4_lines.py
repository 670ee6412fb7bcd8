"""C4's line filter for a batch, held to the rules as C4 writes them, one text and line at a time."""
from __future__ import annotations

import random
import re
import sys

import pyarrow as pa
import pytest

from pipeline.tokens import WHITESPACE
from stages.c4_lines import C4_END, CITATION_RE, LINE_BREAKS, POLICY, C4Rules, c4_lines

LINE_WITH_SENTENCE_END_RE = re.compile(r"^.*?[.!?…。！？]+(?=\s|$)", re.MULTILINE)
SENTENCE_END_RE = re.compile(r"[.!?…。！？]+(?=\s|$)")


def c4_as_written(text: str, c: C4Rules) -> tuple[str | None, str, int | None]:
    """(reason, kept text, sentences) of one text: C4's loop over its lines."""
    kept = []
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if len(line) > c.max_word_length and any(len(w) > c.max_word_length for w in words):
            continue
        if c.remove_citations:
            line = CITATION_RE.sub("", line)
        if (c.drop_lines_without_terminal_punct and (not line.endswith(C4_END) or line.endswith("..."))) \
                or len(words) < c.min_words_per_line:
            continue
        low = line.lower()
        if c.reject_lorem_ipsum and "lorem ipsum" in low:
            return "c4_lorem_ipsum", text, None
        if c.drop_javascript_lines and "javascript" in low:
            continue
        if c.reject_curly_bracket and "{" in line:
            return "c4_curly_bracket", text, None
        if c.drop_policy_lines and any(p in low for p in POLICY):
            continue
        kept.append(line)
    joined = "\n".join(kept)
    sentences = len(SENTENCE_END_RE.findall(joined)) + len(kept) - len(LINE_WITH_SENTENCE_END_RE.findall(joined))
    if sentences < c.min_sentences:
        return "c4_too_few_sentences", text, sentences
    return None, joined.strip(), sentences


def assert_as_written(texts: list[str], c: C4Rules) -> None:
    got = c4_lines(pa.array(texts, pa.large_string()), c)
    kept = got.texts.to_pylist()
    for i, text in enumerate(texts):
        reason, joined, sentences = c4_as_written(text, c)
        assert got.reasons[i] == reason, (i, text)
        if reason is None:
            assert kept[i] == joined, (i, text)
        if sentences is not None:
            assert got.sentences[i] == sentences, (i, text)


def test_white_space_and_line_breaks_are_pythons():
    chars = [chr(c) for c in range(sys.maxunicode + 1)]
    assert set(WHITESPACE) == {c for c in chars if c.isspace()}
    assert set(LINE_BREAKS) == {c for c in chars if len(f"a{c}b".splitlines()) == 2}


PIECES = ["word", "Word", "the", "cat", "sat", "on", "mat", "a", "I", "é", "日本", "x" * 12,
          ".", "!", "?", "…", "。", "！", "？", "...", '"', "'", ",", "{", "}", "[1]", "[12]", "[١٢]", "[edit]",
          "[citation needed]", "[", "]", "java", "script", "JavaScript", "LOREM IPSUM", "lorem", "ipsum",
          "Cookie Policy", "uses cookies", "use of cookies", "use cookies", "terms of use", "Privacy Policy",
          "coo\u212aies", "javascr\u0130pt", "\u212a"]
SPACES = [" ", " ", " ", "  ", "\t", "\xa0", "\u3000", "\u2009", "\x1f"]
BREAKS = ["\n", "\n", "\n", "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\r\r\n"]


def random_text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(0, 60)):
        out.append(rng.choice(PIECES))
        r = rng.random()
        out.append(rng.choice(BREAKS) if r < 0.15 else "" if r < 0.3 else rng.choice(SPACES))
    return "".join(out)


@pytest.mark.parametrize("config", [
    {},
    {"min_sentences": 1, "min_words_per_line": 1},
    {"min_sentences": 3, "min_words_per_line": 0},  # empty lines kept: each counts a sentence
    {"drop_lines_without_terminal_punct": True, "min_words_per_line": 0, "max_word_length": 8, "min_sentences": 2},
    {"remove_citations": False, "reject_curly_bracket": False, "drop_policy_lines": False, "min_sentences": 0},
    {"reject_lorem_ipsum": False, "drop_javascript_lines": False, "min_words_per_line": 2, "min_sentences": 1},
])
def test_a_batch_is_each_text_as_c4_writes_it(config):
    rng = random.Random(11)
    texts = [random_text(rng) for _ in range(3000)]
    assert_as_written(texts, C4Rules(**config))


def test_written_edge_cases():
    prose = "The cat sat on the mat. It was warm! Why not?"
    texts = [
        "", "\n", "\r\n", prose, prose + "\n", prose + "\r\n\r\n", "\n\n" + prose,
        "\n".join([prose] * 3) + "\nWe use java[1]script here, they said.",   # the citation goes, then javascript
        "\n".join([prose] * 3) + "\nThis site uses coo\u212aies to track you.",  # str.lower: "cookies"
        "\n".join([prose] * 3) + "\nRun javascr\u0130pt now please today.",      # İ: no "javascript"
        prose + "\nLorem ipsum dolor { sit amet.\n" + prose,                    # lorem first
        prose + "\nwe enable javascript { here.\n" + prose * 2,                  # dropped, not rejected
        prose + "\nfunction f() { return 1 }\nLorem ipsum dolor sit amet.",     # the first line decides
        ("x" * 1001 + " and more words here.\n") + prose * 2,                   # a long word
        "\u3000" + prose + "\u3000\n  [1] " + prose + " [edit] ",               # stripping, after a citation
        "Done。Next sentence here。\u3000Then… and… more！ yes？",                  # sentence ends
        "One. Two.\xa0Three.\u2028Four five six. seven", "a b c\r\rd e f\r\n\ng h i",
    ]
    assert_as_written(texts, C4Rules())
    assert_as_written(texts, C4Rules(min_sentences=1, drop_lines_without_terminal_punct=True))
