"""The workspace's root, the names of the scratch folders a process leaves while it works, and
``save_whole``/``write_whole`` (a file written through a temporary one of its own).

Leaf module (imports nothing of the project), so the Ultralytics fence can find the workspace
without importing the registry above it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

# Scratch and aside folders, each named by the process that made it (its pid), removed here once
# that process is gone.
SCRATCH_PREFIX = ".import-"  # datasets/.import-<pid>-*: an import in progress
VERSION_SCRATCH_PREFIX = ".version-"  # datasets/.version-<pid>-*: a dataset version being written
EXPORT_SCRATCH_PREFIX = "export-"  # exports/<run>/export-<pid>-*: Ultralytics' exporter at work
POOL_SCRATCH_PREFIX = ".add-"  # pools/<dataset>/.add-<pid>-*: a pool add unzipping and sampling
DELETING_PREFIX = ".deleting-"  # runs/.deleting-<pid>-<run id>: a run folder being deleted


def advice_file(run_dir: str | os.PathLike, split: str = "val") -> Path:
    """Where ``advise`` keeps what it said for a run and split (run_status reads its top three)."""
    return Path(run_dir) / f"advice-{split}.json"


def outcome_file(run_dir: str | os.PathLike, split: str = "val") -> Path:
    """Where ``advice_outcome`` keeps what the advice a run's data followed bought (the Runs table reads it)."""
    return Path(run_dir) / f"advice-outcome-{split}.json"


def default_root() -> Path:
    """The process's workspace: ``YOLOV11_WORKSPACE``, else ``./workspace``."""
    return Path(os.environ.get("YOLOV11_WORKSPACE") or "workspace").expanduser().resolve()


def save_whole(dest: str | os.PathLike, save: Callable[[Path], None]) -> None:
    """``save(tmp)`` writes the file at a temporary path of this process and thread (same suffix,
    so an image writer picks the same format), then it is renamed to ``dest``: a reader (another
    request, or another process evaluating the same run) finds the old file or the new one, never
    half of one."""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}-{threading.get_ident()}{dest.suffix}")
    save(tmp)
    os.replace(tmp, dest)


def write_whole(path: str | os.PathLike, text: str) -> None:
    """``text`` written to ``path`` whole (save_whole)."""
    save_whole(path, lambda tmp: tmp.write_text(text))
