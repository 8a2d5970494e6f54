"""The JobManager: gRPC service, dispatcher, job masters, scheduling onto Ray TaskManagers."""
