"""What this machine gives the process: the CPU cores it may run on. Training (data-loading
workers), the importer and re-split (their thread pools) and export's latency measurement all
size their work by it."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPU cores this process may run on: its affinity where the OS has one (Linux: a container's
    or a scheduler's share), else the count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS or Windows
        return os.cpu_count() or 1
