"""`curate`: run a pipeline, run one stage, read the statistics."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pipeline.config import ConfigError, InputSpec, load_config, parse_config, parse_override
from pipeline.startup import keep_freed_memory, one_blas_thread, pyarrow_without_pandas

EPILOG = """\
examples:
  curate run configs/default.yaml                  the whole pipeline on the bundled sample
  curate run configs/default.yaml --only normalize one stage (its input stage must be committed)
  curate run configs/default.yaml --from normalize redo a stage and everything after it
  curate stage normalize --input docs.jsonl.zst --output out/try --set unicode_form=NFKC
  curate stage minhash_dedup --input shards/ --output out/dd --set threshold=0.8
  curate stats out/default                         documents in / kept / rejected per stage
  curate stats out/default --html report.html      the same as a self-contained HTML report

Outputs: OUT/NN-<stage>/{kept,rejected}/part-*.parquet, stats.json, _SUCCESS (written last).
A re-run skips committed stages whose config and input are unchanged and redoes the rest.
Set RAY_ADDRESS to run on an existing Ray cluster instead of a local Ray instance.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="curate", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Turn raw text into clean, deduplicated training data, one committed stage at a time.",
    )
    quiet = "log only warnings and errors (the result, a stats table, is still printed)"
    p.add_argument("-q", "--quiet", action="store_true", help=quiet)
    # -q is accepted after the command too; SUPPRESS keeps a sub-parser from resetting it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help=quiet)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", parents=[common], help="run the stages of a YAML config in order",
                       description="Run the stages of CONFIG in order, resuming from committed ones.")
    r.add_argument("config", help="YAML pipeline config, e.g. configs/default.yaml")
    r.add_argument("--output", help="output directory or URI such as s3://bucket/prefix (default: the config's `output`)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--only", metavar="STAGE", help="run just this stage (its input must be committed)")
    g.add_argument("--from", dest="from_stage", metavar="STAGE",
                   help="re-run this stage and all after it, even if committed")
    r.add_argument("--input", nargs="+", metavar="PATH",
                   help="input files, directories or URIs (s3://bucket/prefix), replacing the config's `input`")
    r.add_argument("--workers", type=int, help="Ray workers per stage (default: one per CPU)")
    r.add_argument("--executor", choices=["auto", "ray", "inline"],
                   help="where stages run (default: the config's `executor`; auto = in this process (threads "
                        "for Arrow-bound stages) below 4 MiB of stage input or where it beats Ray's start-up, "
                        "without RAY_ADDRESS; else Ray)")
    r.add_argument("--inline", action="store_true", help="the same as --executor inline")

    s = sub.add_parser("stage", parents=[common], help="run one stage alone on JSONL/Parquet/text input",
                       description="Run one stage on any input: it is read first (OUT/00-read), "
                                   "then the stage runs (OUT/01-NAME). For NAME=read, only the first.")
    s.add_argument("name", help="stage name (see `curate stages`)")
    s.add_argument("--input", nargs="+", required=True, metavar="PATH",
                   help="JSONL (.jsonl, .gz, .zst), Parquet, WARC/WET, HTML, text, or directories of them; "
                        "local paths or URIs (s3://bucket/prefix)")
    s.add_argument("--output", required=True, metavar="DIR", help="output directory or URI (s3://bucket/prefix)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a stage option, value as YAML (repeatable): --set max_bytes=500000")
    s.add_argument("--workers", type=int)
    s.add_argument("--seed", type=int, default=1234)
    s.add_argument("--executor", choices=["auto", "ray", "inline"], default="auto",
                   help="auto (default): in this process (threads for Arrow-bound stages) below 4 MiB of stage "
                        "input or where it beats Ray's start-up, without RAY_ADDRESS; else Ray")
    s.add_argument("--inline", action="store_true", help="the same as --executor inline")

    t = sub.add_parser("stats", parents=[common], help="per-stage table: documents in / kept / rejected, bytes, time")
    t.add_argument("dir", help="a pipeline output directory or URI, e.g. out/default, s3://bucket/run1")
    t.add_argument("--json", action="store_true", help="print the same figures as JSON, for scripts")
    t.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (charts, "
                                                   "score histograms, samples of rejected documents)")

    sub.add_parser("stages", parents=[common], help="list the stages and their options")
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_pipeline

    cfg = load_config(args.config)
    if args.output:
        cfg.output = args.output
    if args.input:
        cfg.input = [InputSpec(path=p) for p in args.input]
    if args.workers is not None:
        cfg.workers = args.workers
    if args.executor or args.inline:
        cfg.executor = "inline" if args.inline else args.executor
    cfg.__post_init__()
    runs = run_pipeline(cfg, only=args.only, from_stage=args.from_stage)
    _print_table(cfg.output, [r.directory.name for r in runs])
    return 0


