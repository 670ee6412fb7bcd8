#!/usr/bin/env python3
"""Language-ID accuracy on the UDHR in ~460 languages (whole documents and short snippets) and on
spaCy's example sentences (single sentences, many of them news headlines, in ~65 languages); and
how many sentences of English books the stage reads as English.

    python bench/langid_accuracy.py [--udhr ../shared/data/langid/udhr] [--snippets 10] [--dslcc FILE]
                                    [--sentences FILE]

Gold labels: each translation's BCP 47 language (index.xml), mapped to lid.176's codes; only
languages lid.176 knows are scored. A document is the whole declaration; snippets are single
paragraphs of 20-300 characters (up to --snippets a language). Scored: the raw model (top
label) and the langid stage's prediction with the script check. Also per confusable group
(bs/hr/sr, ms/id, no/nn, yo, so). Writes bench/LANGID.md. Skips if the UDHR is absent.

The sentences are the `sentences` lists of `spacy/lang/*/examples.py` in the installed spaCy (MIT;
the NER model's dependency): written or translated for spaCy's documentation ("Apple is looking
at buying U.K. startup for $1 billion" in 20 languages), some quoted from Wikipedia or the
classics. They are the nearest thing to single news sentences in many languages that the repo's
dependencies carry; a language has 1-29 of them, so a language's figure is coarse.

A third source, held out from every choice: sentences of the Debian Administrator's Handbook's
translations in ../shared/data/web-html (web documentation in 24 languages, `handbook_sentences`);
skipped where the tarball is absent. A fourth, for the close varieties the spelling dictionaries
decide (bs/hr/sr, ms/id, nb/nn): messages of the gettext catalogues installed on the machine
(`gettext_sentences`; skipped where none is; the set is whatever packages are installed, and `make
test`'s Chromium brings some). A fifth, given with `--dslcc FILE`: news sentences of
those varieties in the DSL Corpus Collection's format (not shipped: its licence is the VarDial
organisers'; `dslcc_sentences`), its Bosnian lines also split by what the spelling vote sees
(`bosnian_evidence`). And any file of `text<TAB>code` lines given with `--sentences
FILE` (`labelled_sentences`: news or social-media sentences of languages the repo cannot ship),
scored per language.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import random
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages import langid  # noqa: E402
from stages.langid import Langid, LangidConfig, neighbours  # noqa: E402

ALIASES = {"cmn": "zh", "nb": "no", "arb": "ar", "pes": "fa", "swh": "sw", "zlm": "ms", "zsm": "ms", "ekk": "et",
           "khk": "mn", "uzn": "uz", "azj": "az", "lvs": "lv", "pbu": "ps", "npi": "ne", "plt": "mg", "ydd": "yi",
           "gug": "gn", "quy": "qu", "als": "sq", "tzm": "ber", "kmr": "ku", "ckb": "ckb", "hat": "ht"}
GROUPS = {"bs/hr/sr": {"bs", "hr", "sr", "sh"}, "ms/id": {"ms", "id"}, "no/nn": {"no", "nn"}, "yo": {"yo"}, "so": {"so"}}


def load(udhr: Path, labels: set[str], snippets: int) -> tuple[list, list]:
    docs, snips = [], []
    ns = "{http://www.unhchr.ch/udhr}"
    for entry in ET.parse(udhr / "index.xml").getroot():
        code = entry.get("bcp47", "").split("-")[0].lower()
        gold = ALIASES.get(code, code)
        path = udhr / f"udhr_{entry.get('f')}.xml"
        if gold not in labels or not path.is_file():
            continue
        paras = [" ".join((p.text or "").split()) for p in ET.parse(path).getroot().iter(f"{ns}para")]
        paras = [p for p in paras if p]
        if not paras:
            continue
        docs.append((gold, "\n".join(paras)))
        short = [p for p in paras if 20 <= len(p) <= 300]
        snips += [(gold, p) for p in short[:snippets]]
    return docs, snips


def spacy_sentences(labels: set[str]) -> list[tuple[str, str]]:
    """(gold, sentence) from spaCy's examples.py files, read as literals (importing a language
    package may need its tokenizer's extra dependencies); `xx` (many languages) left out."""
    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.submodule_search_locations:
        return []
    items = []
    for path in sorted(Path(spec.submodule_search_locations[0]).glob("lang/*/examples.py")):
        code = path.parent.name
        gold = ALIASES.get(code, code)
        if code == "xx" or gold not in labels:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "sentences" for t in node.targets):
                items += [(gold, " ".join(s.split())) for s in ast.literal_eval(node.value) if s.strip()]
    return items


