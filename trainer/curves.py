"""OUT/train_curves.svg from OUT/train_log.jsonl: training loss per logged step, and train and
val loss estimated on the same number of windows at each evaluation (their gap is overfitting).
Plain SVG, no scripts, so the HTML report can link it and any browser shows it."""
from __future__ import annotations

import html
import json
from pathlib import Path

SERIES = (("loss", "training batches", "#bab0ac"), ("train_eval_loss", "train (evaluated)", "#4c78a8"),
          ("val_loss", "val", "#f58518"))


def write_curves(log_path: Path, svg_path: Path, width: int = 640, height: int = 320) -> Path | None:
    """Write the plot; None when the log holds nothing to plot yet."""
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()] if log_path.is_file() else []
    points = {key: [(r["step"], r[key]) for r in rows if r.get(key) is not None] for key, _, _ in SERIES}
    values = [v for pts in points.values() for _, v in pts]
    steps = [s for pts in points.values() for s, _ in pts]
    if not values:
        return None
    left, top, right, bottom = 50, 20, width - 150, height - 40
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    last = max(steps) or 1

    def xy(step: float, value: float) -> tuple[str, str]:
        return f"{left + (right - left) * step / last:.1f}", f"{bottom - (bottom - top) * (value - lo) / (hi - lo):.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="training curves" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>',
             f'<text x="{left}" y="{height - 10}">step 0</text>',
             f'<text x="{right - 40}" y="{height - 10}">step {last:,}</text>',
             f'<text x="4" y="{top + 4}">{hi:.2f}</text><text x="4" y="{bottom}">{lo:.2f}</text>']
    for i, (key, label, colour) in enumerate(SERIES):
        pts = points[key]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{" ".join(",".join(xy(s, v)) for s, v in pts)}"/>')
        parts += ['<circle cx="{}" cy="{}" r="2.5" fill="{}"/>'.format(*xy(s, v), colour)
                  for s, v in pts if key != "loss"]
        y = top + 16 * i
        parts.append(f'<rect x="{right + 12}" y="{y}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{right + 30}" y="{y + 6}">{html.escape(label)}</text>')
    parts.append("</svg>")
    svg_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = svg_path.with_name(svg_path.name + ".tmp")
    tmp.write_text("\n".join(parts) + "\n")
    tmp.replace(svg_path)
    return svg_path
