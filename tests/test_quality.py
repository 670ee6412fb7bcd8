"""Heuristic quality rules on real text: clean prose passes, each defect has its own reason."""
from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.runner import run_pipeline
from pipeline.config import from_dict
from stages.ngram_repetition import NOT_MEASURED, BatchWords, measure
from stages.quality import WORD_RE, QualityConfig, Rules
from tests.conftest import SAMPLE, make_config


@pytest.fixture(scope="module")
def prose() -> list[str]:
    """Gutenberg chunks with their hard line wraps undone, as prose appears on the web."""
    books = pq.read_table(SAMPLE / "books/gutenberg.parquet").column("text").to_pylist()
    return ["\n\n".join(" ".join(p.split()) for p in t.split("\n\n"))
            for t in books[5:60] if "Gutenberg" not in t]


def check(text: str, english: bool = True, **cfg) -> str | None:
    return Rules(from_dict(QualityConfig, cfg, "test")).check(text, english)[0]


def test_clean_prose_passes(prose):
    reasons = [check(t) for t in prose]
    assert reasons.count(None) >= 0.8 * len(prose), reasons


def test_each_defect_has_its_own_reason(prose):
    para = prose[0].split("\n\n")[0]
    lines = [l for l in prose[1].split("\n") if len(l.split()) > 5]
    assert check("\n".join(lines[:3] * 6)).startswith("gopher_dup")
    assert check(" ".join(para.split()[:30])) == "gopher_too_few_words"
    assert check(prose[2] + "\n\nLorem ipsum dolor sit amet, consectetur adipiscing elit.") == "c4_lorem_ipsum"
    assert check(prose[3] + "\n\nfunction f() { return 1; } is what we wrote.") == "c4_curly_bracket"
    bullets = "\n".join("- " + " ".join(l.split()[:12]) for l in lines[:40])
    assert check(bullets, gopher_repetition={"enabled": False}) in ("gopher_bullet_lines", "c4_too_few_sentences",
                                                                    "fineweb_line_punct")
    hashes = " ".join(f"#{w}" for w in " ".join(prose[:3]).split()[:150])
    assert check(hashes, gopher_repetition={"enabled": False}) == "gopher_hashes"


def _duplicates(items: list[str]) -> tuple[int, int]:
    """Gopher's and FineWeb's count of repeated items: (how many equal an earlier one, their characters)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


def top_gram_chars(words: list[str], n: int) -> int:
    """Gopher's measure, as written: the most frequent n-gram (first seen wins a tie) joined by spaces."""
    if len(words) < n:
        return NOT_MEASURED
    gram, count = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1)).most_common(1)[0]
    return len(" ".join(gram)) * count


def dup_gram_chars(words: list[str], n: int) -> int:
    first: dict[tuple, int] = {}
    for i in range(len(words) - n + 1):
        first.setdefault(tuple(words[i:i + n]), i)
    chars, i = 0, 0
    while i <= len(words) - n:
        if first[tuple(words[i:i + n])] < i:
            chars += sum(map(len, words[i:i + n]))
            i += n
        else:
            i += 1
    return chars


def test_ngram_measures_of_a_batch_are_each_documents_own(prose):
    lines = prose[1].split("\n")
    docs = [prose[0], prose[0],                                     # a copy repeats nothing of the one before
            "\n".join(lines[:3] * 6), prose[2] + "\n\n" + prose[2][:400],
            "", "Only three words", "spam spam spam eggs spam spam spam eggs " * 30,
            prose[3].replace(".", ". Buy cheap watches now.", 12), *prose[4:10]]
    words = [WORD_RE.findall(t) for t in docs]
    measured = measure(BatchWords.of(words), [2, 3, 4], list(range(5, 11)))
    for i, w in enumerate(words):
        assert [measured.top[n][i] for n in (2, 3, 4)] == [top_gram_chars(w, n) for n in (2, 3, 4)], i
        assert [measured.dup[n][i] for n in range(5, 11)] == [dup_gram_chars(w, n) for n in range(5, 11)], i
    assert measured.dup[5][1] == dup_gram_chars(words[1], 5) < len(docs[1]) * 0.15
    assert measured.dup[5][2] > 0.5 * len(docs[2]) and measured.top[2][6] > 0.5 * len(docs[6])


