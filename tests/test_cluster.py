"""Multi-node: a local two-node Ray cluster (head + a second `ray start --address`, loopback), the
pipeline run against it through RAY_ADDRESS and as a Ray Job; the output equals the inline run."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, tree_digest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("ray", path=str(BIN)) is None:
        pytest.skip("ray CLI not installed")
    temp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # Ray's socket paths must stay short
    port, dash = _free_port(), _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    common = ["--block", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    # each node's job agent on its own free port: another Ray instance on this machine (the test
    # session's own, started by an earlier test) holds the default one, and jobs then find no agent
    agent = lambda: ["--dashboard-agent-listen-port", str(_free_port())]  # noqa: E731
    head = subprocess.Popen([str(BIN / "ray"), "start", "--head", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
                             "--dashboard-port", str(dash), "--temp-dir", temp, *agent(), *common],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs = [head]
    try:
        address = f"127.0.0.1:{port}"
        _wait(lambda: _nodes(address, env) >= 1, head)
        procs.append(subprocess.Popen([str(BIN / "ray"), "start", "--address", address, "--num-cpus", "1",
                                       "--resources", '{"second_node": 1}', *agent(), *common],
                                      env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE))
        _wait(lambda: _nodes(address, env) >= 2, procs[-1])
        yield {"address": address, "dashboard": f"http://127.0.0.1:{dash}", "env": env}
    finally:
        for p in reversed(procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                    p.wait(timeout=20)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        shutil.rmtree(temp, ignore_errors=True)


def _nodes(address: str, env: dict) -> int:
    code = "import ray; ray.init(logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    p = subprocess.run([sys.executable, "-c", code], env={**env, "RAY_ADDRESS": address},
                       capture_output=True, text=True, timeout=60)
    return int(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else 0


def _wait(ready, proc, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "Ray node did not come up"
        time.sleep(2)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"input:\n  - {{path: {SAMPLE / 'crawl'}, source: web}}\n  - {{path: {SAMPLE / 'wiki'}, source: wiki}}\n"
        f"  - {{path: {SAMPLE / 'fortunes'}, source: fortunes}}\nworkers: 2\nstages:\n"
        "  - {name: read, unit_bytes: 200000}\n  - {name: quality}\n  - {name: exact_dedup}\n"
        "  - {name: minhash_dedup}\n")
    return config


@pytest.mark.slow
def test_two_node_cluster_via_ray_address_and_ray_job_equals_inline(cluster, tmp_path):
    config = _config(tmp_path)
    cli = [sys.executable, "-m", "pipeline.cli", "-q", "run", str(config), "--output"]
    subprocess.run(cli + [str(tmp_path / "inline"), "--inline"], check=True, capture_output=True, cwd=REPO)
    reference = tree_digest(tmp_path / "inline")
    assert reference

    env = {**cluster["env"], "RAY_ADDRESS": cluster["address"]}
    p = subprocess.run(cli + [str(tmp_path / "cluster")], env=env, capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    assert tree_digest(tmp_path / "cluster") == reference

    job = [str(BIN / "ray"), "job", "submit", "--address", cluster["dashboard"], "--working-dir", str(REPO), "--",
           sys.executable, "-m", "pipeline.cli", "-q", "run", str(config), "--output", str(tmp_path / "job")]
    p = subprocess.run(job, env=cluster["env"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "succeeded" in p.stdout, (p.stdout + p.stderr)[-3000:]
    assert tree_digest(tmp_path / "job") == reference
