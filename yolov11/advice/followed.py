"""The advice a new dataset version follows, recorded in its lineage (``diff["advice"]``): which
run's advice and which kind of action led to it, with the gain that advice expected, so that a run
trained on the version can be scored against the promise (outcome.py)."""

from __future__ import annotations

import json

from yolov11.errors import UserError
from yolov11.workspace import Workspace
from yolov11.workspace.paths import advice_file

KINDS = ("fix_labels", "more_data", "small_objects", "duplicates", "background", "resplit", "train_longer", "regularise")


def followed(ws: Workspace, advice: dict | str | None) -> dict | None:
    """``advice`` ({"run", "kind"} or "RUN:KIND", as ``--advice`` takes it) checked and completed:
    {"run", "kind", "split", "expected_gain" (that run's saved advice for the kind; None where it
    said nothing of that kind)}; None for None."""
    if advice is None or advice == "":
        return None
    if isinstance(advice, str):
        run, _, kind = advice.rpartition(":")
        advice = {"run": run, "kind": kind}
    if not isinstance(advice, dict) or not advice.get("run") or advice.get("kind") not in KINDS:
        raise UserError(field="--advice", value=advice, detail=f"RUN:KIND, the kind one of {', '.join(KINDS)}")
    record = ws.run(str(advice["run"]))
    if record is None:
        raise UserError(field="--advice", value=advice["run"], detail="no such run in this workspace")
    split = advice.get("split") or "val"
    try:
        actions = json.loads(advice_file(record["dir"], split).read_text())["actions"]
    except (OSError, ValueError, KeyError):
        actions = []
    gain = next((a["expected_gain"] for a in actions if a["kind"] == advice["kind"]), None)
    return {"run": str(advice["run"]), "kind": advice["kind"], "split": split, "expected_gain": gain}
