"""The ``weir`` command line: submit, list, describe and cancel jobs, start a JobManager.

The CLI is a client: it talks to the JobManager over gRPC and never imports
the runtime (``weir.jobmanager``, ``weir.taskmanager``).
"""

__all__: list[str] = []
