#!/usr/bin/env python3
"""Recall of the pii stage per entity type, and its speed with and without the prefilter.

    python bench/pii_eval.py [--generated 200] [--docs 0]
    python bench/pii_eval.py --ner [--ner-docs 400]    # names and places: writes bench/PII-NER.md

Labelled sets:
- `../shared/data/pii/nemo-curator/*.txt`: NeMo Curator's inline-tagged test lines (<email>,
  <phone_number>, <ssn>, <credit_card_number>, <ip_address>; addresses, names and birth dates
  are not among the pattern entities and are not scored). Skipped where absent.
- generated: `--generated` values per entity, valid by construction (Luhn card numbers, IBAN
  check digits, phone numbers valid for their region in national, international and E.164
  formats, SSNs with valid areas), placed in sentences with and without context words. Seeded;
  the same every run.
- faker, every locale: 300 values per entity from Faker (`faker_pattern_cases`) in other
  sentences: a tuning set (rules were written after reading Faker's values, another seed).
A gold span is found when a span of the same type covers it (one character of slack at each
end for brackets).

Clean text, for false positives: the Gutenberg books kept out of the perplexity reference (every
8th, from ../shared/data), and the sample's Python documentation, Debian handbook and Wikipedia
pages: none of it is the text the stage's number rules were written against (data/reference/).
A document counts as altered by a number entity when a PHONE_NUMBER, CREDIT_CARD, US_SSN or
IBAN_CODE span is placed in it; e-mail and IP addresses in such text are real ones (transcribers'
addresses, example networks) and are counted apart. Writes bench/PII.md.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("CURATE_SHARED", REPO.parent / "shared")) / "data/pii"

TAGS = {"email": "EMAIL_ADDRESS", "phone_number": "PHONE_NUMBER", "ssn": "US_SSN",
        "credit_card_number": "CREDIT_CARD", "ip_address": "IP_ADDRESS"}
Case = tuple[str, list[tuple[int, int, str]]]  # text, gold spans (start, end, entity)


def nemo_cases(root: Path = SHARED / "nemo-curator", tags: dict[str, str] = TAGS) -> list[Case]:
    """NeMo Curator's inline-tagged lines with a tag among `tags` (the others are left out)."""
    cases = []
    tag = re.compile(r"<(\w+)>(.*?)</\1>")
    for path in sorted(root.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text, gold, pos = "", [], 0
            for m in tag.finditer(line):
                text += line[pos:m.start()]
                start = len(text)
                text += m.group(2)
                if m.group(1) in tags:
                    gold.append((start, len(text), tags[m.group(1)]))
                pos = m.end()
            text += line[pos:]
            if gold:
                cases.append((text, gold))
    return cases


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _values(entity: str, k: int, rng: random.Random) -> list[tuple[str, bool]]:
    """(value, wants context) pairs: about a third are placed without any context word."""
    out = []
    if entity == "EMAIL_ADDRESS":
        locals_ = ["john.doe", "j.smith+news", "maria_garcia", "info", "k.nakamura", "dev-team", "a.b.c", "Zoe.Miller"]
        hosts = ["example.com", "mail.uni-heidelberg.de", "gmail.com", "company.co.uk", "startup.io",
                 "posteo.net", "studio.berlin", "gov.in", "orange.fr", "lists.debian.org"]
        out = [(f"{rng.choice(locals_)}{rng.randrange(100)}@{rng.choice(hosts)}", False) for _ in range(k)]
    elif entity == "PHONE_NUMBER":
        import phonenumbers as pn
        from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T

        regions = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "IN", "AU", "CA", "BR", "JP", "IE", "CH", "SE"]
        fmts = [F.INTERNATIONAL, F.NATIONAL, F.E164]
        while len(out) < k:
            region = rng.choice(regions)
            ex = pn.example_number_for_type(region, rng.choice([T.FIXED_LINE, T.MOBILE]))
            if ex is None:
                continue
            digits = str(ex.national_number)
            num = pn.parse(digits[:-4] + f"{rng.randrange(10000):04d}", region)
            if not pn.is_valid_number(num):
                continue
            fmt = rng.choice(fmts)
            if region == "US" and rng.random() < 0.4:
                d = str(num.national_number)
                out.append((rng.choice([f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}",
                                        f"{d[:3]}-{d[3:6]}-{d[6:]}"]), True))
            else:
                out.append((pn.format_number(num, fmt), fmt == F.NATIONAL))
    elif entity == "IP_ADDRESS":
        for _ in range(k):
            if rng.random() < 0.7:
                out.append((".".join(str(rng.randrange(1, 255)) for _ in range(4)), False))
            else:
                groups = [f"{rng.randrange(65536):x}" for _ in range(8)]
                out.append((":".join(groups) if rng.random() < 0.5 else f"2001:db8:{groups[2]}::{groups[7]}", False))
    elif entity == "CREDIT_CARD":
        for _ in range(k):
            kind = rng.choice(["visa", "mc", "amex", "discover"])
            num = {"visa": lambda: _luhn_complete("4", 16, rng), "mc": lambda: _luhn_complete("5" + str(rng.randrange(1, 6)), 16, rng),
                   "amex": lambda: _luhn_complete(rng.choice(["34", "37"]), 15, rng),
                   "discover": lambda: _luhn_complete("6011", 16, rng)}[kind]()
            sep = rng.choice(["", " ", "-"])
            groups = [num[:4], num[4:10], num[10:]] if kind == "amex" else [num[i:i + 4] for i in range(0, 16, 4)]
            out.append((sep.join(groups), False))
    elif entity == "IBAN_CODE":
        for _ in range(k):
            country, n = rng.choice([("DE", 18), ("FR", 23), ("ES", 20), ("IT", 23), ("NL", 14), ("BE", 12),
                                     ("CH", 17), ("PL", 24), ("GB", 18)])
            if country == "GB":
                bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + \
                    "".join(rng.choice("0123456789") for _ in range(14))
            elif country == "NL":
                bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + \
                    "".join(rng.choice("0123456789") for _ in range(10))
            elif country == "IT":
                bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(22))
            else:
                bban = "".join(rng.choice("0123456789") for _ in range(n))
            iban = _iban(country, bban)
            spaced = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
            out.append((spaced if rng.random() < 0.5 else iban, False))
    elif entity == "US_SSN":
        for _ in range(k):
            area = rng.choice([a for a in range(1, 900) if a != 666])
            s = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
            style = rng.randrange(3)
            out.append(({0: f"{s[:3]}-{s[3:5]}-{s[5:]}", 1: f"{s[:3]} {s[3:5]} {s[5:]}", 2: s}[style], style == 2))
    return out


