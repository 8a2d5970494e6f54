"""The gRPC client of the JobManager service."""
