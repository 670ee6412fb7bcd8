"""Where work runs: Ray actors (local Ray or the cluster in RAY_ADDRESS), or inline.

A stage's heavy state (models) is built once per worker: a Ray actor constructs the stage and
calls `setup()` on the first call that names it, then serves many calls. A pool serves one
stage, so a global stage's phases (hash, shuffle, resolve, apply) all run on the same warm
actors; the next stage of the run reuses them when it asks for the same resources. Calls
write their own files under deterministic names, so a call Ray retries after a worker died
overwrites the same names with the same bytes.
"""
from __future__ import annotations

import logging
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from pipeline.startup import keep_freed_memory, pyarrow_without_pandas
from pipeline.work import run_unit

log = logging.getLogger("curate")


def build_stage(name: str, config: Any, seed: int):
    from pipeline.stage import stage_class

    stage = stage_class(name)(config, seed=seed)
    stage.setup()
    return stage


def _call(stage, method: str, args: tuple) -> Any:
    if method == "run_unit":
        return run_unit(stage, *args)
    return getattr(stage, method)(*args)


class InlinePool:
    """Calls in this process: in order on one stage, or on `len(stages)` threads, one stage
    object each (a stage need not be thread-safe; its kernels must release the GIL to gain)."""

    def __init__(self, stages: list) -> None:
        self.stages = stages

    def imap_unordered(self, method: str, calls: list[tuple]) -> Iterator[tuple[int, Any]]:
        if len(self.stages) == 1 or len(calls) <= 1:
            for i, args in enumerate(calls):
                yield i, _call(self.stages[0], method, args)
            return
        free = queue.SimpleQueue()
        for stage in self.stages:
            free.put(stage)

        def one(i: int, args: tuple) -> tuple[int, Any]:
            stage = free.get()
            try:
                return i, _call(stage, method, args)
            finally:
                free.put(stage)

        with ThreadPoolExecutor(len(self.stages), thread_name_prefix="curate-unit") as ex:
            futures = [ex.submit(one, i, args) for i, args in enumerate(calls)]
            try:
                for f in as_completed(futures):
                    yield f.result()
            finally:
                for f in futures:
                    f.cancel()

    def map(self, method: str, calls: list[tuple]) -> list[Any]:
        out: list[Any] = [None] * len(calls)
        for i, r in self.imap_unordered(method, calls):
            out[i] = r
        return out


