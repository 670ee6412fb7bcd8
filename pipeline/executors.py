"""Where units run: Ray actors (local Ray or the cluster in RAY_ADDRESS), or inline.

A stage's heavy state (models) is built once per worker: each Ray actor constructs the stage
and calls `setup()` in its constructor, then runs many units. Units write their own files, so
a retried unit (worker killed, Ray re-runs it) overwrites the same names with the same bytes.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator

from pipeline.work import UnitResult, UnitTask, run_unit

log = logging.getLogger("curate")


def build_stage(name: str, config: Any, seed: int):
    from pipeline.stage import stage_class

    stage = stage_class(name)(config, seed=seed)
    stage.setup()
    return stage


class InlineExecutor:
    """Runs every unit in this process, in order: for debugging and tiny inputs."""

    name = "inline"

    def workers_for(self, resources, requested: int | None, units: int) -> int:
        return 1

    def map(self, stage_name: str, config: Any, seed: int, tasks: list[UnitTask],
            workers: int, resources) -> Iterator[UnitResult]:
        stage = build_stage(stage_name, config, seed)
        for task in tasks:
            yield run_unit(stage, task)

    def shutdown(self) -> None:
        pass


class _StageWorker:
    def __init__(self, stage_name: str, config: Any, seed: int) -> None:
        logging.basicConfig(level=logging.WARNING)
        self.stage = build_stage(stage_name, config, seed)

    def run(self, task: UnitTask) -> UnitResult:
        return run_unit(self.stage, task)


class RayExecutor:
    """A pool of stage actors per stage; connects to RAY_ADDRESS when set, else starts local Ray."""

    name = "ray"

    def __init__(self, num_cpus: int | None = None) -> None:
        import ray

        self.ray = ray
        self._started_here = False
        if not ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS")
            if not address:
                # Local runs need no auth token file; a cluster keeps whatever it is set up with.
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            ray.init(address=address or None, num_cpus=None if address else num_cpus,
                     include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=True)
            self._started_here = True
            log.info("ray: %s", "cluster at " + address if address else "local instance")

    def workers_for(self, resources, requested: int | None, units: int) -> int:
        if requested is None:
            cpus = self.ray.cluster_resources().get("CPU", 1)
            requested = max(1, int(cpus // max(resources.num_cpus, 1e-9)))
            if resources.num_gpus:
                gpus = self.ray.cluster_resources().get("GPU", 0)
                requested = min(requested, max(1, int(gpus // resources.num_gpus)))
        return max(1, min(requested, units))

    def map(self, stage_name: str, config: Any, seed: int, tasks: list[UnitTask],
            workers: int, resources) -> Iterator[UnitResult]:
        from ray.util import ActorPool

        options: dict = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus,
                         # a killed worker process is restarted and its unit re-run
                         "max_restarts": 3, "max_task_retries": 3}
        if resources.memory_gb:
            options["memory"] = int(resources.memory_gb * (1 << 30))
        actor_cls = self.ray.remote(_StageWorker).options(**options)
        actors = [actor_cls.remote(stage_name, config, seed) for _ in range(workers)]
        try:
            pool = ActorPool(actors)
            yield from pool.map_unordered(lambda a, t: a.run.remote(t), tasks)
        finally:
            for a in actors:
                self.ray.kill(a)

    def shutdown(self) -> None:
        if self._started_here:
            self.ray.shutdown()


def make_executor(kind: str, num_cpus: int | None = None) -> Any:
    if kind == "inline":
        return InlineExecutor()
    return RayExecutor(num_cpus=num_cpus)
