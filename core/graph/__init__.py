"""The job graph contract between the client, the JobManager and the TaskManagers."""