def book_sentences(books: Path, n: int = 3000) -> list[str]:
    """n sentences of 20-200 characters drawn from the Gutenberg books of ../shared (English
    prose, a few quotations in French or Latin among them), paragraphs' hard wraps joined."""
    sentences = []
    for path in sorted(books.glob("*.txt")):
        for paragraph in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            sentences += [s for s in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())) if 20 <= len(s) <= 200]
    return random.Random(5).sample(sentences, min(n, len(sentences)))


HANDBOOK = REPO.parent / "shared/data/web-html/debian-handbook/debian-handbook-html-24lang.tar.xz"
HANDBOOK_CODES = {"ar-MA": "ar", "ca-ES": "ca", "cs-CZ": "cs", "da-DK": "da", "de-DE": "de", "el-GR": "el",
                  "es-ES": "es", "fa-IR": "fa", "fr-FR": "fr", "hr-HR": "hr", "id-ID": "id", "it-IT": "it",
                  "ja-JP": "ja", "ko-KR": "ko", "nb-NO": "no", "nl-NL": "nl", "pl-PL": "pl", "pt-BR": "pt",
                  "ro-RO": "ro", "ru-RU": "ru", "sv-SE": "sv", "tr-TR": "tr", "vi-VN": "vi", "zh-CN": "zh", "zh-TW": "zh"}
_ENGLISH = set("the and of to is for with you that in this be are can on it by an as or from which not".split())


