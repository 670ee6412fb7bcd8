"""quality: heuristic quality rules from Gopher (quality and repetition), C4 and FineWeb.

Rules run in the order FineWeb applies them (Gopher repetition, Gopher quality, C4, FineWeb)
with the published thresholds; every rule is its own reject reason, every family can be
switched off, and the measured values are columns on kept and rejected rows alike (`q_*`),
so a different threshold can be judged before re-running. C4 also removes lines, as C4 does:
lines mentioning javascript or cookie/terms-of-use boilerplate, lines under 3 words, and
optionally lines without terminal punctuation; later rules see the text C4 kept.

Words: runs of letters/digits, and each punctuation character as its own token, close to the
spaCy tokenizer the reference implementations use; the alphabetic-words rule counts
whitespace-separated words, as the Gopher paper defines it. Stop words apply to English only (`en`, or
every document when no `language` column exists); other languages skip that rule.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import unicode
from pipeline.schema import set_column
from pipeline.stage import Decisions, Resources, Stage, register
from pipeline.tokens import (ALONE, SEPARATOR, WORD, CharClasses, code_points, counts_before, python_whitespace,
                             starts_of, token_spans, tokens)
from stages.c4_lines import C4Rules, c4_lines, in_text_order, lines_of
from stages.ngram_repetition import BatchWords, Repetition, measure

WORD_RE = re.compile(r"\w+|[^\w\s]")
LETTER_RE = re.compile(r"[^\W\d_]")  # what Gopher's alphabetic-words rule calls a letter
STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
# FineWeb's line_punct rule: characters with Unicode's Terminal_Punctuation property (the
# common ones). Not "…": a line ending in it does not count.
TERMINAL = tuple(".!?。！？؟।॥‼⁇⁈⁉։۔၊။።፧፨។៕᙮᥄᥅")
# What may close a sentence after its terminal mark (Unicode's sentence break rule: STerm Close*):
# a line of dialogue ends `."` or `?”`, a parenthesis `.)`
CLOSING = tuple("\"'”’»›)]}")
SYMBOLS = frozenset("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»")
SYMBOL_ARRAY = pa.array(sorted(SYMBOLS), pa.large_string())
STOP_ARRAY = pa.array(sorted(STOP_WORDS), pa.large_string())


@dataclass
class GopherQuality:
    enabled: bool = True
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_hash_ratio: float = 0.1        # "#" per word
    max_ellipsis_ratio: float = 0.1    # "..." and "…" per word
    max_bullet_lines: float = 0.9      # fraction of lines starting with • or -
    max_ellipsis_lines: float = 0.3    # fraction of lines ending with ... or …
    min_alpha_words: float = 0.8       # fraction of words with at least one letter
    min_stop_words: int = 2            # English only


@dataclass
class GopherRepetition:
    enabled: bool = True
    max_dup_para_frac: float = 0.3
    max_dup_para_char_frac: float = 0.2
    max_dup_line_frac: float = 0.3
    max_dup_line_char_frac: float = 0.2
    # n -> max character fraction of the most frequent n-gram
    max_top_ngram_char_frac: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    # n -> max character fraction in duplicated n-grams
    max_dup_ngram_char_frac: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})


@dataclass
class FineWebRules:
    enabled: bool = True
    min_lines_with_terminal_punct: float = 0.12
    # A line ending in a terminal mark and closing quotes or brackets (`."`, `?”`, `.)`) ends in
    # terminal punctuation. datatrove 0.10.1 counts only the mark itself (its first FineWeb code
    # counted straight quotes too), and rejected novels whose dialogue ends every paragraph so.
    closing_after_terminal: bool = True
    max_short_lines: float = 0.67      # lines of <= 30 characters
    short_line_length: int = 30
    max_dup_line_chars: float = 0.01
    max_newlines_per_word: float = 0.3


@dataclass
class QualityConfig:
    gopher_repetition: GopherRepetition = field(default_factory=GopherRepetition)
    gopher_quality: GopherQuality = field(default_factory=GopherQuality)
    c4: C4Rules = field(default_factory=C4Rules)
    fineweb: FineWebRules = field(default_factory=FineWebRules)


def _real_words(batch: BatchWords) -> tuple[list[int], list[int]]:
    """(words, their characters) per document, not counting a token that is one symbol: tokens are
    \\w+ runs or single punctuation characters, and a symbol word is one of the latter."""
    symbol = pc.is_in(batch.flat, value_set=SYMBOL_ARRAY).to_numpy(zero_copy_only=False)
    docs = len(batch.offsets) - 1
    symbols = np.bincount(batch.doc[symbol], minlength=docs)  # one character each
    words = np.diff(batch.offsets) - symbols
    chars = np.diff(batch.cum[batch.offsets]) - symbols
    return words.tolist(), chars.tolist()


def _word_classes(chars: list[str]) -> np.ndarray:
    """Characters as WORD_RE sees them: \\w runs are tokens, other non-space characters are
    tokens by themselves, white space (\\s) separates (Python's re decides each)."""
    word, space = re.compile(r"\w"), re.compile(r"\s")
    return np.array([WORD if word.match(c) else SEPARATOR if space.match(c) else ALONE for c in chars], np.int8)


@functools.cache
def _word_char_classes() -> CharClasses:
    return CharClasses(_word_classes)


@functools.cache
def _letter_classes() -> CharClasses:
    return CharClasses(lambda chars: np.array([WORD if LETTER_RE.match(c) else ALONE for c in chars], np.int8))


def spaced_words(texts: pa.Array) -> tuple[list[int], ...]:
    """Per text: its whitespace-separated words (`len(text.split())`), those holding a letter
    (`LETTER_RE`), its lines (`len(text.splitlines() or [""])`), and those lines that, stripped,
    start with a bullet ("•", "-") or end with an ellipsis ("...", "…")."""
    offsets, data = unicode.string_bytes(texts)
    offsets = offsets.astype(np.int64)
    begin_at, lengths = token_spans(data, offsets, python_whitespace())
    letters = counts_before(starts_of(data, _letter_classes(), WORD))
    lettered = np.zeros(len(begin_at) + 1, np.int64)
    np.cumsum(letters[begin_at + lengths] > letters[begin_at], out=lettered[1:])
    bounds = np.searchsorted(begin_at, offsets)
    lines = lines_of(data, offsets, begin_at, lengths)
    has = np.flatnonzero(lines.words > 0)
    s, e, ldoc = lines.first[has], lines.last[has], lines.doc
    padded = np.append(data, np.zeros(3, np.uint8))
    head, tail = [padded[s + k] for k in range(3)], [padded[np.maximum(e - 3 + k, 0)] for k in range(3)]
    bullet = (head[0] == ord("-")) | _bytes_are(head, "•")
    ellipsis = (e - s >= 3) & (_bytes_are(tail, "...") | _bytes_are(tail, "…"))
    docs = len(offsets) - 1
    per_text = np.maximum(np.bincount(ldoc, minlength=docs), 1)
    return (np.diff(bounds).tolist(), np.diff(lettered[bounds]).tolist(), per_text.tolist(),
            np.bincount(ldoc[has[bullet]], minlength=docs).tolist(),
            np.bincount(ldoc[has[ellipsis]], minlength=docs).tolist())


def _bytes_are(columns: list[np.ndarray], chars: str) -> np.ndarray:
    """Where the bytes in `columns` (one array per byte) spell `chars` (three bytes in UTF-8)."""
    out = np.ones(len(columns[0]), bool)
    for column, byte in zip(columns, chars.encode()):
        out &= column == byte
    return out


def word_tokens(texts: pa.Array) -> BatchWords:
    """Every text's WORD_RE tokens (`WORD_RE.findall`), as one batch, tokenised in numpy."""
    offsets, data = unicode.string_bytes(texts)
    begin_at, lengths, kept = tokens(data, offsets, _word_char_classes())
    starts = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    flat = pa.Array.from_buffers(pa.large_string(), len(lengths), [None, pa.py_buffer(starts), pa.py_buffer(kept)])
    return BatchWords.of_tokens(flat, np.searchsorted(begin_at, offsets))


def _newline_runs(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first byte, end, text) of every run of line breaks ("\\n"), runs cut at the texts' edges."""
    nl = data == 10
    edge = np.zeros(len(data) + 1, bool)
    edge[offsets] = True
    follows = np.zeros(len(data), bool)
    follows[1:] = nl[:-1]
    starts = np.flatnonzero(nl & ~(follows & ~edge[:-1]))
    precedes = np.zeros(len(data), bool)
    precedes[:-1] = nl[1:]
    ends = np.flatnonzero(nl & ~(precedes & ~edge[1:])) + 1
    return starts, ends, np.searchsorted(offsets, starts, "right") - 1


def _piece_duplicates(data: np.ndarray, docs: int, starts: np.ndarray, ends: np.ndarray, doc: np.ndarray
                      ) -> tuple[list[int], list[int], list[int]]:
    """(pieces, pieces equal to an earlier one of the same text, their characters) per text, of
    pieces of the texts' bytes `data` given as byte ranges in (text, position) order."""
    bounds = np.empty(2 * len(starts) + 2, np.int64)
    bounds[0], bounds[-1] = 0, len(data)
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    # the pieces and the gaps between them tile the bytes: one array without a copy, pieces taken
    tiles = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), pa.py_buffer(data))
    pieces = tiles.take(pa.array(np.arange(1, len(bounds) - 1, 2)))
    encoded = pc.dictionary_encode(pieces)
    key = doc.astype(np.int64) * max(len(encoded.dictionary), 1) + encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(key, kind="stable")  # the first of equal pieces of a text comes first
    later = np.zeros(len(key), bool)
    later[order[1:]] = key[order[1:]] == key[order[:-1]]
    chars = pc.utf8_length(pieces).to_numpy(zero_copy_only=False)
    return (np.bincount(doc, minlength=docs).tolist(), np.bincount(doc[later], minlength=docs).tolist(),
            np.bincount(doc[later], weights=chars[later], minlength=docs).astype(np.int64).tolist())