class InlineExecutor:
    """Runs everything in this process: for debugging, small inputs, and stages whose work is
    Arrow and numpy kernels (`Resources.threads`), which run on one thread per worker."""

    name = "inline"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def workers_for(self, resources, requested: int | None, units: int) -> int:
        if not getattr(resources, "threads", False):
            return 1
        return max(1, min(requested or self.workers, units))

    @contextmanager
    def pool(self, stage_name: str, config: Any, seed: int, workers: int, resources) -> Iterator[InlinePool]:
        yield InlinePool([build_stage(stage_name, config, seed) for _ in range(max(1, workers))])

    def release_workers(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class _StageWorker:
    """A Ray actor that serves stage after stage of one run: each call names its stage, built on
    the first call that names it, so a restarted actor rebuilds what its retried call needs."""

    def __init__(self) -> None:
        logging.basicConfig(level=logging.WARNING)
        # Ray sets OMP_NUM_THREADS to the cores it gave this worker; a Rust library's rayon pool
        # (Lingua's parallel detection) would take every core of the node instead, and workers
        # side by side spend ~25 % more CPU on the same answers
        os.environ.setdefault("RAYON_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        pyarrow_without_pandas()
        keep_freed_memory()
        self.key: tuple | None = None
        self.stage: Any = None

    def call(self, key: tuple, method: str, args: tuple) -> Any:
        if key != self.key:
            self.stage = None  # the previous stage's models go before the next one's load
            self.stage = build_stage(*key)
            self.key = key
        return _call(self.stage, method, args)


class RayPool:
    def __init__(self, ray, actors: list, key: tuple) -> None:
        self.ray, self.actors, self.key = ray, actors, key

    def imap_unordered(self, method: str, calls: list[tuple]) -> Iterator[tuple[int, Any]]:
        """(index, result) as calls finish; at most one call in flight per actor."""
        pending: dict = {}
        idle = list(self.actors)
        queue = list(enumerate(calls))[::-1]
        while queue or pending:
            while idle and queue:
                i, args = queue.pop()
                actor = idle.pop()
                pending[actor.call.remote(self.key, method, args)] = (i, actor)
            done, _ = self.ray.wait(list(pending), num_returns=1)
            i, actor = pending.pop(done[0])
            idle.append(actor)
            yield i, self.ray.get(done[0])

    def map(self, method: str, calls: list[tuple]) -> list[Any]:
        out: list[Any] = [None] * len(calls)
        for i, r in self.imap_unordered(method, calls):
            out[i] = r
        return out


def init_ray(num_cpus: int | None = None) -> bool:
    """Connect to RAY_ADDRESS, else start local Ray; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        # Local runs need no auth token file; a cluster keeps whatever it is set up with.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with _lean_local_instance(ray, local=not address):
        ray.init(address=address or None, num_cpus=None if address else num_cpus,
                 include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True)
    log.info("ray: %s", "cluster at " + address if address else "local instance")
    return True


@contextmanager
def _lean_local_instance(ray: Any, local: bool) -> Iterator[None]:
    """A local instance started for one command, without what only a shared instance serves,
    and without waiting longer than it must. With the dashboard off, `ray.init` still starts the
    dashboard process (job submission, the state API) and polls until it has imported aiohttp and
    reported its address; the raylet registers its node only once the dashboard agent has started
    its gRPC and HTTP servers (metrics export, the dashboard); and `ray.init` asks the GCS for the
    node in a loop that retries once a second, so a node registered at 0.9 s is seen at 1.0 s and
    one registered at 1.1 s at 2.0 s. Here the API server is not started, the agent runs as it
    does where Ray is installed without the dashboard's dependencies (`--minimal`), and the node
    is looked for every 20 ms before Ray's own lookup: `ray.init` 2.4 -> 1.9 -> 1.55 -> 1.3-1.5 s here.
    Where Ray's internals differ (another version) or the instance is a cluster's, nothing
    changes; users who want the dashboard start Ray themselves (README "Configuration")."""
    private = getattr(ray, "_private", None)
    Node = getattr(getattr(private, "node", None), "Node", None)
    services = getattr(private, "services", None)
    patches = [(Node, "start_api_server", lambda _: _no_api_server),
               (getattr(private, "utils", None), "get_dashboard_dependency_error",
                lambda _: lambda: "a command's own instance: minimal agent"),
               (services, "get_node", _registered_first)]
    # (what, name, its replacement made from the original, the original)
    patches = [(owner, name, make(getattr(owner, name)), getattr(owner, name))
               for owner, name, make in patches if local and hasattr(owner, name)]
    for owner, name, new, _ in patches:
        setattr(owner, name, new)
    try:
        yield
    finally:
        for owner, name, _, original in patches:
            setattr(owner, name, original)


def _registered_first(get_node: Callable) -> Callable:
    """Ray's `services.get_node`, called once the GCS lists the node (asked every 20 ms, 30 s at
    most, then Ray's own wait)."""
    def get_node_when_registered(gcs_address: str, node_id: str, *args: Any, **kwargs: Any) -> Any:
        try:
            from ray._raylet import GcsClient

            client = GcsClient(address=gcs_address)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(k.hex() == node_id for k in client.get_all_node_info(timeout=1)):
                    break
                time.sleep(0.02)
        except Exception:  # noqa: BLE001 - another Ray: its own lookup decides
            pass
        return get_node(gcs_address, node_id, *args, **kwargs)
    return get_node_when_registered


def _no_api_server(self: Any, **_: Any) -> None:
    self._webui_url = None


# Object-store settings a worker needs as the driver has them (pipeline.storage): a cluster's
# nodes do not share the driver's environment. Set on a node, a variable the driver lacks is kept.
FORWARDED_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                 "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def forwarded_env() -> dict[str, str]:
    return {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}


class RayExecutor:
    """Actor pools per stage; connects to RAY_ADDRESS when set, else starts local Ray."""

    name = "ray"

    def __init__(self, num_cpus: int | None = None) -> None:
        import ray

        self.ray = ray
        self._started_here = init_ray(num_cpus)
        self._actors: list = []  # kept from one stage to the next
        self._options: dict | None = None

    def workers_for(self, resources, requested: int | None, units: int) -> int:
        if requested is None:
            total = self.ray.cluster_resources()
            requested = max(1, int(total.get("CPU", 1) // max(resources.num_cpus, 1e-9)))
            if resources.num_gpus:
                requested = min(requested, max(1, int(total.get("GPU", 0) // resources.num_gpus)))
        return max(1, min(requested, units))

    @contextmanager
    def pool(self, stage_name: str, config: Any, seed: int, workers: int, resources) -> Iterator[RayPool]:
        """The stage's workers: those of the stage before where they ask for the same resources
        (a worker process's start and imports, ~0.5 s, paid once per run), else new ones."""
        options: dict = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus,
                         # a killed worker process is restarted and its call re-run
                         "max_restarts": 3, "max_task_retries": 3}
        if resources.memory_gb:
            options["memory"] = int(resources.memory_gb * (1 << 30))
        if env := forwarded_env():
            options["runtime_env"] = {"env_vars": env}
        if options != self._options:
            self.release_workers()
            self._options = options
        for a in self._actors[workers:]:  # idle workers would hold cores a later stage may need
            self.ray.kill(a)
        del self._actors[workers:]
        actor_cls = self.ray.remote(_StageWorker).options(**options)
        self._actors += [actor_cls.remote() for _ in range(workers - len(self._actors))]
        try:
            yield RayPool(self.ray, list(self._actors), (stage_name, config, seed))
        except BaseException:
            self.release_workers()  # a failed stage's workers may be in any state
            raise

    def release_workers(self) -> None:
        """Ends the workers kept for the next stage (a run's end, a failed stage)."""
        for a in self._actors:
            self.ray.kill(a)
        self._actors, self._options = [], None

    def shutdown(self) -> None:
        self.release_workers()
        if self._started_here:
            _stop_autoscaler_monitor(self.ray)
            self.ray.shutdown()


def _stop_autoscaler_monitor(ray: Any) -> None:
    """Kills the autoscaler monitor of a local instance this process started. `ray.shutdown`
    sends each Ray process SIGTERM and waits up to a second for it; the monitor (nothing to save:
    the instance has one node and goes away with it) outlasts that every time, so a command
    spent 1.0 of shutdown's 1.4 s here waiting for it. Where Ray keeps its processes elsewhere
    (another version), shutdown just waits as before."""
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    for info in (getattr(node, "all_processes", None) or {}).get("monitor", []):
        process = getattr(info, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def make_executor(kind: str, num_cpus: int | None = None) -> Any:
    if kind == "inline":
        return InlineExecutor(num_cpus)
    return RayExecutor(num_cpus=num_cpus)
