"""Dispatcher: accepts jobs, owns the slot pool, and routes reports to each job's master."""

from __future__ import annotations

import asyncio
import logging
import uuid

from weir.jobmanager.job_master import JobMaster
from weir.jobmanager.resource_manager import RayResourceManager
from weir.jobmanager.scheduler import NotEnoughSlotsError, assign_slots
from weir.proto import jobmanager_pb2 as pb

__all__ = ["Dispatcher", "JobSubmissionError", "UnknownJobError"]

log = logging.getLogger(__name__)


class UnknownJobError(KeyError):
    pass


class JobSubmissionError(ValueError):
    """The job was rejected; the message says why."""


class Dispatcher:
    """Touched only on the JobManager's event loop."""

    def __init__(self, resources: RayResourceManager) -> None:
        self._resources = resources
        self.jobs: dict[str, JobMaster] = {}
        self._used_slots: dict[str, int] = {}
        self._deploying: set[asyncio.Task[None]] = set()

    def _free_slots(self) -> dict[str, int]:
        return {name: info.slots - self._used_slots.get(name, 0)
                for name, info in self._resources.infos.items()}

    async def submit(self, graph: pb.JobGraph) -> str:
        _validate(graph)
        try:
            assignment = assign_slots(graph, self._free_slots())
        except NotEnoughSlotsError as error:
            raise JobSubmissionError(str(error)) from None
        job_id = uuid.uuid4().hex
        master = JobMaster(job_id, graph, self._resources.handles, self._release)
        self.jobs[job_id] = master
        for tm in set(assignment.values()):
            self._used_slots[tm] = self._used_slots.get(tm, 0) + _slots_on(assignment, tm)
        task = asyncio.get_running_loop().create_task(
            master.deploy(assignment, dict(self._resources.infos)))
        self._deploying.add(task)
        task.add_done_callback(self._deploying.discard)
        log.info("job %s (%s) submitted", job_id, graph.name)
        return job_id

    def _release(self, master: JobMaster) -> None:
        for tm in set(master.assignment.values()):
            self._used_slots[tm] -= _slots_on(master.assignment, tm)

    def get(self, job_id: str) -> JobMaster:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise UnknownJobError(job_id) from None

    def taskmanager_lost(self, name: str, cause: str) -> None:
        self._used_slots.pop(name, None)
        for master in self.jobs.values():
            master.taskmanager_lost(name, cause)

    def update_task(self, update: pb.TaskExecutionStateUpdate) -> None:
        master = self.jobs.get(update.task.job_id)
        if master is not None:
            master.update_task(update)

    def heartbeat(self, heartbeat: pb.TaskManagerHeartbeat) -> None:
        for metrics in heartbeat.tasks:
            master = self.jobs.get(metrics.task.job_id)
            if master is not None:
                master.update_metrics(metrics)

    async def report_output(self, output: pb.TaskOutput) -> None:
        master = self.jobs.get(output.task.job_id)
        if master is None or output.task.attempt != master.attempt:
            return
        if output.print_lines:
            await master.output.add_lines(list(output.print_lines))
        if output.collected_batch:
            await master.output.add_batch(output.collected_batch)


def _slots_on(assignment: dict[tuple[str, int], str], tm: str) -> int:
    return len({subtask for (_, subtask), owner in assignment.items() if owner == tm})


def _validate(graph: pb.JobGraph) -> None:
    if not graph.vertices:
        raise JobSubmissionError("the job graph has no vertices")
    ids = {v.id for v in graph.vertices}
    for vertex in graph.vertices:
        if vertex.parallelism < 1 or vertex.parallelism > vertex.max_parallelism:
            raise JobSubmissionError(f"vertex '{vertex.name}' has parallelism "
                                     f"{vertex.parallelism} outside 1..{vertex.max_parallelism}")
        if not vertex.is_source and not vertex.inputs:
            raise JobSubmissionError(f"vertex '{vertex.name}' has no input")
        for edge in vertex.inputs:
            if edge.source_vertex_id not in ids:
                raise JobSubmissionError(f"vertex '{vertex.name}' reads from an unknown vertex")
