"""The TaskManager: a Ray actor that runs subtasks, their state and the data plane."""