TEMPLATES = {
    "EMAIL_ADDRESS": (["Write to me at {} if you have questions.", "Contact email: {}"],
                      ["Thanks to {} for the patch.", "Reported by {} on the list."]),
    "PHONE_NUMBER": (["You can call me at {} after six.", "Phone: {} (office hours only)", "Tel. {}"],
                     ["The shop on Main Street, {}, opens at nine.", "Bookings: {}"]),
    "IP_ADDRESS": (["The server's IP address is {} since Monday."], ["inet {} netmask", "ping {} returned nothing"]),
    "CREDIT_CARD": (["My credit card number is {} and it expires 09/27."], ["Charged {} for the order.", "{}"]),
    "IBAN_CODE": (["Please wire the deposit to IBAN {} by Friday."], ["Payee: Studio Nord, {}.", "Konto {}"]),
    "US_SSN": (["My SSN is {}, please keep it safe.", "Social security number {} on file."],
               ["Applicant {} was approved.", "ID {} verified."]),
}


def generated_cases(per_entity: int = 200, seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for entity, (with_ctx, without_ctx) in TEMPLATES.items():
        for i, (value, needs_context) in enumerate(_values(entity, per_entity, rng)):
            pool = with_ctx if needs_context or i % 3 else without_ctx
            template = rng.choice(pool)
            start = template.index("{}")
            text = template.format(value)
            cases.append((text, [(start, start + len(value), entity)]))
    return cases


# Faker's values in other sentences than TEMPLATES': a message, a form line, the value first
FAKER_TEMPLATES = {
    "EMAIL_ADDRESS": ["pls email {} asap", "{} wrote back yesterday", "New address: {}"],
    "PHONE_NUMBER": ["Please call me at {} tomorrow.", "{} is my cell", "Reach the office on {} after 5pm.",
                     "You can text {} anytime", "Contact: {}", "My number is {}."],
    "IP_ADDRESS": ["Login from {} detected", "The server at {} is down.", "blocked {} again"],
    "CREDIT_CARD": ["I paid with {} yesterday.", "card: {}", "My card number is {}."],
    "IBAN_CODE": ["Wire the money to IBAN {}.", "my iban is {}", "Account {}"],
    "US_SSN": ["My SSN is {}.", "social security number {}", "SSN: {}"],
}


def faker_pattern_cases(per_entity: int = 300, seed: int = 11) -> list[Case]:
    """Faker's values (the dev dependency pyproject.toml pins): phone numbers and e-mail addresses
    of each of its locales, its card numbers of every network, its IBANs of each locale's bank
    provider (some are of countries without IBANs, or another length than the country's), its US
    SSNs and IPv4 addresses; a value a locale lacks is skipped."""
    import warnings

    from faker import Faker
    from faker.config import AVAILABLE_LOCALES

    warnings.filterwarnings("ignore")  # deprecated locales, "numbers are purely hypothetical"
    rng = random.Random(seed)
    fakers = []
    for locale in sorted(AVAILABLE_LOCALES):
        f = Faker(locale)
        f.seed_instance(seed)
        fakers.append(f)
    us = Faker("en_US")
    us.seed_instance(seed)
    draw = {"PHONE_NUMBER": lambda: rng.choice(fakers).phone_number(), "EMAIL_ADDRESS": lambda: rng.choice(fakers).email(),
            "IBAN_CODE": lambda: rng.choice(fakers).iban(), "CREDIT_CARD": us.credit_card_number, "US_SSN": us.ssn,
            "IP_ADDRESS": lambda: us.ipv4_private() if rng.random() < 0.3 else us.ipv4_public()}
    cases = []
    for entity, templates in FAKER_TEMPLATES.items():
        while sum(g[0][2] == entity for _, g in cases) < per_entity:
            try:
                value = draw[entity]()
            except AttributeError:
                continue  # a locale without this provider
            template = rng.choice(templates)
            start = template.index("{}")
            cases.append((template.format(value), [(start, start + len(value), entity)]))
    return cases


class PresidioDefaults:
    """presidio's predefined recognizers as shipped (8 phone regions, no context), for comparison."""

    def __init__(self, entities: list[str]) -> None:
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
        self.engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
        self.entities = entities

    def find(self, text: str) -> list[tuple[int, int, str, float]]:
        return [(r.start, r.end, r.entity_type, r.score)
                for r in self.engine.analyze(text, language="en", entities=self.entities, score_threshold=0.4)]


def recall(stage, cases: list[Case]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for text, gold in cases:
        spans = stage.find(text)
        for gs, ge, entity in gold:
            hit = any(e == entity and s <= gs + 1 and t >= ge - 1 for s, t, e, _ in spans)
            found, total = out.get(entity, (0, 0))
            out[entity] = (found + hit, total + 1)
    return out


def precision(cases: list[Case], found_spans: list[list]) -> dict[str, tuple[int, int]]:
    """Per entity: (spans found that overlap a labelled span of that entity, spans found), from
    `found_spans`, the stage's spans of each case. Every value in these sets is labelled, so a
    span over anything else is a false positive."""
    out: dict[str, tuple[int, int]] = {}
    for (_, gold), spans in zip(cases, found_spans):
        for s, t, e, _ in spans:
            right = any(e == entity and s < ge and t > gs for gs, ge, entity in gold)
            correct, found = out.get(e, (0, 0))
            out[e] = (correct + right, found + 1)
    return out


def main() -> int:
    from stages.pii import Pii, PiiConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", type=int, default=200)
    ap.add_argument("--docs", type=int, default=0, help="documents of the benchmark corpus timed (0: all)")
    ap.add_argument("--ner", action="store_true", help="evaluate the NER mode (PERSON, LOCATION) instead")
    ap.add_argument("--ner-docs", type=int, default=400, help="benchmark-corpus documents the NER mode is timed on")
    args = ap.parse_args()
    if args.ner:
        (REPO / "bench/PII-NER.md").write_text("\n".join(ner_report(args.ner_docs)) + "\n")
        return 0
    stage = Pii(PiiConfig())
    stage.setup()
    sets = {"generated": generated_cases(args.generated), "faker, every locale": faker_pattern_cases()}
    if SHARED.is_dir():
        sets["nemo-curator (../shared/data/pii)"] = nemo_cases()
    lines = ["# PII recall and precision per entity", "", f"`python bench/pii_eval.py --generated {args.generated}`; "
             "pattern recognizers on NoOpNlpEngine, default `pii` config.", "",
             "| set | entity | found / labelled | recall |", "|---|---|---|---|"]
    baseline = PresidioDefaults(stage.config.entities)
    lines[-2:] = ["| set | entity | found / labelled | recall | precision | F1 | presidio defaults: recall |",
                  "|---|---|---|---|---|---|---|"]
    for name, cases in sets.items():
        base = recall(baseline, cases)
        exact = precision(cases, [stage.find(text) for text, _ in cases])
        for entity, (found, total) in sorted(recall(stage, cases).items()):
            b = base.get(entity, (0, total))[0] / total
            correct, spans = exact.get(entity, (0, 0))
            r, p = found / total, correct / max(spans, 1)
            f1 = 2 * p * r / max(p + r, 1e-9)
            lines.append(f"| {name} | {entity} | {found} / {total} | {r:.3f} | {p:.3f} ({correct} / {spans}) | "
                         f"{f1:.3f} | {b:.3f} |")
            print(f"{name:40s} {entity:14s} {found:4d}/{total:<4d} R {r:.3f} P {p:.3f} F1 {f1:.3f}  "
                  f"presidio defaults {b:.3f}")
    lines += ["", "The faker set is a tuning set: shapes were added after reading Faker's values (another seed)."]
    lines += clean_text(stage)
    lines += speed(stage, args.docs)
    (REPO / "bench/PII.md").write_text("\n".join(lines) + "\n")
    return 0


NUMBER_ENTITIES = ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE")


def clean_sets() -> dict[str, list[str]]:
    import json

    import pyarrow as pa

    from pipeline.html import extract_main_text
    from scripts.build_reference import books, chunks, gutenberg

    sample = REPO / "data/sample/corpus"
    sets: dict[str, list[str]] = {}
    data = SHARED.parent
    if (data / "reference-prose/gutenberg-en").is_dir():
        rng = random.Random(5)
        sets["Gutenberg books kept out of the reference (17, whole)"] = [
            c for path in books(data)[1] for c in chunks(gutenberg(path), rng)]
    for name, folder in (("Python documentation (sample pages)", sample / "pydoc"),
                         ("Debian handbook, English (sample pages)", sample / "handbook-html/en-US")):
        sets[name] = [extract_main_text(p.read_text(encoding="utf-8", errors="replace"), "trafilatura")
                      for p in sorted(folder.glob("*.html"))]
    raw = pa.input_stream(str(sample / "wiki/wikitext.jsonl")).read().decode()
    sets["Wikipedia (sample WikiText-2 articles)"] = [json.loads(line)["text"] for line in raw.splitlines()]
    return sets


def clean_text(stage) -> list[str]:
    """Documents of clean text the stage alters, by kind of span; the number spans themselves."""
    lines = ["", "False positives on clean text (none of it what the number rules were written against):", "",
             "| text | documents | altered by a number entity | by an e-mail address | by an IP address |",
             "|---|---:|---:|---:|---:|"]
    shown = []
    total = numbered = 0
    for name, texts in clean_sets().items():
        by = {"number": 0, "EMAIL_ADDRESS": 0, "IP_ADDRESS": 0}
        for text in texts:
            spans = stage.find(text)
            kinds = {e for _, _, e, _ in spans}
            by["number"] += bool(kinds & set(NUMBER_ENTITIES))
            by["EMAIL_ADDRESS"] += "EMAIL_ADDRESS" in kinds
            by["IP_ADDRESS"] += "IP_ADDRESS" in kinds
            shown += [f"{e}: `{text[max(0, a - 25):a]}[{text[a:b]}]{text[b:b + 15]}`".replace("\n", " ")
                      for a, b, e, _ in spans if e in NUMBER_ENTITIES]
        total += len(texts)
        numbered += by["number"]
        lines.append(f"| {name} | {len(texts):,} | {by['number']} ({100 * by['number'] / max(len(texts), 1):.1f} %) | "
                     f"{by['EMAIL_ADDRESS']} | {by['IP_ADDRESS']} |")
        print(f"clean text {name}: {len(texts)} documents, {by}")
    lines += ["", f"In all {numbered} of {total:,} documents ({100 * numbered / max(total, 1):.2f} %) get a number "
              "placeholder" + (": " if shown else "."), *[f"- {x}" for x in shown[:30]]]
    return lines


def speed(stage, n_docs: int) -> list[str]:
    """docs/s and MB/s per core of the stage (prefilter + windows) against presidio on whole texts."""
    import resource

    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus = sorted((REPO / "bench/corpus/parquet").glob("*.parquet"))
    if not corpus:
        print("speed: bench/corpus absent (python bench/bench_io.py builds it); skipped")
        return []
    table = pa.concat_tables(pq.read_table(p, columns=["text"]) for p in corpus)
    if n_docs:
        table = table.slice(0, n_docs)
    table = pa.table({"id": [str(i) for i in range(table.num_rows)], "text": table.column("text")})
    mb = sum(len(t.encode()) for t in table.column("text").to_pylist()) / 1e6
    t0 = time.perf_counter()
    decisions = [stage.process(table.slice(i, 512)) for i in range(0, table.num_rows, 512)]
    ours = time.perf_counter() - t0
    reached = sum(int(pa.compute.sum(pa.compute.not_equal(d.table.column("pii_counts"), "{}")).as_py() or 0)
                  for d in decisions)
    from stages.pii import CANDIDATE
    cand = int(pa.compute.sum(pa.compute.match_substring_regex(table.column("text"), CANDIDATE)).as_py())
    sub = table.column("text").to_pylist()[::max(1, table.num_rows // 300)]
    t0 = time.perf_counter()
    for text in sub:
        stage.analyzer.analyze(text, language="en", entities=stage.config.entities,
                               score_threshold=stage.config.score_threshold)
    raw = (time.perf_counter() - t0) / len(sub) * table.num_rows
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"speed: {table.num_rows} docs ({mb:.1f} MB): pii stage {table.num_rows / ours:,.0f} docs/s "
          f"({mb / ours:.2f} MB/s) per core; presidio on whole texts {table.num_rows / raw:,.0f} docs/s; "
          f"{cand} docs have a candidate, {reached} get a placeholder; peak RSS {rss:.0f} MB")
    return ["", f"Speed, one core, {table.num_rows} documents ({mb:.1f} MB) of the benchmark corpus "
            "(`bench/corpus/parquet`, built by `bench/bench_io.py`):", "",
            "| what | docs/s/core | MB/s/core |", "|---|---|---|",
            f"| `pii` stage (Arrow prefilter, presidio on windows around candidates) | {table.num_rows / ours:,.0f} | {mb / ours:.2f} |",
            f"| presidio `analyze` on whole texts, same recognizers (timed on {len(sub)} documents) | "
            f"{table.num_rows / raw:,.0f} | {mb / raw:.2f} |", "",
            f"{cand} of {table.num_rows} documents hold a candidate and reach presidio; {reached} get a "
            f"placeholder. Peak RSS of the process: {rss:.0f} MB."]


NER_TAGS = {"name": "PERSON", "address": "LOCATION"}
FAKER_LOCALES = ["en_US", "en_GB", "en_AU", "en_CA", "en_IE", "en_NZ"]
NAME_TEMPLATES = ["I had lunch with {} yesterday.", "{} will present the results on Monday.",
                  "Please forward this to {} as soon as possible.", "Thanks, {}", "According to {}, the shop is closed."]
ADDRESS_TEMPLATES = ["Our new office is at {}.", "Ship the parcel to {}", "She grew up at {}, near the river.",
                     "Address: {}"]


def faker_cases(per_locale: int = 40, seed: int = 3) -> list[Case]:
    """Faker's names and street addresses (its own generators: names of each locale, street
    addresses with and without city lines), in sentences; seeded."""
    from faker import Faker

    rng = random.Random(seed)
    cases = []
    for locale in FAKER_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        for i in range(per_locale):
            name = fake.name()
            template = rng.choice(NAME_TEMPLATES)
            at = template.index("{}")
            cases.append((template.format(name), [(at, at + len(name), "PERSON")]))
            address = fake.street_address() if i % 2 else ", ".join(fake.address().splitlines())
            template = rng.choice(ADDRESS_TEMPLATES)
            at = template.index("{}")
            cases.append((template.format(address), [(at, at + len(address), "LOCATION")]))
    return cases


def coverage(cases: list[Case], found_spans: list[list]) -> dict[str, list[int]]:
    """Per entity: [fully removed, at least half removed, labelled], by the gold span's letters and
    digits covered by spans of its type (`found_spans`: the stage's spans of each case)."""
    out: dict[str, list[int]] = {}
    for (text, gold), spans in zip(cases, found_spans):
        for gs, ge, entity in gold:
            covered = {i for a, b, e, _ in spans if e == entity for i in range(a, b)}
            chars = [i for i in range(gs, ge) if text[i].isalnum()]
            share = sum(i in covered for i in chars) / max(len(chars), 1)
            row = out.setdefault(entity, [0, 0, 0])
            row[0] += share == 1
            row[1] += share >= 0.5
            row[2] += 1
    return out


def ner_report(n_docs: int) -> list[str]:
    from stages.pii import PATTERN_ENTITIES, Pii, PiiConfig, _street_addresses

    stage = Pii(PiiConfig(entities=[*PATTERN_ENTITIES, "PERSON", "LOCATION"]))
    t0 = time.perf_counter()
    stage.setup()
    load = time.perf_counter() - t0
    lines = ["# PII: names and places (NER mode)", "",
             f"`python bench/pii_eval.py --ner --ner-docs {n_docs}`: `pii` with `entities: [...the six pattern "
             f"entities..., PERSON, LOCATION]`, `ner_model: {stage.config.ner_model}` (spaCy en_core_web_sm 3.8.0), "
             "nothing tuned on these sets. A labelled span counts as removed when every letter and digit of it is "
             "inside spans of its type; 'half' when at least half are.", "",
             "| set | entity | removed whole | at least half | labelled | precision: spans over a labelled one |",
             "|---|---|---:|---:|---:|---:|"]
    sets = {"faker, 6 English locales (generated)": faker_cases()}
    if SHARED.is_dir():
        sets = {"nemo-curator (../shared/data/pii)": nemo_cases(tags=NER_TAGS), **sets}
    for name, cases in sets.items():
        found = [stage.find(text) for text, _ in cases]  # NER is the slow part: once per case
        exact = precision(cases, found)
        for entity, (whole, half, total) in sorted(coverage(cases, found).items()):
            correct, spans = exact.get(entity, (0, 0))
            lines.append(f"| {name} | {entity} | {whole} ({whole / total:.3f}) | {half} ({half / total:.3f}) | {total} | "
                         f"{correct / max(spans, 1):.3f} ({correct} / {spans}) |")
            print(lines[-1])
    lines += ["", "Clean text: documents that get a PERSON or LOCATION placeholder (names in novels and "
              "articles are names: the mode replaces them), and those where the street-address shape alone matched:", "",
              "| text | documents | with PERSON or LOCATION | with a street-address match |", "|---|---:|---:|---:|"]
    streets = []
    for name, texts in clean_sets().items():
        named = sum(bool({e for _, _, e, _ in stage.find(t)} & {"PERSON", "LOCATION"}) for t in texts)
        found = [(t, s) for t in texts for s in _street_addresses(t)]
        addressed = len({id(t) for t, _ in found})
        streets += [f"`{t[max(0, a - 25):a]}[{t[a:b]}]{t[b:b + 15]}`".replace("\n", " ") for t, (a, b, _, _) in found]
        lines.append(f"| {name} | {len(texts):,} | {named} ({100 * named / max(len(texts), 1):.1f} %) | {addressed} |")
        print(lines[-1])
    lines += ["", "Street-address matches in clean text:" if streets else "No street-address match in clean text.",
              *[f"- {x}" for x in streets[:30]]]
    corpus = sorted((REPO / "bench/corpus/parquet").glob("*.parquet"))
    if corpus:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(corpus[0], columns=["text"]).slice(0, n_docs)
        table = pa.table({"id": [str(i) for i in range(table.num_rows)], "text": table.column("text")})
        mb = sum(len(t.encode()) for t in table.column("text").to_pylist()) / 1e6
        patterns = Pii(PiiConfig())
        patterns.setup()
        timings = {}
        for label, s in (("patterns only (the default)", patterns), ("with PERSON and LOCATION", stage)):
            t0 = time.process_time()
            for i in range(0, table.num_rows, 128):
                s.process(table.slice(i, 128))
            timings[label] = time.process_time() - t0
        lines += ["", f"Speed, CPU seconds of one process on the first {table.num_rows} documents ({mb:.1f} MB) of the "
                  "benchmark corpus (`bench/corpus`; no `language` column, so NER reads every document):", "",
                  "| config | docs/s/core | MB/s/core |", "|---|---:|---:|",
                  *[f"| {k} | {table.num_rows / v:,.0f} | {mb / v:.3f} |" for k, v in timings.items()], "",
                  f"Loading the spaCy model: {load:.1f} s per worker."]
        print(lines[-5:])
    return lines


if __name__ == "__main__":
    sys.exit(main())
