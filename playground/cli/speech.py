"""CLI commands of the speech task."""

from __future__ import annotations


def register(groups, common) -> None:
    """Add this task's sub-commands (filled in with the task)."""
