"""The submitted jobs, kept beside the checkpoints so a restarted JobManager recovers them.

``high-availability.storageDir`` (file:// or s3://) holds one record per job
that has not ended: ``<dir>/jobs/<job-id>``, the SubmitJobRequest plus the last
attempt number. A JobManager that starts finds the records and resubmits the
jobs under their ids; each continues from its latest completed checkpoint.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from weir.checkpoint import CheckpointStorage, storage_for
from weir.proto import jobmanager_pb2 as pb

__all__ = ["HA_STORAGE_DIR", "JobRecord", "JobStore"]

log = logging.getLogger(__name__)
HA_STORAGE_DIR = "high-availability.storageDir"


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    request: pb.SubmitJobRequest
    attempt: int


class JobStore:
    def __init__(self, directory: str, configuration: Mapping[str, str]) -> None:
        self._storage: CheckpointStorage = storage_for(directory, configuration).child("jobs")

    @staticmethod
    def from_configuration(configuration: Mapping[str, str]) -> JobStore | None:
        directory = configuration.get(HA_STORAGE_DIR)
        return JobStore(directory, configuration) if directory else None

    async def put(self, record: JobRecord) -> None:
        document = {"job_id": record.job_id, "attempt": record.attempt,
                    "request": base64.b64encode(record.request.SerializeToString()).decode()}
        await self._storage.write_atomic(record.job_id, json.dumps(document).encode())

    async def remove(self, job_id: str) -> None:
        await self._storage.delete(job_id)

    async def records(self) -> list[JobRecord]:
        found = []
        for name in await self._storage.list(""):
            try:
                document = json.loads(await self._storage.read(name))
                request = pb.SubmitJobRequest.FromString(base64.b64decode(document["request"]))
                found.append(JobRecord(document["job_id"], request, int(document["attempt"])))
            except (ValueError, KeyError) as error:
                log.warning("skipping unreadable job record %s: %s", name, error)
        return found