def repeated_pieces(texts: pa.Array) -> tuple[tuple[list[int], ...], tuple[list[int], ...]]:
    """`_piece_duplicates` of every text's paragraphs (`re.split(r"\\n{2,}", text.strip())`) and
    lines (`re.split(r"\\n+", text)`), found on the bytes of the whole batch."""
    offsets, data = unicode.string_bytes(texts)
    n = len(offsets) - 1
    every = np.arange(n)
    run_starts, run_ends, run_doc = _newline_runs(offsets, data)
    # lines: what lies between runs of line breaks (empty at an edge that is a line break)
    lines = _piece_duplicates(data, n, *in_text_order(np.concatenate([offsets[:-1], run_ends]),
                                                     np.concatenate([run_starts, offsets[1:]]),
                                                     np.concatenate([every, run_doc]),
                                                     np.concatenate([run_doc, every])))
    # paragraphs: from the first to the end of the last character that is not white space, cut
    # where two or more line breaks run
    # seen[k]: where the k-th character that is not white space starts, found from the counts
    # (a position per byte would be a batch's bytes over again, 8 bytes each)
    seen = counts_before(starts_of(data, python_whitespace(), WORD))
    first = seen[offsets[:-1]].astype(np.int64)
    last = seen[offsets[1:]].astype(np.int64) - 1
    has = first <= last
    lo = hi = offsets[:-1].astype(np.int64)
    if has.any():
        lo = np.where(has, np.searchsorted(seen, (first + 1).astype(seen.dtype)) - 1, lo)
        end_char = np.searchsorted(seen, (np.maximum(last, 0) + 1).astype(seen.dtype)) - 1
        lead = data[np.minimum(end_char, len(data) - 1)]
        hi = np.where(has, end_char + 1 + (lead >= 0xC0) + (lead >= 0xE0) + (lead >= 0xF0), hi)
    cut = (run_ends - run_starts >= 2) & (run_starts >= lo[run_doc]) & (run_ends <= hi[run_doc])
    paragraphs = _piece_duplicates(data, n, *in_text_order(np.concatenate([lo, run_ends[cut]]),
                                                          np.concatenate([run_starts[cut], hi]),
                                                          np.concatenate([every, run_doc[cut]]),
                                                          np.concatenate([run_doc[cut], every])))
    return paragraphs, lines


