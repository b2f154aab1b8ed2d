"""What a process that died leaves behind, repaired when the app or a CLI command starts.

Runs still ``queued``/``running`` whose owner is gone become ``interrupted`` (resumable) or
``failed`` (no checkpoint yet); a run delete cut short is finished; scratch folders of dead
imports, versions and exports are removed; a dataset folder renamed into place but not
registered is registered from its report.json. ``Workspace.reconcile`` calls ``reconcile``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from yolov11 import liveness
from yolov11.errors import UserError
from yolov11.workspace.paths import DELETING_PREFIX, EXPORT_SCRATCH_PREFIX, POOL_SCRATCH_PREFIX, SCRATCH_PREFIX, VERSION_SCRATCH_PREFIX

if TYPE_CHECKING:
    from yolov11.workspace import Workspace



def reconcile(ws: "Workspace") -> dict[str, list[str]]:
    """Repair what processes that died left behind; returns what was done, by kind."""
    done: dict[str, list[str]] = {"interrupted": [], "failed": [], "scratch_removed": [], "datasets_registered": []}
    try:
        runs = ws.runs()
    except UserError:
        return done
    for run in runs:
        if run["status"] not in ("queued", "running") or liveness.alive(run.get("owner"), ws.owners_dir):
            continue
        if run.get("owner") is None and run["pid"] != os.getpid() and liveness.pid_exists(run["pid"]):
            continue  # a row written before owners were recorded, by a process still running
        error = _unresumable(Path(run["dir"]) / "weights")
        status, fields = (
            ("interrupted", {}) if error is None
            else ("failed", {"metrics": {**(run["metrics"] or {}), "error": f"its process ended and {error}"}})
        )
        try:
            if ws._settle(run, status, **fields):
                done[status].append(run["id"])
        except UserError:
            return done  # a read-only registry (full disk): the next start tries again
    for aside in ws.runs_dir.glob(f"{DELETING_PREFIX}*"):  # a delete cut short after the move: finish it
        if not liveness.owned_by_the_living(aside, ws.owners_dir):
            try:
                ws._forget_run(aside.name[len(DELETING_PREFIX):].split("-", 1)[-1], aside)
            except UserError:
                return done
            done["scratch_removed"].append(str(aside.relative_to(ws.root)))
    scratch_dirs = [
        *ws.datasets_dir.glob(f"{SCRATCH_PREFIX}*"), *ws.datasets_dir.glob(f"{VERSION_SCRATCH_PREFIX}*"),
        *ws.exports_dir.glob(f"*/{EXPORT_SCRATCH_PREFIX}*"), *(ws.root / "pools").glob(f"*/{POOL_SCRATCH_PREFIX}*"),
    ]
    for scratch in scratch_dirs:
        if not liveness.owned_by_the_living(scratch, ws.owners_dir):
            shutil.rmtree(scratch, ignore_errors=True)
            done["scratch_removed"].append(str(scratch.relative_to(ws.root)))
    done["datasets_registered"] = _register_orphan_datasets(ws)
    liveness.forget_stale(ws.owners_dir)
    return done


def _register_orphan_datasets(ws: "Workspace") -> list[str]:
    """A dataset folder is renamed into place whole, then registered: a crash between the two
    leaves a complete folder that no row lists. Register it from its report.json."""
    known = {d["name"] for d in ws.datasets()}
    found = []
    for folder in sorted(ws.datasets_dir.iterdir()) if ws.datasets_dir.is_dir() else []:
        if folder.name.startswith(".") or folder.name in known or not (folder / "data.yaml").is_file():
            continue
        try:
            report = json.loads((folder / "report.json").read_text())
            lineage = report.get("version") or {}  # a label edit's version says whose it is
            ws.add_dataset(
                folder.name, folder, report["format"], sum(report["images"].values()), report["classes"], report["images"], **lineage
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UserError):
            continue  # not one of ours: left alone
        found.append(folder.name)
    return found


def _unresumable(weights: Path) -> str | None:
    """None when a run's weights folder holds a training state to resume from, else why not."""
    if not any((weights / n).is_file() for n in ("resume.pt", "last.pt")):
        return "no epoch had been saved: start the run again"
    from yolov11.training.state import training_state  # loads checkpoints (Ultralytics): only for runs found dead

    try:
        training_state(weights)
    except UserError as exc:
        return str(exc)
    return None
