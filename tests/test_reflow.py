"""normalize's re-flow of hard-wrapped paragraphs, on text written for these tests."""
from __future__ import annotations

import textwrap

import pyarrow as pa

from stages.normalize import Normalize, NormalizeConfig
from stages.quality import Quality, QualityConfig
from stages.reflow import reflow

PROSE = [
    "The harbour lay quiet under a grey sky when the ferry came in, and the passengers went down the "
    "gangway one by one, carrying baskets, umbrellas and the small parcels that travellers always seem "
    "to collect on a long journey. Nobody paid much attention to the tall man in the brown coat.",
    "He walked slowly along the quay, stopping now and then to look at the fishing boats, as if he had "
    "all the time in the world. The inspector, who had followed him from the station, began to wonder "
    "whether he had made a mistake, or whether the man was simply cleverer than anyone had supposed.",
    "By noon the rain had started again. The tall man went into a small restaurant near the market, "
    "sat down by the window and ordered a cup of black coffee and a poached egg; the inspector took a "
    "table in the corner, opened a newspaper he had no intention of reading, and waited.",
]

MORE = [
    "At two o'clock the man paid his bill, left a coin for the waiter and went out into the square, where "
    "a band was playing to nobody in particular. He crossed to the post office, wrote a short telegram, "
    "tore it up, wrote another and handed it over the counter without a word.",
    "The clerk, a young woman with spectacles, read it twice before she counted the words. Later she said "
    "that she had thought it odd at the time, because it was addressed to a bishop and signed only with "
    "a single letter, but that she had been too busy that afternoon to think about it again.",
    "When the inspector reached the counter the man had already gone. He showed his card, asked to see "
    "the form, and copied the message into his notebook in a careful hand; then he stood for a long "
    "moment in the doorway, looking at the rain and the empty square, and saying nothing at all.",
]


def wrapped(paragraphs: list[str], width: int = 70) -> str:
    return "\n\n".join(textwrap.fill(p, width) for p in paragraphs)


def test_a_wrapped_book_passage_becomes_one_line_per_paragraph():
    text = wrapped(PROSE)
    out, joined = reflow(text)
    assert out.split("\n\n") == PROSE
    assert joined == text.count("\n") - 2 * 2  # every line break inside the three paragraphs


def test_a_split_word_or_a_dash_at_a_line_end_joins_without_a_space():
    para = ("It was a well-known fact in the village that the old miller had never once been seen in church, "
            "not even at Christmas, and yet nobody could say a word against him--he paid his debts, he kept "
            "his word, and he was kind to children and dogs, which is more than most of us can claim.")
    lines = textwrap.wrap(para, 60, break_on_hyphens=True)
    text = "\n".join(lines) + "\n\n" + wrapped(PROSE[:2], 60)
    out, _ = reflow(text)
    first = out.split("\n\n")[0]
    assert "\n" not in first and "  " not in first
    assert first.replace(" ", "") == para.replace(" ", "")  # nothing lost or doubled at the joins


def test_poetry_code_lists_and_tables_in_a_wrapped_text_are_left_alone():
    poem = "The sea is calm tonight,\nThe tide is full, the moon lies fair\nUpon the straits;\nOn the French coast the light"
    code = ("    for line in open(path, encoding='utf-8'):\n        if line.strip() and not line.startswith('#'):\n"
            "            total += len(line.split()) * weight_for(line, default=1.0)\n        print(total)")
    items = ("- buy bread, milk, eggs and enough coffee for the whole of the coming week\n"
             "- return the library books before the fines grow larger than the books\n"
             "- call the plumber about the kitchen tap that has been dripping since May")
    table = ("Name        Born    Died    Known for\nDickens     1812    1870    novels of London life\n"
             "Eliot       1819    1880    Middlemarch and other novels")
    text = "\n\n".join([wrapped(PROSE[:1]), poem, code, items, table, wrapped(PROSE[1:])])
    out, joined = reflow(text)
    for block in (poem, code, items, table):
        assert block in out
    assert PROSE[0] in out and PROSE[2] in out and joined > 6


def test_text_that_is_not_wrapped_is_returned_unchanged():
    web = "\n".join(PROSE * 2)  # one paragraph per line, as web pages and Wikipedia come
    assert reflow(web) == (web, 0)
    short = "Dear Anna,\nthanks for the book.\nSee you on Sunday,\nTom"
    assert reflow(short) == (short, 0)
    few = textwrap.fill(PROSE[0][:200], 70)  # three wrapped lines: too little evidence
    assert reflow(few) == (few, 0)
    narrow = textwrap.fill(" ".join(PROSE), 30)  # a newspaper column: narrower than any book page
    assert reflow(narrow) == (narrow, 0)


def test_normalize_reflows_so_the_line_rules_pass_a_book_they_failed():
    book = wrapped(PROSE + MORE)
    batch = pa.table({"id": ["b"], "text": [book]})
    quality = Quality(QualityConfig())
    quality.setup()
    assert quality.process(batch).reject.to_pylist() == ["fineweb_line_punct"]
    normal = Normalize(NormalizeConfig()).process(batch)
    assert normal.table.column("normalize_lines_joined").to_pylist() == [book.count("\n") - 5 * 2]
    assert quality.process(normal.table.select(["id", "text"])).reject.to_pylist() == [None]
    off = Normalize(NormalizeConfig(reflow=False)).process(batch)
    assert off.table.column("text").to_pylist() == [book] and "normalize_lines_joined" not in off.table.column_names