def test_ngram_measures_agree_with_gophers_on_random_repetitive_documents():
    """Small vocabularies repeat n-grams of every length, in runs and overlapping; measured n
    with gaps between them, and documents shorter than n, next to long ones in one batch."""
    rng = random.Random(7)
    words = [[f"w{rng.randrange(vocab)}" * rng.randint(1, 3) for _ in range(rng.choice([0, 1, 4, 9, 30, 200]))]
             for vocab in [rng.choice([1, 2, 3, 5, 20, 400]) for _ in range(400)]]
    words += [["a", "b"] * 40, ["a"] * 50, ["x", "y", "z", "x", "y", "z", "x"]]
    measured = measure(BatchWords.of(words), [3, 4], [5, 7, 10])
    for i, w in enumerate(words):
        assert [measured.top[n][i] for n in (3, 4)] == [top_gram_chars(w, n) for n in (3, 4)], (i, w)
        assert [measured.dup[n][i] for n in (5, 7, 10)] == [dup_gram_chars(w, n) for n in (5, 7, 10)], (i, w)


def test_stop_words_apply_to_english_only():
    quotes = (SAMPLE / "fortunes/files/de-debian.txt").read_text().split("\n%\n")
    german = "\n\n".join(" ".join(q.split()) for q in quotes[:40])
    only_gopher = {"gopher_repetition": {"enabled": False}, "c4": {"enabled": False}, "fineweb": {"enabled": False}}
    assert check(german, english=True, **only_gopher) == "gopher_stop_words"
    assert check(german, english=False, **only_gopher) is None


def test_switching_a_family_off_changes_only_that_family(prose):
    doubled = prose[4] + "\n\n" + prose[4]
    assert check(doubled).startswith("gopher_dup")
    # FineWeb has its own duplicate-line rule: with Gopher's family off, it is the one that fires
    assert check(doubled, gopher_repetition={"enabled": False}) == "fineweb_dup_line_chars"
    assert check(doubled, gopher_repetition={"enabled": False}, fineweb={"enabled": False}) is None


def test_stage_keeps_metrics_on_rejected_rows_and_accounts(tmp_path):
    cfg = make_config(tmp_path / "o", [str(SAMPLE / "books"), str(SAMPLE / "fortunes")],
                      [{"name": "read"}, {"name": "quality"}], executor="inline")
    run = run_pipeline(cfg)[-1]
    rejected = pa.concat_tables([pq.read_table(f) for f in (run.directory / "rejected").glob("*.parquet")])
    kept = pa.concat_tables([pq.read_table(f) for f in (run.directory / "kept").glob("*.parquet")])
    assert "q_words" in rejected.column_names and "q_mean_word_length" in kept.column_names
    assert all(r.startswith(("gopher_", "c4_", "fineweb_")) for r in rejected["reject_reason"].to_pylist())
    assert run.stats.docs_in == run.stats.kept + run.stats.rejected_total
    # one-line fortunes do not pass; hard-wrapped books fail FineWeb's line-punctuation rule
    fortunes = sum(s.startswith("fortunes/quotes") for s in run_sources(run.directory))
    assert sum(s.startswith("fortunes/quotes") for s in kept["source"].to_pylist()) < 0.05 * fortunes
    book_reasons = [r for r, s in zip(rejected["reject_reason"].to_pylist(), rejected["source"].to_pylist())
                    if s.startswith("books")]
    assert book_reasons.count("fineweb_line_punct") >= 0.8 * len(book_reasons)


def run_sources(stage_dir) -> list[str]:
    return [s for kind in ("kept", "rejected") for f in (stage_dir / kind).glob("*.parquet")
            for s in pq.read_table(f, columns=["source"])["source"].to_pylist()]


def test_bad_threshold_type_is_a_config_error(tmp_path):
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="min_words"):
        make_config(tmp_path, [str(SAMPLE)], [{"name": "read"}, {"name": "quality", "gopher_quality": {"min_words": "fifty"}}])


