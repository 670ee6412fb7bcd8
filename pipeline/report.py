"""What a person reads after a run: the funnel, the final shards, score distributions, and
samples of what each stage rejected and why. `curate stats DIR [--json] [--html FILE]`.

The HTML page is one self-contained file: inline SVG charts, no scripts, no network.
"""
from __future__ import annotations

import html
import json

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.manifest import read_success
from pipeline.parts import part_source, read_schema, read_table
from pipeline.stats import StageStats, format_table
from pipeline.storage import Loc

# Score columns summarised wherever a stage wrote them (Dolma-style: scores kept on every row);
# so are count columns (`pii_*`, `*_count`).
SCORE_COLUMNS = ("language_score", "quality_score", "perplexity", "oov_share", "toxicity_score", "dup_cluster_size", "repeats")
SAMPLES_PER_REASON = 3
EXCERPT = 400


def _summary(values: np.ndarray, log: bool = False) -> dict:
    """Mean and percentiles; a 20-bin histogram, on log10 bins for heavy-tailed columns."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {}
    if log:
        hist, edges = np.histogram(np.log10(np.maximum(values, 1)), bins=20)
        edges = 10 ** edges
    else:
        hist, edges = np.histogram(values, bins=20)
    return {"n": int(len(values)), "mean": float(values.mean()), "p10": float(np.percentile(values, 10)),
            "p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
            "min": float(values.min()), "max": float(values.max()),
            "hist": hist.tolist(), "edges": [float(e) for e in edges], "log_bins": log}


def _column_values(files: dict[Loc, set[str]], column: str) -> np.ndarray | None:
    """Values of `column` over the files (with their column names) that have it, as floats."""
    chunks = []
    for f, names in files.items():
        if column == "length":
            t = read_table(f, columns=["text"])
            chunks.append(pc.utf8_length(t.column("text")).to_numpy(zero_copy_only=False).astype(float))
        elif column in names:
            col = read_table(f, columns=[column]).column(column)
            if column == "pii_counts":  # JSON objects entity -> count: the spans per document
                col = pa.array([sum(orjson.loads(v).values()) if v else 0 for v in col.to_pylist()], pa.float64())
            elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                continue  # a text column that happens to match a name pattern: nothing to plot
            chunks.append(np.asarray(pc.cast(col, "float64").to_numpy(zero_copy_only=False), dtype=float))
    return np.concatenate(chunks) if chunks else None


def collect(out: "str | Loc", stages: list[tuple[str, StageStats]]) -> dict:
    """Everything the report shows, as plain data (this is also `--json`)."""
    out = Loc(out)
    data: dict = {"output": str(out), "stages": {name: s.to_json() for name, s in stages}}
    last = out / stages[-1][0]
    final = (last / "shards").glob("train-*.parquet") or (last / "kept").glob("*.parquet")
    data["final"] = {"from": final[0].parent.relative_to(out) if final else None, "columns": {}}
    if not final:  # `read` alone, its input files listed in place
        kept = (read_success(last) or {}).get("files", {}).get("kept", [])
        final = [part_source(last, f) for f in kept if f.get("in_place")]
        data["final"]["from"] = "input files, read in place" if final else None
    schemas = {f: set(read_schema(f).names) for f in final}
    names = set().union(*schemas.values())
    counts = sorted(n for n in names if n.startswith("pii_") or n.endswith("_count"))
    for column in ("length", *SCORE_COLUMNS, *counts):
        values = _column_values(schemas, column)
        if values is not None and len(values):
            data["final"]["columns"][column] = _summary(values, log=column in ("length", "perplexity"))
    manifests = out.glob("*/manifest.json")
    if manifests:
        m = json.loads(manifests[-1].read_text())
        data["mixture"] = {k: m[k] for k in ("tokens_are", "planned_train_tokens", "warnings", "proportions", "totals", "shards")}
    samples: dict[str, dict[str, list]] = {}
    for name, s in stages:
        for f in (out / name / "rejected").glob("*.parquet"):
            t = read_table(f, columns=["id", "text", "reject_reason"]).to_pylist()
            for r in t:
                bucket = samples.setdefault(name, {}).setdefault(r["reject_reason"], [])
                if len(bucket) < SAMPLES_PER_REASON and r["text"] is not None:  # None: dropped (retention)
                    text = r["text"] or ""
                    bucket.append({"id": r["id"], "excerpt": text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")})
            if all(len(v) >= SAMPLES_PER_REASON for v in samples.get(name, {}).values()) and \
                    set(samples.get(name, {})) >= set(s.rejected):
                break
    data["rejected_samples"] = samples
    curves = out.glob("*/train_curves.svg")
    if curves:  # `make train` wrote its loss curves under this run (OUT/lm by default)
        data["training"] = {"plot": curves[0].relative_to(out),
                            "log": curves[0].with_name("train_log.jsonl").relative_to(out)}
    if (out.parent / "ablate" / "RESULTS.md").is_file():  # `make ablate` next to this run: does curation pay?
        data["ablation"] = {"results": "../ablate/RESULTS.md", "plot": "../ablate/ablation.svg"}
    return data


def format_text(data: dict, stages: list[tuple[str, StageStats]]) -> str:
    out = [format_table(stages)]
    mix = data.get("mixture")
    if mix:
        out += ["", f"final shards (tokens {mix['tokens_are']}):"]
        for s in mix["shards"]:
            out.append(f"  {s['path']:<32} {s['rows']:>9,} docs {s['tokens']:>12,} tokens {s['bytes'] / 1e6:>9.2f} MB")
        for axis, p in mix["proportions"].items():
            if len(p["achieved"]) > 1 or p["requested"]:
                parts = [f"{v} {100 * a:.1f} %" + (f" (asked {100 * p['requested'][v]:.1f} %)" if v in p["requested"] else "")
                         for v, a in p["achieved"].items()]
                out.append(f"  by {axis}: " + ", ".join(parts))
        for w in mix["warnings"]:
            out.append(f"  warning: {w}")
    cols = data["final"]["columns"]
    if cols:
        out += ["", f"final documents ({data['final']['from']}):"]
        out.append(f"  {'column':<18} {'mean':>12} {'p10':>12} {'p50':>12} {'p90':>12}")
        for name, s in cols.items():
            out.append(f"  {name:<18} {s['mean']:>12,.2f} {s['p10']:>12,.2f} {s['p50']:>12,.2f} {s['p90']:>12,.2f}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------- HTML
def _bars(rows: list[tuple[str, list[tuple[float, str]]]], width: int = 640, title: str = "",
          unit: str = "") -> str:
    """Horizontal stacked bars: rows of (label, [(value, colour), ...])."""
    top = max((sum(v for v, _ in segs) for _, segs in rows), default=1) or 1
    h = 26 * len(rows) + 30
    parts = [f'<svg width="{width + 220}" height="{h}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, segs) in enumerate(rows):
        y = 10 + 26 * i
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label)}</text>')
        x = 160.0
        for value, colour in segs:
            w = width * value / top
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="20" fill="{colour}"/>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12">'
                     f'{html.escape(" / ".join((f"{v:,.0f}" if v >= 10 else f"{v:.3g}") + unit for v, _ in segs))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram(summary: dict, name: str) -> str:
    hist, edges = summary["hist"], summary["edges"]
    top = max(hist) or 1
    w, h = 420, 140
    bw = w / len(hist)
    parts = [f'<svg width="{w + 20}" height="{h + 40}" role="img" aria-label="histogram of {html.escape(name)}">']
    for i, c in enumerate(hist):
        bh = h * c / top
        parts.append(f'<rect x="{10 + i * bw:.1f}" y="{10 + h - bh:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" fill="#4c78a8">'
                     f'<title>{edges[i]:,.3g}–{edges[i + 1]:,.3g}: {c:,}</title></rect>')
    scale = " (log scale)" if summary.get("log_bins") else ""
    parts.append(f'<text x="10" y="{h + 28}" font-size="11">{edges[0]:,.3g}{scale}</text>')
    parts.append(f'<text x="{w - 40}" y="{h + 28}" font-size="11">{edges[-1]:,.3g}</text></svg>')
    return "".join(parts)


def render_html(data: dict) -> str:
    e = html.escape
    stages = data["stages"]
    body = [f"<h1>curate report: {e(data['output'])}</h1>"]
    if "ablation" in data:
        a = data["ablation"]
        body.append(f"<p>Does the curation pay? <a href='{e(a['results'])}'>ablation results</a> "
                    f"(<a href='{e(a['plot'])}'>plot</a>): the same model trained on raw, curated and "
                    "leave-one-stage-out data.</p>")
    if "training" in data:
        tr = data["training"]
        body.append(f"<p>The model trained on these shards: <a href='{e(tr['plot'])}'>training curves</a> "
                    f"(train and val loss; their gap is overfitting) and <a href='{e(tr['log'])}'>the log</a>.</p>")
    body += ["<h2>Funnel</h2>",
            "<p>Documents into each stage: kept (green) and rejected (red).</p>",
            _bars([(n, [(s["kept"], "#54a24b"), (s["rejected_total"], "#e45756")]) for n, s in stages.items()],
                  title="funnel"),
            "<table><tr><th>stage</th><th>in</th><th>kept</th><th>rejected by reason</th><th>MB in</th><th>seconds</th></tr>"]
    for n, s in stages.items():
        reasons = ", ".join(f"{e(r)} {c:,}" for r, c in s["rejected"].items()) or "–"
        body.append(f"<tr><td>{e(n)}</td><td>{s['in']:,}</td><td>{s['kept']:,}</td><td>{reasons}</td>"
                    f"<td>{s['bytes_in'] / 1e6:,.2f}</td><td>{s['seconds']:,.1f}</td></tr>")
    body.append("</table>")
    mix = data.get("mixture")
    if mix:
        body += ["<h2>Mixture: requested vs achieved</h2>",
                 f"<p>Training tokens: {mix['totals']['train']['tokens']:,} ({e(mix['tokens_are'])}); "
                 f"validation: {mix['totals']['val']['tokens']:,}. Grey: requested share, blue: achieved.</p>"]
        for axis, p in mix["proportions"].items():
            values = sorted(set(p["achieved"]) | set(p["requested"]))
            if len(values) < 2 and not p["requested"]:
                continue
            body.append(f"<h3>by {e(axis)}" + ("" if p["requested"] else " (not weighted: natural proportions)") + "</h3>")
            rows = []
            for v in values:
                if p["requested"]:
                    rows.append((f"{v} (asked)", [(100 * p["requested"].get(v, 0.0), "#bab0ac")]))
                rows.append((f"{v} (got)" if p["requested"] else v, [(100 * p["achieved"].get(v, 0.0), "#4c78a8")]))
            body.append(_bars(rows, width=400, title=f"mixture by {axis}", unit=" %"))
        if mix["warnings"]:
            body.append("<ul class='warn'>" + "".join(f"<li>{e(w)}</li>" for w in mix["warnings"]) + "</ul>")
        body.append("<table><tr><th>shard</th><th>docs</th><th>tokens</th><th>MB</th></tr>" + "".join(
            f"<tr><td>{e(s['path'])}</td><td>{s['rows']:,}</td><td>{s['tokens']:,}</td><td>{s['bytes'] / 1e6:.2f}</td></tr>"
            for s in mix["shards"]) + "</table>")
    cols = data["final"]["columns"]
    if cols:
        body.append(f"<h2>Final documents ({e(str(data['final']['from']))})</h2>")
        for name, s in cols.items():
            body.append(f"<h3>{e(name)}</h3><p>mean {s['mean']:,.3g} · p10 {s['p10']:,.3g} · p50 {s['p50']:,.3g} · "
                        f"p90 {s['p90']:,.3g} · n {s['n']:,}</p>{_histogram(s, name)}")
    body.append("<h2>What was rejected, and why</h2>")
    for stage, reasons in data["rejected_samples"].items():
        for reason, rows in reasons.items():
            body.append(f"<h3>{e(stage)}: {e(reason)}</h3>")
            for r in rows:
                body.append(f"<details><summary>{e(r['id'])}</summary><pre>{e(r['excerpt'])}</pre></details>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:6px}"
             ".warn{color:#b35c00}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>curate report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