class _Paragraphs(HTMLParser):
    """The text of each `<div class="para">` of a handbook page (its running text, not titles or listings)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.buf, self.out = 0, [], []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "div" and self.depth:
            self.depth += 1
        elif tag == "div" and dict(attrs).get("class") == "para":
            self.depth, self.buf = 1, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.out.append(" ".join("".join(self.buf).split()))

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.buf.append(data)


def handbook_sentences(tarball: Path = HANDBOOK, per_language: int = 150) -> list[tuple[str, str]]:
    """(gold, sentence): sentences of 30-250 characters from the running text of the Debian
    Administrator's Handbook's translations (web documentation; gold is the edition's language),
    leaving out sentences that stand verbatim in the English edition, those with a fifth or more
    of English function words (strings the translators have not reached), and those under 60 %
    letters (commands, paths); up to `per_language` per edition, seeded."""
    import tarfile

    found: dict[str, list[str]] = {}
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].endswith(".html"):
                continue
            parser = _Paragraphs()
            parser.feed(tar.extractfile(member).read().decode("utf-8", "replace"))
            found.setdefault(parts[1], []).extend(
                s for para in parser.out for s in re.split(r"(?<=[.!?])\s+", para) if 30 <= len(s) <= 250)
    english = set(found.pop("en-US", []))
    rng, items = random.Random(3), []
    for edition in sorted(found):
        keep = []
        for s in sorted(set(found[edition]) - english):
            words = re.findall(r"[a-z]+", s.lower())
            if sum(c.isalpha() for c in s) > 0.6 * len(s) and not (words and sum(w in _ENGLISH for w in words)
                                                                    >= 0.2 * len(words)):
                keep.append(s)
        items += [(HANDBOOK_CODES[edition], s) for s in rng.sample(keep, min(per_language, len(keep)))]
    return items


LOCALES = Path("/usr/share/locale")
GETTEXT = {"ms": "ms", "id": "id", "bs": "bs", "hr": "hr", "sr@latin": "sr", "nb": "no", "nn": "nn"}
_MESSAGE_NOISE = re.compile(r"%[-#0-9.]*[a-zA-Z]|\{[^}]*\}|<[^>]*>|&\w+;|_")


def gettext_sentences(per_language: int = 300, locales: dict[str, str] = GETTEXT) -> list[tuple[str, str]]:
    """(gold, message) from the machine's compiled gettext catalogues (LOCALES/<lang>/LC_MESSAGES/*.mo):
    translated messages (not equal to the English original) of 5+ words and 30-250 characters, 70 %
    letters, with format specifiers and markup blanked; a fixed sample per language. Empty where
    no catalogue is installed. `locales`: catalogue directory -> gold (lid.176's code)."""
    import gettext

    items = []
    for locale, gold in locales.items():
        found = set()
        for path in sorted((LOCALES / locale / "LC_MESSAGES").glob("*.mo")):
            try:
                with path.open("rb") as f:
                    catalogue = gettext.GNUTranslations(f)._catalog
            except Exception:  # noqa: BLE001 - a broken catalogue is skipped, not the set
                continue
            for english, message in catalogue.items():
                if not isinstance(message, str) or message == english:
                    continue
                message = " ".join(_MESSAGE_NOISE.sub(" ", message).split())
                if (len(re.findall(r"[^\W\d_]+", message)) >= 5 and 30 <= len(message) <= 250
                        and sum(c.isalpha() for c in message) >= 0.7 * len(message)):
                    found.add(message)
        found = sorted(found)
        random.Random(1).shuffle(found)
        items += [(gold, m) for m in found[:per_language]]
    return items


DSLCC_CODES = {"bs": "bs", "hr": "hr", "sr": "sr", "my": "ms", "id": "id"}


def dslcc_sentences(path: Path) -> list[tuple[str, str]]:
    """(gold, text) of the Bosnian, Croatian, Serbian, Malay ("my") and Indonesian lines of a file in
    the DSL Corpus Collection's format (VarDial's shared tasks on similar languages: news sentences
    labelled by the country of the site they come from, `text<TAB>label` a line, quoted as CSV where
    a text holds quotes, as in DSLCC v4.0's gold test set)."""
    import csv

    items = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) >= 2 and row[-1].strip() in DSLCC_CODES:
                items.append((DSLCC_CODES[row[-1].strip()], "\t".join(row[:-1])))
    return items


def labelled_sentences(path: Path) -> list[tuple[str, str]]:
    """(gold, text) of a file of `text<TAB>code` lines, code the stage's (lid.176's, or Lingua's ISO
    639-1 for the languages lid.176 lacks: `lg`, `mi`, `sn`, `st`, `tn`, `ts`, `xh`, `zu`)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, _, code = line.rpartition("\t")
        if text.strip() and code.strip():
            items.append((code.strip(), text))
    return items


def mixed_documents(docs: list[tuple[str, str]], n: int = 300) -> list[tuple[str, str]]:
    """(gold, text): ~700 characters of one declaration above ~3,000 of another language's, the
    way a page's menu or a manual's untranslated opening sits above its body; gold is the body's
    language, the one most of the text is in (what lid.176 on the whole text aims at)."""
    rng = random.Random(17)
    bodies = [(g, t) for g, t in docs if len(t) >= 2500]
    items = []
    for _ in range(n):
        gold, body = rng.choice(bodies)
        head_gold, head = rng.choice(docs)
        while neighbours(head_gold, gold):
            head_gold, head = rng.choice(docs)
        cut = head.rfind(" ", 0, 700)
        items.append((gold, head[:cut if cut > 0 else 700] + "\n\n" + body[:3000]))
    return items


def score(stage: Langid, items: list) -> tuple[float, dict, dict]:
    """Accuracy, (correct, n) per confusable group, and (correct, n) per language."""
    lang, _ = stage.predict(pa.array([t for _, t in items], pa.string()))
    gold = [g for g, _ in items]
    ok = [l == g for l, g in zip(lang, gold)]
    groups, per_language = {}, {}
    for name, members in GROUPS.items():
        idx = [i for i, g in enumerate(gold) if g in members]
        if idx:
            groups[name] = (sum(ok[i] for i in idx), len(idx))
    for g, right in zip(gold, ok):
        r, n = per_language.get(g, (0, 0))
        per_language[g] = (r + right, n + 1)
    return sum(ok) / max(len(ok), 1), groups, per_language


LIKELIER = "the stage, `bosnian_from: 0.5`"
# (column, variant of the stages) of the per-language tables
CLOSE_VARIETY_COLUMNS = [("lid.176 top label", "lid.176 top label"),
                         ("the stage without dictionaries", "+ languages lid.176 lacks"),
                         ("the stage", "the stage (+ spelling dictionaries)"), (LIKELIER, LIKELIER)]
LABELLED_COLUMNS = [("lid.176 top label", "lid.176 top label"), ("with script check", "with script check"),
                    ("the stage without dictionaries", "+ languages lid.176 lacks"),
                    ("the stage", "the stage (+ spelling dictionaries)")]


def per_language_rows(stages: dict[str, Langid], items: list,
                      columns: list[tuple[str, str]] = CLOSE_VARIETY_COLUMNS) -> dict[str, dict]:
    """(correct, n) per language for each (column, variant) of `columns` that `stages` has."""
    return {name: score(stages[variant], items)[2] for name, variant in columns if variant in stages}


def bosnian_evidence(stage: Langid, items: list) -> dict[str, tuple[int, int]]:
    """(lines, read right) of the Bosnian lines of `items` by what the spelling vote sees in them:
    Bosnian counted ahead of Croatian, tied with it, or behind it (`Spellers.counts`)."""
    from stages.langid_spelling import GROUP_OF, SPELLERS

    texts = [t for g, t in items if g == "bs"]
    lang, _ = stage.predict(pa.array(texts, pa.string())) if texts else ([], None)
    found: dict[str, tuple[int, int]] = {}
    for text, answer in zip(texts, lang):
        counts = SPELLERS.counts(text, GROUP_OF["bs"])
        seen = ("ahead of" if counts["bs"] > counts["hr"] else "tied with" if counts["bs"] == counts["hr"]
                else "behind")
        n, right = found.get(seen, (0, 0))
        found[seen] = (n + 1, right + (answer == "bs"))
    return found


def per_language_table(rows: dict[str, dict], cell: Callable[[int, int], str]) -> list[str]:
    """Markdown rows: a language per line, a column per variant of `rows`, `cell(correct, n)` in each."""
    table = ["| language | n | " + " | ".join(rows) + " |", "|---|---:|" + "---:|" * len(rows)]
    for g in sorted(rows["the stage"]):
        n = rows["the stage"][g][1]
        table.append(f"| {g} | {n} | " + " | ".join(cell(r[g][0], n) for r in rows.values()) + " |")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--udhr", default=str(REPO.parent / "shared/data/langid/udhr"))
    ap.add_argument("--snippets", type=int, default=10)
    ap.add_argument("--dslcc", action="append", default=[], metavar="FILE",
                    help="a DSLCC-format file of news sentences (text<TAB>label): its bs/hr/sr/my/id lines "
                         "are scored too (repeatable; not shipped, see README)")
    ap.add_argument("--sentences", action="append", default=[], metavar="FILE",
                    help="a file of text<TAB>code lines (the stage's language codes), scored per language "
                         "(repeatable)")
    args = ap.parse_args()
    udhr = Path(args.udhr)
    if not (udhr / "index.xml").is_file():
        print(f"skipped: {udhr} not found")
        return
    variants = {"lid.176 top label": LangidConfig(script_check=False, second_opinion="none", dictionaries=False),
                "with script check": LangidConfig(script_check=True, second_opinion="none", dictionaries=False),
                "+ Lingua inside its languages": LangidConfig(lacking_below=0.0, dictionaries=False),
                "Lingua's top answer standing (the rule before)": LangidConfig(dictionaries=False),
                "+ languages lid.176 lacks": LangidConfig(dictionaries=False),
                "the stage (+ spelling dictionaries)": LangidConfig()}
    stages = {}
    for name, cfg in variants.items():
        stages[name] = Langid(cfg)
        stages[name].setup()
    # before 2026-12-03 Lingua's top answer replaced lid.176's; now the language both find likeliest
    stages["Lingua's top answer standing (the rule before)"]._likeliest = lambda lid, lingua, current: next(iter(lingua))
    stage = stages["the stage (+ spelling dictionaries)"]
    label_sets = {"lid.176 knows": set(stage.labels),
                  "Lingua knows (8 of them lid.176 does not)": set(stage.lingua_codes)}
    text = ["# langid accuracy on the UDHR", "",
            "`python bench/langid_accuracy.py`: the UDHR's translations, scored on the languages each model "
            "knows (lid.176 names Wikipedia, Tatoeba and SETimes as its training data; we know of no use of the "
            "UDHR in either model's training, but have not verified Lingua's). Sentences: spaCy's example "
            "sentences (`spacy/lang/*/examples.py`, MIT), single sentences written or translated for its "
            "documentation, many of them news headlines; some are quoted from Wikipedia, which lid.176 was "
            "trained on.", ""]
    names, below = list(variants), []
    for title, labels in label_sets.items():
        docs, snips = load(udhr, labels, args.snippets)
        sentences = spacy_sentences(labels)
        text += [f"## {len({g for g, _ in docs})} languages {title}", "",
                 "| texts | n | " + " | ".join(variants) + " | confusable groups (correct per variant / n) |",
                 "|---|---:|" + "---:|" * len(variants) + "---|"]
        sets = [("whole declarations", docs), ("snippets (20-300 chars)", snips)]
        if sentences:
            sets.append((f"spaCy's example sentences ({len({g for g, _ in sentences})} languages)", sentences))
        for name, items in sets:
            results = {v: score(st, items) for v, st in stages.items()}
            groups = "; ".join(f"{g} " + "→".join(str(results[v][1][g][0]) for v in variants) +
                               f"/{results['lid.176 top label'][1][g][1]}" for g in results["lid.176 top label"][1])
            text.append(f"| {name} | {len(items):,} | " + " | ".join(f"{100 * results[v][0]:.1f} %" for v in variants)
                        + f" | {groups} |")
            weak = sorted((r / n, g, r, n) for g, (r, n) in results[names[-1]][2].items() if r / n < 0.5)
            below.append(f"- {title}, {name}: " + (", ".join(f"{g} {r}/{n}" for _, g, r, n in weak) or "none"))
        text.append("")
    docs, _ = load(udhr, set(stage.lingua_codes), 0)
    mixed = mixed_documents(docs)
    head_only = Langid(LangidConfig())
    head_only.setup()
    head_only._mixed = lambda *args: set()  # Lingua's answer on the head always stands
    head = lambda texts: pc.utf8_slice_codeunits(texts, 0, langid.SCRIPT_SAMPLE)  # noqa: E731
    with mock.patch.object(langid, "script_sample", head):  # the script check read the head too
        before = score(head_only, mixed)[0]
    results = {"lid.176 top label": score(stages["lid.176 top label"], mixed)[0],
               "the stage before (script and Lingua read the head)": before,
               "script sampled across the text, Lingua's head answer standing": score(head_only, mixed)[0],
               "the stage (+ head and rest compared)": score(stage, mixed)[0]}
    text += ["## Mixed documents: a head in one language above a longer body in another", "",
             f"{len(mixed)} texts built from the declarations of Lingua's languages: ~700 characters of one above "
             "~3,000 of another (not a neighbour), gold the body's language. The script check samples "
             f"{langid.SCRIPT_PARTS} pieces of {langid.SCRIPT_SAMPLE // langid.SCRIPT_PARTS} bytes spread over the text "
             "(it read the first 500 characters); Lingua reads the first 600 characters, and where lid.176 reads the head and the rest as "
             "languages that are not neighbours (and its head agrees with Lingua, or it is at least half sure of "
             "the rest), lid.176's answer on the whole text stands. Both were chosen looking at this set (ten "
             "pieces, not five or twenty; the second among four rules): a tuning figure.", "",
             "| texts | n | " + " | ".join(results) + " |", "|---|---:|" + "---:|" * len(results),
             f"| mixed documents | {len(mixed)} | " + " | ".join(f"{100 * v:.1f} %" for v in results.values()) + " |",
             ""]
    text += ["Languages the stage gets right in under half their texts:", "", *below, ""]
    if HANDBOOK.is_file():
        items = handbook_sentences()
        results = {v: score(st, items) for v, st in stages.items()}
        per = results[names[-1]][2]
        text += ["## Sentences of a translated web manual", "",
                 f"{len(items):,} sentences of 30-250 characters from the running text of the Debian Administrator's "
                 f"Handbook's HTML in {len(per)} languages (../shared/data/web-html; `handbook_sentences`): web "
                 "documentation, a source neither model names and nothing here was tuned on. Gold is the edition's "
                 "language; sentences found verbatim in the English edition, with a fifth or more English function "
                 "words, or under 60 % letters are left out, but some editions (da, el, hr, ko, ro) are mostly "
                 "untranslated strings that have since changed in English, so some of their sentences are still "
                 "English: 100 % is not the ceiling.", "",
                 "| texts | n | " + " | ".join(variants) + " |", "|---|---:|" + "---:|" * len(variants),
                 f"| handbook sentences | {len(items):,} | " + " | ".join(f"{100 * results[v][0]:.1f} %" for v in variants)
                 + " |", "",
                 "Per language, the stage / lid.176's top label / n: " + ", ".join(
                     f"{g} {r}/{results[names[0]][2][g][0]}/{n}" for g, (r, n) in sorted(per.items())) + ".", ""]
    likelier = Langid(LangidConfig(bosnian_from=0.5))
    likelier.setup()
    with_likelier = {**stages, LIKELIER: likelier}
    items = gettext_sentences()
    if items:
        rows = per_language_rows(with_likelier, items)
        text += ["## Sentences of software translations: the close varieties", "",
                 f"{len(items):,} messages of 5 words or more from the gettext catalogues installed under "
                 f"{LOCALES} (program messages translated by volunteers; `gettext_sentences`, up to 300 a "
                 "language), in the varieties the spelling dictionaries tell apart. Gold is the catalogue's "
                 "language; Serbian is its Latin catalogue (`sr@latin`). Nothing was tuned on them but the "
                 "margin (one word more than the models' answer), picked after reading these figures "
                 "beside the UDHR's. Last column: Bosnian only where Lingua's full bs/hr models find it the "
                 "likelier of the two (`bosnian_from: 0.5`, the default before 0.4).", "", *per_language_table(rows, lambda r, n: f"{100 * r / n:.1f} %")]
        totals = [sum(r for r, _ in x.values()) for x in rows.values()]
        text += [f"| all | {len(items):,} | " + " | ".join(f"{100 * t / len(items):.1f} %" for t in totals) + " |", ""]
    items = gettext_sentences(100, {{"no": "nb"}.get(c, c): c for c in sorted(set(stage.lingua_codes))})
    if items:
        rows = per_language_rows(stages, items, [LABELLED_COLUMNS[0], LABELLED_COLUMNS[1], LABELLED_COLUMNS[3]])
        totals = [sum(r for r, _ in x.values()) for x in rows.values()]
        text += ["## Sentences of software translations: Lingua's languages", "",
                 f"{len(items):,} messages (up to 100 a language, as above) in the {len(rows['the stage'])} of Lingua's "
                 "75 languages the machine has catalogues for: a source neither model names, nothing tuned on "
                 "it. Many messages mix program identifiers and English terms into the translation "
                 "(\"PangoVariant के रूप में फंट चर ...\", \"gsettings [--schemadir SCHEMADIR]\"), so languages in other scripts "
                 "lose some to the script check, which reads the Latin letters as the text's script.", "",
                 "| texts | n | " + " | ".join(rows) + " |", "|---|---:|" + "---:|" * len(rows),
                 f"| all | {len(items):,} | " + " | ".join(f"{100 * t / len(items):.1f} %" for t in totals) + " |", "",
                 "Per language, the stage / lid.176's top label / n (worst first): " + ", ".join(
                     f"{g} {r}/{rows['lid.176 top label'][g][0]}/{n}" for g, (r, n) in
                     sorted(rows["the stage"].items(), key=lambda kv: (kv[1][0] / kv[1][1], kv[0]))) + ".", ""]
    for path in map(Path, args.dslcc):
        items = dslcc_sentences(path)
        rows = per_language_rows(with_likelier, items)
        text += [f"## News sentences of the close varieties: {path.name}", "",
                 f"{len(items):,} lines of {path.name} (`--dslcc`, `dslcc_sentences`): sentences of news sites in the DSL "
                 "Corpus Collection's format, gold the country of the site (Bosnian sites republish Croatian and "
                 "Serbian copy, so 100 % is not the ceiling; README \"Language identification\" says which lines were "
                 "read while choosing). Last column: `bosnian_from: 0.5`, as above.", "",
                 *per_language_table(rows, lambda r, n: f"{r}/{n} ({100 * r / n:.0f} %)"), ""]
        evidence = bosnian_evidence(stages["the stage (+ spelling dictionaries)"], items)
        if evidence:
            text += ["Bosnian lines by what the spelling vote sees, the stage's answers right: " + ", ".join(
                f"Bosnian {seen} Croatian {n} ({right} right)" for seen, (n, right) in sorted(evidence.items()))
                + " (tied: the models' answer stands).", ""]
    for path in map(Path, args.sentences):
        items = labelled_sentences(path)
        bosnian_or_croatian = not {"bs", "hr"}.isdisjoint(g for g, _ in items)
        rows = per_language_rows(with_likelier, items,
                                 LABELLED_COLUMNS + [(LIKELIER, LIKELIER)] * bosnian_or_croatian)
        text += [f"## Labelled sentences: {path.name}", "",
                 f"{len(items):,} lines of {path.name} (`--sentences`, `labelled_sentences`; README \"Language "
                 "identification\" says where they come from and which were read while choosing)."
                 + " Last column: `bosnian_from: 0.5`, as above." * bosnian_or_croatian, "",
                 *per_language_table(rows, lambda r, n: f"{r}/{n} ({100 * r / n:.0f} %)"), ""]
    books = REPO.parent / "shared/data/reference-prose/gutenberg-en/texts"
    sentences = book_sentences(books) if books.is_dir() else []
    if sentences:
        batch = pa.array(sentences)
        english = {}
        for name in ("with script check", "Lingua's top answer standing (the rule before)", names[-1]):
            lang, p = stages[name].predict(batch)
            english[name] = (sum(l == "en" for l in lang), sum(l == "en" and q >= 0.65 for l, q in zip(lang, p)))
        text += ["## Sentences of English books", "",
                 f"{len(sentences):,} sentences of 20-200 characters from the {len(list(books.glob('*.txt')))} Gutenberg "
                 "books of ../shared/data/reference-prose (English prose; a few quote French or Latin, so 100 % is not "
                 "the ceiling): how many the stage reads as English, and as English at 0.65 or more (the filter "
                 "chain's cut-off).", "", "| | " + " | ".join(english) + " |", "|---|" + "---:|" * len(english),
                 "| read as English | " + " | ".join(f"{100 * a / len(sentences):.2f} %" for a, _ in english.values()) + " |",
                 "| English, score >= 0.65 | " + " | ".join(f"{100 * b / len(sentences):.2f} %" for _, b in english.values())
                 + " |", ""]
    (REPO / "bench/LANGID.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