def test_measures_are_those_of_the_text_c4_keeps(prose):
    """Sentences, newlines per word and alphabetic words as their definitions say, on the text C4
    keeps (lines dropped, citations cut)."""
    import re

    from stages.c4_lines import SENTENCE_END_RE

    alpha_word = re.compile(r"\S*[^\W\d_]\S*")  # a whitespace-separated word with a letter
    written = [
        prose[4] + "\n\nSee the notes [1] and [citation needed] below... and more!? Yes.\n"
        "Menu\nHome | About\nThis site uses cookies to improve things, sadly.\n"
        "Enable javascript to read the rest of this page.\n\u2028Sec. 2: 3.5 x 10 ² units, 1_000 _x_ -- ok.",
        prose[5].replace(". ", ".\n"),  # one sentence a line
        prose[6] + "\n\nfoo[2]bar was written here\n\n\n\nso short\nnot long\nbrief",
    ]
    rules = Rules(QualityConfig())
    for text in written:
        reason, kept, m = rules.check(text, True)
        assert reason is None, reason
        assert kept != text
        lines = kept.split("\n")
        assert m["q_sentences"] == sum(max(1, len(SENTENCE_END_RE.findall(l))) for l in lines)
        assert m["q_newlines_per_word"] == kept.count("\n") / max(len(WORD_RE.findall(kept)), 1)
        assert m["q_alpha_words"] == len(alpha_word.findall(text)) / max(len(text.split()), 1)


def test_word_tokens_are_the_word_regex_findall(prose):
    """The batch tokenizer (numpy on the bytes, classes asked of Python's re) against
    `WORD_RE.findall` itself: random Unicode, written edge cases, prose, man pages in nine
    languages; how many each holds, and the stop words each document holds."""
    import json
    import random

    import numpy as np

    from stages.quality import LETTER_RE, STOP_WORDS, _stop_words, spaced_words, word_counts, word_tokens

    rng = random.Random(11)
    pools = [range(32, 127), range(0, 32), range(0x80, 0x250), range(0x300, 0x370), range(0x2000, 0x2070),
             range(0x3000, 0x3100), range(0x4E00, 0x4E80), range(0xE00, 0xE80), range(0x1F300, 0x1F700),
             range(0xFF00, 0xFFF0), range(0x600, 0x700), range(0x400, 0x500), [0x85, 0xA0, 0x2028, 0x3000, 0x1C]]
    written = ["", " ", "the and the of", "e\u0301", "a_b c", "x² ½", "中文", "don't stop-words!", "\u00a0the\u2003of",
               "- a\n• b\n  -c\n...\n\n", "x...\n y…  \n...", "\u2028- item\r\n• two…\u3000\r\n", "..\n.\n-", "•", "…",
               "a\x1c- b\x85• c\u2029...",
               "x..", "."]  # the dots of the text before are not this one's
    man = pa.input_stream(str(SAMPLE / "manpages/manpages.jsonl.zst"), compression="zstd").read().decode()
    texts = written + prose + [json.loads(line)["text"] for line in man.splitlines() if line.strip()] + [
        "".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(0, 50))) for _ in range(1500)]
    words = [WORD_RE.findall(t) for t in texts]
    ours, theirs = word_tokens(pa.array(texts, pa.large_string())), BatchWords.of(words)
    assert ours.flat.equals(theirs.flat)
    assert np.array_equal(ours.offsets, theirs.offsets) and np.array_equal(ours.cum, theirs.cum)
    assert _stop_words(ours).tolist() == [len(STOP_WORDS.intersection(w)) for w in words]
    assert word_counts(pa.array(texts, pa.large_string())).tolist() == [len(w) for w in words]
    # Gopher's alphabetic words: whitespace-separated (str.split), with a letter ([^\W\d_])
    spaced, lettered, lines, bullets, ellipses = spaced_words(pa.array(texts, pa.large_string()))
    assert spaced == [len(t.split()) for t in texts]
    assert lettered == [sum(bool(LETTER_RE.search(w)) for w in t.split()) for t in texts]
    assert sum(lettered) < sum(spaced) and min(lettered) == 0
    # Gopher's bullet and ellipsis lines
    assert lines == [len(t.splitlines() or [""]) for t in texts]
    assert bullets == [sum(s.lstrip().startswith(("•", "-")) for s in t.splitlines()) for t in texts]
    assert ellipses == [sum(s.rstrip().endswith(("...", "…")) for s in t.splitlines()) for t in texts]
    assert sum(bullets) > 20 and sum(ellipses) > 10