def _char_start(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The first byte of the UTF-8 character the byte at `at` belongs to."""
    for _ in range(3):
        at = np.where((data[at] & 0xC0) == 0x80, at - 1, at)
    return at


def _code_point(data: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The code point of the character at `first` that ends before `end`."""
    width = end - first
    return np.where(width == 1, data[first], code_points(data, first, np.maximum(width, 2)))


def fineweb_lines(texts: pa.Array, short_length: int, closing: bool = False) -> tuple[list[int], ...]:
    """Per text, of its lines that are not blank (`[l for l in text.split("\\n") if l.strip()]`):
    how many, how many end with a TERMINAL character (with `closing`, also before up to three
    CLOSING characters), how many are at most `short_length`
    characters long, the characters of those repeating an earlier one; and the
    text's characters and "\\n"s."""
    offsets, data = unicode.string_bytes(texts)
    offsets = offsets.astype(np.int64)
    docs = len(offsets) - 1
    every = np.arange(docs)
    nl = np.flatnonzero(data == 10)
    nl_doc = np.searchsorted(offsets, nl, "right") - 1
    starts, ends, doc = in_text_order(np.concatenate([offsets[:-1], nl + 1]), np.concatenate([nl, offsets[1:]]),
                                  np.concatenate([every, nl_doc]), np.concatenate([nl_doc, every]))
    seen = counts_before(starts_of(data, python_whitespace(), WORD))  # characters other than white space
    full = seen[ends] > seen[starts]
    starts, ends, doc = starts[full], ends[full], doc[full]
    later_bytes = counts_before((data & 0xC0) == 0x80)  # UTF-8 continuation bytes
    length = ends - starts - (later_bytes[ends] - later_bytes[starts])
    # a line's last character: back from its end over continuation bytes (a line is not blank)
    end = ends
    last = _char_start(data, end - 1)
    cp = _code_point(data, last, end)
    for _ in range(3 if closing else 0):  # back over closing quotes and brackets, never past the line's start
        back = np.isin(cp, [ord(c) for c in CLOSING]) & (last > starts)
        if not back.any():
            break
        end = np.where(back, last, end)
        last = _char_start(data, np.maximum(end - 1, starts))
        cp = _code_point(data, last, end)
    terminal = np.isin(cp, [ord(t) for t in TERMINAL])
    lines, _, dup_chars = _piece_duplicates(data, docs, starts, ends, doc)
    chars = np.diff(offsets) - np.diff(later_bytes[offsets])
    return (lines, np.bincount(doc[terminal], minlength=docs).tolist(),
            np.bincount(doc[length <= short_length], minlength=docs).tolist(), dup_chars, chars.tolist(),
            np.bincount(nl_doc, minlength=docs).tolist())


def word_counts(texts: pa.Array) -> np.ndarray:
    """How many WORD_RE tokens each text holds (`len(WORD_RE.findall(text))`)."""
    offsets, data = unicode.string_bytes(texts)
    begin_at = token_spans(data, offsets, _word_char_classes())[0]
    return np.diff(np.searchsorted(begin_at, offsets))


def _stop_words(batch: BatchWords) -> np.ndarray:
    """How many of STOP_WORDS each document holds."""
    docs = len(batch.offsets) - 1
    stop = np.flatnonzero(pc.is_in(batch.flat, value_set=STOP_ARRAY).to_numpy(zero_copy_only=False))
    if not len(stop):
        return np.zeros(docs, np.int64)
    width = int(batch.ids.max()) + 1
    pairs = np.unique(batch.doc[stop].astype(np.int64) * width + batch.ids[stop].astype(np.int64))
    return np.bincount(pairs // width, minlength=docs)


class Rules:
    """Documents through the rules, each on its own except for the n-gram measures, which are
    taken for a whole batch at once; `m` collects what was measured."""

    def __init__(self, cfg: QualityConfig) -> None:
        self.cfg = cfg

    def check(self, text: str, english: bool) -> tuple[str | None, str, dict]:
        return self.check_batch([text], [english])[0]

    def check_batch(self, texts: list[str], english: list[bool], column: pa.Array | None = None
                    ) -> list[tuple[str | None, str, dict]]:
        """(reason or None, text after C4's line removal, measured values) per document; `column`:
        the same texts as an Arrow array, where the caller has them."""
        cfg = self.cfg
        c = cfg.gopher_repetition
        # both Gopher families read the same text's words
        batch_texts = pa.array(texts, pa.large_string()) if column is None else column
        batch = word_tokens(batch_texts)
        counts = np.diff(batch.offsets).tolist()
        stops = _stop_words(batch).tolist()
        grams = measure(batch, sorted(c.max_top_ngram_char_frac), sorted(c.max_dup_ngram_char_frac)) \
            if c.enabled else None
        pieces = repeated_pieces(batch_texts) if c.enabled else None
        real = (*_real_words(batch), *spaced_words(batch_texts)) if cfg.gopher_quality.enabled else None
        results = [self._check(*doc, grams, pieces, real, i) for i, doc in enumerate(zip(texts, english, counts, stops))]
        later = [i for i, (reason, _, _) in enumerate(results) if reason is None]
        words = [counts[i] for i in later]
        read = batch_texts.take(pa.array(later, pa.int64()))  # what FineWeb reads
        if cfg.c4.enabled and later:
            c4 = c4_lines(read, cfg.c4)
            kept = c4.texts.to_pylist()
            for k, i in enumerate(later):
                reason, m = c4.reasons[k], results[i][2]
                if reason in (None, "c4_too_few_sentences"):
                    m["q_sentences"] = int(c4.sentences[k])
                results[i] = (reason, texts[i] if reason else kept[k], m)
            passed = pa.array([k for k, i in enumerate(later) if results[i][0] is None], pa.int64())
            # FineWeb reads the text C4 kept: its words counted for all such texts at once
            read = c4.texts.take(passed)
            words = word_counts(read).tolist()
            later = [later[k] for k in passed.to_pylist()]
        if cfg.fineweb.enabled and later:
            for i, n, *lines in zip(later, words, *fineweb_lines(read, cfg.fineweb.short_line_length,
                                                                     cfg.fineweb.closing_after_terminal)):
                reason, text, m = results[i]
                results[i] = (self.fineweb(m, n, *lines), text, m)
        return results

    def _check(self, text: str, english: bool, words: int, stops: int, grams: Repetition | None,
               pieces: tuple | None, real: tuple[list[int], ...] | None, i: int) -> tuple[str | None, str, dict]:
        """Gopher's rules (C4's and FineWeb's follow for the batch). `words`: the text's WORD_RE
        tokens; `stops`: how many of STOP_WORDS are among them."""
        m: dict[str, float] = {}
        cfg = self.cfg
        if grams is not None:
            reason = self.repetition(text, words, m, grams, pieces, i)
            if reason:
                return reason, text, m
        if real is not None:
            reason = self.gopher(text, words, stops, english, m, *(r[i] for r in real))
            if reason:
                return reason, text, m
        return None, text, m

    def repetition(self, text: str, words: int, m: dict, grams: Repetition, pieces: tuple, i: int) -> str | None:
        """`pieces`: `repeated_pieces` of the batch (paragraphs, lines: how many, how many repeat an
        earlier one, their characters)."""
        c = self.cfg.gopher_repetition
        if not text:
            return "gopher_empty"
        (paragraphs, para_dups, para_chars), (lines, line_dups, line_chars) = ([p[i] for p in kind] for kind in pieces)
        m["q_dup_para_char_frac"] = para_chars / len(text)
        if para_dups / paragraphs > c.max_dup_para_frac:
            return "gopher_dup_paragraphs"
        if para_chars / len(text) > c.max_dup_para_char_frac:
            return "gopher_dup_paragraph_chars"
        m["q_dup_line_char_frac"] = line_chars / len(text)
        if line_dups / lines > c.max_dup_line_frac:
            return "gopher_dup_lines"
        if line_chars / len(text) > c.max_dup_line_char_frac:
            return "gopher_dup_line_chars"
        for n, limit in sorted(c.max_top_ngram_char_frac.items()):
            if words < n:
                continue
            frac = int(grams.top[n][i]) / len(text)
            m[f"q_top_{n}gram_char_frac"] = frac
            if frac > limit:
                return f"gopher_top_{n}gram"
        for n, limit in sorted(c.max_dup_ngram_char_frac.items()):
            frac = int(grams.dup[n][i]) / len(text) if words >= n else 0.0
            m[f"q_dup_{n}gram_char_frac"] = frac
            if frac > limit:
                return f"gopher_dup_{n}grams"
        return None

    def gopher(self, text: str, words: int, stops: int, english: bool, m: dict, real: int, real_chars: int,
               spaced: int, lettered: int, lines: int, bullets: int, ellipses: int) -> str | None:
        """`real`, `real_chars`: words that are not one symbol, and their characters; `spaced`,
        `lettered`, `lines`, `bullets`, `ellipses`: `spaced_words`."""
        c = self.cfg.gopher_quality
        n_words = words or 1
        m["q_words"] = real
        if real < c.min_words:
            return "gopher_too_few_words"
        if real > c.max_words:
            return "gopher_too_many_words"
        mean = real_chars / real
        m["q_mean_word_length"] = mean
        if mean < c.min_mean_word_length:
            return "gopher_short_words"
        if mean > c.max_mean_word_length:
            return "gopher_long_words"
        if text.count("#") / n_words > c.max_hash_ratio:
            return "gopher_hashes"
        if (text.count("...") + text.count("…")) / n_words > c.max_ellipsis_ratio:
            return "gopher_ellipses"
        if bullets / lines > c.max_bullet_lines:
            return "gopher_bullet_lines"
        if ellipses / lines > c.max_ellipsis_lines:
            return "gopher_ellipsis_lines"
        # Gopher's words here are whitespace-separated ("Valentin," has a letter); counting each
        # punctuation mark as a word, as datatrove does, rejects dialogue-heavy prose
        alpha = lettered / max(spaced, 1)
        m["q_alpha_words"] = alpha
        if alpha < c.min_alpha_words:
            return "gopher_alpha_words"
        if english:
            m["q_stop_words"] = stops
            if stops < c.min_stop_words:
                return "gopher_stop_words"
        return None

    def fineweb(self, m: dict, tokens: int, lines: int, terminal: int, short: int, dup_chars: int, chars: int,
                newlines: int) -> str | None:
        """`tokens`: how many WORD_RE tokens the text holds; the rest: `fineweb_lines`."""
        c = self.cfg.fineweb
        if not lines:
            return "fineweb_empty"
        punct = terminal / lines
        m["q_lines_with_terminal_punct"] = punct
        if punct < c.min_lines_with_terminal_punct:
            return "fineweb_line_punct"
        short_frac = short / lines
        m["q_short_lines"] = short_frac
        if short_frac > c.max_short_lines:
            return "fineweb_short_lines"
        dup = dup_chars / max(chars - newlines, 1)
        m["q_dup_line_chars"] = dup
        if dup > c.max_dup_line_chars:
            return "fineweb_dup_line_chars"
        ratio = newlines / max(tokens, 1)
        m["q_newlines_per_word"] = ratio
        if ratio > c.max_newlines_per_word:
            return "fineweb_newlines_per_word"
        return None


METRICS = ["q_dup_para_char_frac", "q_dup_line_char_frac", "q_top_2gram_char_frac", "q_top_3gram_char_frac",
           "q_top_4gram_char_frac", *[f"q_dup_{n}gram_char_frac" for n in range(5, 11)], "q_words",
           "q_mean_word_length", "q_alpha_words", "q_stop_words", "q_sentences", "q_lines_with_terminal_punct",
           "q_short_lines", "q_dup_line_chars", "q_newlines_per_word"]


@register
class Quality(Stage):
    name = "quality"
    Config = QualityConfig
    # one core, langid's kept Parquet of bench/bench_whole.py's corpus (3.6 MB/s stored); numpy and
    # Arrow batch kernels with Python between them: a thread counted as adding a quarter, as langid
    resources = Resources(num_cpus=1, mb_per_s=3.5, threads=True, thread_gain=0.25)

    def setup(self) -> None:
        self.rules = Rules(self.config)

    def process(self, batch: pa.Table) -> Decisions:
        column = batch.column("text").combine_chunks()
        texts = column.to_pylist()
        if "language" in batch.column_names:
            english = [l == "en" for l in batch.column("language").to_pylist()]
        else:
            english = [True] * len(texts)
        reasons, out_texts = [], []
        metrics = {k: np.full(len(texts), np.nan, dtype=np.float32) for k in METRICS}
        for i, (text, (reason, new_text, m)) in enumerate(zip(texts, self.rules.check_batch(texts, english, column))):
            reasons.append(reason)
            out_texts.append(new_text if reason is None else text)
            for k, v in m.items():
                metrics[k][i] = v
        table = set_column(batch, "text", pa.array(out_texts, pa.string()))
        for k in METRICS:
            table = table.append_column(k, pa.array(metrics[k], pa.float32(), from_pandas=True))
        return Decisions(table, pa.array(reasons, pa.string()))
