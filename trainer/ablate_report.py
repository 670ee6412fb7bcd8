"""The ablation's table and plot: per variant, mean and standard deviation over seeds of the best
and the final validation loss and perplexity, and the difference from `curated`, called real only
where it exceeds two standard errors. Runs with the same seed share the model's initialisation,
the evaluation windows and each document's key in the draw, so the difference is taken seed by
seed (paired) and its standard error is that of the per-seed differences."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939"]


def mean_sd(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, sd


@dataclass
class Summary:
    """One variant over its seeds."""
    best: dict[int, float]      # seed -> lowest validation loss of the run
    final: dict[int, float]     # seed -> validation loss at the run's last step

    def stat(self, which: str) -> tuple[float, float]:
        return mean_sd(list(getattr(self, which).values()))

    def ppl(self, which: str) -> tuple[float, float]:
        return mean_sd([math.exp(x) for x in getattr(self, which).values()])


def summarise(logs: dict[int, list[dict]]) -> Summary:
    evals = {seed: [r["val_loss"] for r in log if "val_loss" in r] for seed, log in logs.items()}
    return Summary(best={s: min(v) for s, v in evals.items()}, final={s: v[-1] for s, v in evals.items()})


def difference(a: dict[int, float], b: dict[int, float]) -> tuple[float, float, bool]:
    """(mean over the seeds both have of a - b, its standard error, whether it exceeds two)."""
    d = [a[s] - b[s] for s in a if s in b]
    m, sd = mean_sd(d)
    if len(d) < 2:
        return m, float("nan"), False
    se = sd / math.sqrt(len(d))
    return m, se, abs(m) > 2 * se


def _vs(summary: Summary, base: Summary | None, which: str) -> str:
    if base is None or summary is base:
        return "–"
    d, se, real = difference(getattr(summary, which), getattr(base, which))
    if math.isnan(se):
        return f"{d:+.3f} (one seed: no error estimate)"
    return f"{d:+.3f} ± {2 * se:.3f}" + (" **real**" if real else " (noise)")


def plot(summaries: dict[str, Summary], logs: dict[str, dict[int, list[dict]]], path: Path) -> None:
    """Two panels, self-contained SVG: mean final validation perplexity per variant with ± 1 sd
    whiskers, and each variant's validation loss by step averaged over seeds."""
    names = list(summaries)
    w, h, pad, foot = 960, 420, 50, 90  # foot: room for the slanted variant names
    final = {n: summaries[n].ppl("final") for n in names}
    top = max(m + (0 if math.isnan(s) else s) for m, s in final.values()) * 1.1
    bw = (w / 2 - 2 * pad) / len(names)
    y = lambda v: h - foot - (h - pad - foot) * v / top  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
             f'<text x="{pad}" y="20" font-size="13">final validation perplexity, mean ± sd over seeds (lower is better)</text>']
    for i, n in enumerate(names):
        m, s = final[n]
        x = pad + i * bw
        parts.append(f'<rect x="{x + 4:.1f}" y="{y(m):.1f}" width="{bw - 8:.1f}" height="{h - foot - y(m):.1f}" '
                     f'fill="{COLOURS[i % len(COLOURS)]}"/>')
        if not math.isnan(s):
            cx = x + bw / 2
            parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(m - s):.1f}" y2="{y(m + s):.1f}" stroke="black"/>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{y(m + (0 if math.isnan(s) else s)) - 4:.1f}" '
                     f'text-anchor="middle">{m:.0f}</text>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - foot + 14:.1f}" text-anchor="start" '
                     f'transform="rotate(30 {x + bw / 2:.1f} {h - foot + 14:.1f})">{n}</text>')
    x0 = w / 2 + pad
    curves = {}
    for n in names:
        runs = [[(r["step"], r["val_loss"]) for r in log if "val_loss" in r] for log in logs[n].values()]
        steps = [s for s, _ in runs[0]]
        curves[n] = [(s, sum(run[k][1] for run in runs) / len(runs)) for k, s in enumerate(steps)]
    last_step = max(s for c in curves.values() for s, _ in c)
    later = [v for c in curves.values() for s, v in c if s > 0] or [v for c in curves.values() for _, v in c]
    lo, hi = min(later), max(later)  # step 0 (ln vocab) would flatten the part that differs
    parts.append(f'<text x="{x0}" y="20" font-size="13">validation loss by step (mean over seeds; step 0 off the scale)</text>')
    for i, n in enumerate(names):
        pts = [(x0 + (w / 2 - 2 * pad) * s / last_step, h - foot - (h - pad - foot) * (min(v, hi) - lo) / max(hi - lo, 1e-9))
               for s, v in curves[n] if s > 0]
        parts.append(f'<polyline fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
        parts.append(f'<text x="{w - pad - 90}" y="{40 + 14 * i}" fill="{COLOURS[i % len(COLOURS)]}">{n}</text>')
    parts.append(f'<text x="{x0}" y="{h - foot + 14}">0</text><text x="{w - pad}" y="{h - foot + 14}" '
                 f'text-anchor="end">{last_step}</text><text x="{x0 - 4}" y="{pad}" text-anchor="end">{hi:.2f}</text>'
                 f'<text x="{x0 - 4}" y="{h - foot}" text-anchor="end">{lo:.2f}</text>'
                 f'<text x="{(x0 + w - pad) / 2:.1f}" y="{h - foot + 28}" text-anchor="middle">step</text></svg>')
    path.write_text("\n".join(parts))


def write_results(cfg, logs: dict[str, dict[int, list[dict]]], pool_tokens: dict[str, int], command: str,
                  eval_info: str) -> Path:
    out = Path(cfg.out)
    summaries = {n: summarise(l) for n, l in logs.items()}
    plot(summaries, logs, out / "ablation.svg")
    base = summaries.get("curated")
    seeds = sorted(next(iter(logs.values())))
    steps = max(r["step"] for l in next(iter(logs.values())).values() for r in l)
    f = lambda ms, d=3: f"{ms[0]:.{d}f} ± {ms[1]:.{d}f}" if not math.isnan(ms[1]) else f"{ms[0]:.{d}f}"  # noqa: E731
    lines = ["# Ablation: the same model on raw and curated data", "",
             f"`{command}`. Every variant trains on exactly {cfg.token_budget:,} tokens (counted after "
             f"tokenization: whole documents in a seed-keyed order, the last one cut), {cfg.epochs:g} epoch(s), "
             f"{steps} steps; one shared tokenizer ({cfg.vocab_size:,} tokens, trained on `data/reference`); the "
             f"same GPT (`{cfg.train}`); seeds {', '.join(map(str, seeds))} (each seed draws the data and "
             f"initialises the model). Evaluation: {eval_info}.", "",
             "Mean ± standard deviation over the seeds. *vs curated*: the variant's validation loss minus "
             "`curated`'s, seed by seed (a seed fixes the initialisation, the evaluation windows and each "
             "document's key in the draw, in every variant), mean ± two standard errors of those differences; "
             "**real** where the mean exceeds them, otherwise noise.", "",
             "| variant | stages left out | tokens after its stages | best val loss | final val loss | "
             "best val perplexity | final val perplexity | best vs curated | final vs curated |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        dropped = ", ".join(cfg.variants[name]).replace("*", "all but read") or "none"
        label = f"**{name}**" if name == "curated" else name
        lines.append(f"| {label} | {dropped} | {pool_tokens[name]:,} | {f(s.stat('best'))} | {f(s.stat('final'))} "
                     f"| {f(s.ppl('best'), 0)} | {f(s.ppl('final'), 0)} | {_vs(s, base, 'best')} | {_vs(s, base, 'final')} |")
    lines += ["", "Per seed (final val loss): " + "; ".join(
        f"{n} " + ", ".join(f"{x:.3f}" for x in s.final.values()) for n, s in summaries.items()), "",
        "![validation perplexity and loss curves](ablation.svg)", ""]
    (out / "RESULTS.md").write_text("\n".join(lines))
    return out / "RESULTS.md"
