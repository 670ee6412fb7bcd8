#!/usr/bin/env python3
"""How often a finished two-rank CPU training run exits non-zero on a loaded machine.

    python bench/trainer_exit_stress.py [--concurrent 4] [--runs 20]

`--concurrent` loops side by side, each `--runs` times: `torchrun --nproc_per_node=2 -m
trainer.train` on the test suite's tiny model and Gutenberg shards (`tests/lm_fixtures.py`) with
`train.stop_after=10`, the run `tests/test_trainer.py` interrupts. Four loops on two cores is the
load under which Gloo's threads, left to interpreter teardown, aborted 9 runs of 80 in one hour
before trainer/train.py's `__main__` left with `os._exit` (it explains why); the abort comes in
bursts (0 of 240 with this script on the old code an hour later), so a clean pass is evidence, not
proof. `PYTHONFAULTHANDLER=1` in the environment shows where an abort happens. Prints exit codes
and the runs whose output says "terminate called".
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lm_fixtures import write_run_config, write_shards  # noqa: E402
from tokenizer import bpe  # noqa: E402
from tokenizer.encode import tokenize_shards  # noqa: E402
from trainer.config import load_run_config  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "curate-trainer-exit"  # where pytest's tmp_path runs put them


def prepare() -> Path:
    root = WORK / "base"
    cfg = load_run_config(write_run_config(root, write_shards(WORK / "shards")))
    bpe.save(bpe.train_tokenizer(bpe.shard_paths(cfg.shards, "train"), cfg.tokenizer.vocab_size), cfg.tokenizer_path)
    tokenize_shards(cfg.shards, cfg.tokenizer_path, cfg.tokens_dir, inline=True)
    return root


def loop(base: Path, loop_id: int, runs: int) -> list[tuple[int, bool, Path]]:
    results = []
    for i in range(runs):
        run = WORK / f"run-{loop_id}-{i}"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base / "lm", run / "lm")
        config = write_run_config(run, WORK / "shards")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={31000 + loop_id * 100 + i}", "-m", "trainer.train", "--config", str(config),
               "--set", "train.stop_after=10"]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        with open(run / "out.txt", "w") as out:
            code = subprocess.run(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900).returncode
        results.append((code, "terminate called" in (run / "out.txt").read_text(), run))
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrent", type=int, default=4)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    base = prepare()
    with ThreadPoolExecutor(args.concurrent) as pool:
        done = [r for rs in pool.map(lambda k: loop(base, k, args.runs), range(args.concurrent)) for r in rs]
    codes = Counter(code for code, _, _ in done)
    print(f"{len(done)} runs, exit codes {dict(sorted(codes.items()))}")
    for code, terminated, run in done:
        if code != 0:
            print(f"  {run}: exit {code}{' (terminate called)' if terminated else ''}")
    return 0 if set(codes) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
