"""Checkpoints inside a TaskManager: barrier alignment, snapshots, restore."""