def _cmd_stage(args: argparse.Namespace) -> int:
    from pipeline.runner import run_pipeline
    from pipeline.stage import stage_class

    cls = stage_class(args.name)
    options = dict(parse_override(o) for o in args.set)
    stages = [{"name": "read"}] if args.name == "read" else [{"name": "read"}, {"name": args.name}]
    stages[-1].update(options)
    raw = {"input": list(args.input), "output": args.output, "seed": args.seed,
           "workers": args.workers, "executor": "inline" if args.inline else args.executor, "stages": stages}
    cfg = parse_config(raw, f"curate stage {cls.name}")
    runs = run_pipeline(cfg)
    _print_table(cfg.output, [r.directory.name for r in runs])
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from pipeline.runner import committed_stages
    from pipeline.storage import Loc

    out = Loc(args.dir)
    if not out.is_dir():
        raise ConfigError(f"{out}: no such output directory")
    found = committed_stages(out)
    if not found:
        print(f"{out}: no committed stages yet", file=sys.stderr)
        return 1
    from pipeline.report import collect, format_text, render_html

    data = collect(out, found)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_text(data, found))
    if args.html:
        Path(args.html).write_text(render_html(data), encoding="utf-8")
        print(f"report written to {args.html}", file=sys.stderr)
    return 0


def _cmd_stages(args: argparse.Namespace) -> int:
    import dataclasses

    from pipeline.stage import registry

    for name, cls in sorted(registry().items()):
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n\n")[0]
        doc = doc.removeprefix(f"{name}:").strip()
        print(f"{name}: {' '.join(doc.split())}")
        for f in dataclasses.fields(cls.Config):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            print(f"    {f.name} = {default!r}")
    return 0


def _print_table(out: str, names: list[str]) -> None:
    from pipeline.runner import committed_stages
    from pipeline.stats import format_table

    found = [(n, s) for n, s in committed_stages(out) if n in names]
    if found:
        print(format_table(found))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    keep_freed_memory()  # these two before numpy and pyarrow load
    one_blas_thread()
    pyarrow_without_pandas()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    handlers = {"run": _cmd_run, "stage": _cmd_stage, "stats": _cmd_stats, "stages": _cmd_stages}
    try:
        return handlers[args.command](args)
    except ConfigError as e:
        print(f"curate: config error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the message must name what failed, not just crash
        from pipeline.stats import AccountingError
        from pipeline.work import StageError

        if isinstance(e, (StageError, AccountingError)):
            print(f"curate: {e}", file=sys.stderr)
            return 1
        if isinstance(e, OSError):  # output directory read-only, disk full, input gone
            where = f": {e.filename}" if e.filename else ""
            print(f"curate: {e.strerror or e}{where} (committed stages are kept; fix this and re-run "
                  "to resume)", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    # Call main from the module imported by name, not from __main__: functions it ships to Ray
    # workers must resolve there, and a worker cannot import this process's __main__.
    from pipeline.cli import main

    sys.exit(main())
