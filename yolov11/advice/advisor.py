"""What to fix next: after a run, the actions ranked by the mAP50-95 each is expected to add.

``advise(run)`` reads what the project already records about a run (evidence.py: its evaluation
and where the mAP goes, the split's label issues, the dataset's health report, the learning
curves) and asks each estimator (on_errors.py, on_tiles.py, on_curves.py) for its action: what to do, the
expected gain in mAP50-95 and how it was estimated (each says how rough it is), the evidence
(counts, classes, example images) and the one command that does it. The ranking shows every
action an estimator made, best first: none is hidden because its estimate is rough. The result
is written to ``runs/<run>/advice-<split>.json`` (``saved_advice`` reads it back).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from yolov11.advice import on_curves, on_errors, on_tiles
from yolov11.advice.evidence import Evidence, Progress, gather
from yolov11.advice.followed import KINDS
from yolov11.errors import UserError, plain
from yolov11.workspace import Workspace
from yolov11.workspace.paths import advice_file, write_whole

ESTIMATORS: tuple[Callable, ...] = (on_errors.fix_labels, on_curves.more_data, on_tiles.small_objects, on_errors.duplicates,
                                    on_errors.background, on_curves.resplit, on_curves.train_longer, on_curves.regularise)


def _path(ws: Workspace, run: str, split: str) -> Path:
    return advice_file(ws.require_run(run)["dir"], split)


def advise(run: str, split: str = "val", workspace: Workspace | str | os.PathLike | None = None, progress: Progress | None = None) -> dict:
    """The actions for ``run`` on ``split``, best first: {"run", "split", "dataset", "metrics",
    "breakdown" (where the mAP goes: ``evaluate``'s ``error_breakdown``), "actions": [{"kind",
    "title", "expected_gain" (mAP50-95), "how", "evidence", "command"}]} (+ "skipped": {estimate:
    why}, where one could not be made). A run without a saved
    evaluation of ``split`` is evaluated first; ``progress(fraction, message)`` follows it."""
    ws = Workspace.at(workspace)
    progress = progress or (lambda fraction, message: None)
    progress(0.0, f"reading what run {run} recorded")
    ev = gather(run, split, ws, progress)
    progress(0.8, "estimating each action's gain")
    result = _ranked(ev)
    progress(1.0, f"{len(result['actions'])} actions")
    return result


def advise_at_end(run: str, workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """The short version a training gives as it ends (before its status says done): the val split
    evaluated, and the actions from it and the curves; suspicious labels only where an earlier
    label_issues scored them (``advise`` scores them). A run on a version that followed advice is
    also scored against that advice (``advice_outcome``)."""
    from yolov11.advice.outcome import advice_outcome

    ws = Workspace.at(workspace)
    result = _ranked(gather(run, "val", ws, lambda fraction, message: None, at_end=True))
    advice_outcome(run, "val", workspace=ws)  # a run on a version that followed advice: what it bought, for the Runs table
    return result


def _ranked(ev: Evidence) -> dict:
    actions, skipped = [], {}
    for estimate in ESTIMATORS:
        try:
            found = estimate(ev)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - one estimate that cannot be made leaves the others, and says why
            skipped[estimate.__name__] = f"{type(exc).__name__}: {plain(exc, 200)}"
            continue
        if found is not None:
            actions.append(found)
    actions.sort(key=lambda a: (-a["expected_gain"], KINDS.index(a["kind"])))
    result = {"run": ev.run, "split": ev.split, "dataset": ev.dataset, "metrics": ev.evaluation["metrics"], "breakdown": ev.breakdown,
              "actions": actions, **({"skipped": skipped} if skipped else {})}
    write_whole(_path(ev.ws, ev.run, ev.split), json.dumps(result, indent=2))
    return result


def saved_advice(run: str, split: str = "val", workspace: Workspace | str | os.PathLike | None = None) -> dict | None:
    """What an earlier ``advise`` said for a run and split, or None."""
    path = _path(Workspace.at(workspace), run, split)
    return json.loads(path.read_text()) if path.is_file() else None