def test_fineweb_line_measures_of_a_batch_are_those_of_each_text(prose):
    """FineWeb's lines (`text.split("\\n")`, blank ones left out) measured for a whole batch: as
    many, as many ending in terminal punctuation, as many short ones and as many characters
    repeated as Python finds in each text."""
    from stages.quality import CLOSING, TERMINAL, fineweb_lines

    def terminal(line: str, closing: bool) -> bool:
        k = len(line)  # with `closing`, up to three closing quotes or brackets after the mark
        while closing and k > 1 and len(line) - k < 3 and line[k - 1] in CLOSING:
            k -= 1
        return line[:k].endswith(TERMINAL)

    rng = random.Random(3)
    alphabet = ["\n", "\n", "\n", " ", "\t", "\u00a0", "\u3000", "\r", "a", "b", "é", "中", "😀", "x y", ".", "。",
                "!", "؟", "։", "᥅", "…", "\n\n", "abcdefghij" * 3, "\u2028", '"', "”", "’", ")", "»", ".”", '?"']
    written = ["", "\n", "a.", "a.\n", " \n \n", "x" * 30 + "\n" + "y" * 31, "a.\na.\na.", "😀。\n😀", "。", "é" * 30,
               'He said "no."\nShe asked ‘why?’', "(see above.)", '.""""', '"', "”.”", "Voilà.»\n»"]
    texts = written + prose[:5] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for closing in (False, True):
        got = fineweb_lines(pa.array(texts, pa.large_string()), 30, closing)
        for i, text in enumerate(texts):
            lines = [line for line in text.split("\n") if line.strip()]
            want = (len(lines), sum(terminal(line, closing) for line in lines), sum(len(line) <= 30 for line in lines),
                    _duplicates(lines)[1], len(text), text.count("\n"))
            assert tuple(g[i] for g in got) == want, (closing, i, text)
        assert sum(got[1]) > 500 and 0 < sum(got[2]) < sum(got[0]) and sum(got[3]) > 0


def test_a_line_of_dialogue_ends_in_terminal_punctuation():
    """A novel's dialogue ends its paragraphs `."` or `?”`: FineWeb's line rule, as datatrove 0.10.1
    applies it (the mark itself last), rejected such a chapter; the closing quote no longer hides
    the full stop."""
    chapter = "\n\n".join([
        '"Where have you been all this time? I have been sick with worry since noon."',
        "“Out on the hills, looking for the sheep that strayed in the night,” he said slowly.",
        "“All of them?”",
        "“Every one of them, and the lambs as well. It took me until dark.”",
        "“And the dog?”",
        "“The dog found the last two in the gully below the old quarry, half buried in snow.”",
        "“You should have told me before you went. I waited up for you until the candle died.”",
        "“I know. I am sorry for it. There was no time, and the wind was rising from the north.”",
        "“Your father would have waited for the morning.”",
        "“My father would have lost the flock, and the farm with it, in a winter like this one.”",
        "“Will you eat something now? There is bread, and the soup is still warm in the pot.”",
        '"Later," he said. "Let me sit here a while first. My hands are too cold to hold a spoon."'])
    assert check(chapter) is None
    assert check(chapter, fineweb={"closing_after_terminal": False}) == "fineweb_line_punct"


def test_repeated_paragraphs_and_lines_of_a_batch_are_those_of_each_text(prose):
    """Gopher's repeated paragraphs and lines found for a whole batch on its bytes: as many, as
    many repeated and as many characters as `_duplicates` of each text's regex splits."""
    import random

    import re

    from stages.quality import repeated_pieces

    PARAGRAPH_RE, LINES_RE = re.compile(r"\n{2,}"), re.compile(r"\n+")  # Gopher's splits

    rng = random.Random(5)
    alphabet = ["\n", "\n", "\n", " ", "\t", "\u00a0", "\u2028", "\r", "a", "b", "é", "中", "😀", "x y", "\n\n"]
    written = ["", "\n", "\n\n", " \n\n ", "a", "a\n\na", "a\na\n", "\na\n\na\n", "x\n\n\n\nx\n\n x", "\u00a0a\n\na\u00a0",
               "same\nsame\nsame", "p1\n\np2\n\np1\n\n\n", "é\n\né\n\né", "\r\na\r\n\r\na"]
    texts = written + prose + ["\n\n".join(prose[:3] * 2)] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    paragraphs, lines = repeated_pieces(pa.array(texts, pa.large_string()))
    for i, t in enumerate(texts):
        para, line = PARAGRAPH_RE.split(t.strip()), LINES_RE.split(t)
        assert (paragraphs[0][i], paragraphs[1][i], paragraphs[2][i]) == (len(para), *_duplicates(para)), repr(t)
        assert (lines[0][i], lines[1][i], lines[2][i]) == (len(line), *_duplicates(line)), repr(t)
