"""What followed advice bought: a run trained on a version whose lineage says which run's advice
(and which kind of action) led to it, scored against that run, with the gain the advice expected.

Measured on the same ground truth: where the split holds the same images and labels in both
datasets, each run's own evaluation; where only its labels changed (a label fix touched val), both
runs are scored on the newer labels (the advised run evaluated on the new version, kept in
``eval-<split>-on-<dataset>``) and the result says so; where the images differ, the runs are not
comparable and no number is given."""

from __future__ import annotations

import json
import os
from pathlib import Path

from yolov11.eval.comparable import same_ground_truth
from yolov11.workspace import Workspace
from yolov11.workspace.paths import outcome_file

COMPARED_SETTINGS = ("model", "epochs", "imgsz", "batch", "seed")  # "as the run": what a retrain keeps


def lineage_advice(ws: Workspace, dataset: str) -> tuple[dict, str] | None:
    """The advice recorded nearest in ``dataset``'s chain of versions (itself first), and that version's name."""
    name, seen = dataset, set()
    while name and name not in seen:
        seen.add(name)
        record = ws.dataset(name)
        if record is None:
            return None
        advice = (record.get("diff") or {}).get("advice")
        if advice:
            return advice, name
        name = record.get("parent")
    return None


def _scored(ws: Workspace, run: str, data: str | None, split: str) -> dict:
    from yolov11.eval.evaluate import evaluate, saved_evaluation_on

    return saved_evaluation_on(run, data, split, workspace=ws) or evaluate(run=run, data=data, split=split, workspace=ws)


def advice_outcome(run: str, split: str = "val", workspace: Workspace | str | os.PathLike | None = None) -> dict | None:
    """None when ``run``'s dataset follows no advice; else {"run", "advised_run", "kind", "version",
    "split", "predicted" (mAP50-95 the advice expected; None if it said nothing of that kind),
    "measured" (this run's mAP50-95 minus the advised run's, on the same ground truth; None when not
    comparable), "comparable", "how" (in words: which labels both were scored on, settings that
    differ; a run on tiles: the frames, tile by tile against one pass), "scores": {run: mAP50-95}},
    also kept in ``runs/<run>/advice-outcome-<split>.json``
    (``saved_outcome``)."""
    ws = Workspace.at(workspace)
    record = ws.require_run(run)
    result = _outcome(ws, run, record, split)
    if result is not None:
        outcome_file(record["dir"], split).write_text(json.dumps(result, indent=2))
    return result


def saved_outcome(run_dir: str | os.PathLike, split: str = "val") -> dict | None:
    """What ``advice_outcome`` last found for a run's folder, or None."""
    try:
        return json.loads(Path(outcome_file(run_dir, split)).read_text())
    except (OSError, ValueError):
        return None


def _on_frames(ws: Workspace, advised: str, run: str, split: str) -> dict | None:
    """A run on tiles against the run on their frames (``tiled_comparison``): the retrained run tile
    by tile, the advised one in one pass, as each is meant to predict, both on the frames by one
    COCO evaluator; None when neither trained on tiles."""
    from yolov11.eval.tiled_compare import tiled_comparison

    tiled = tiled_comparison(advised, run, split, workspace=ws)
    if tiled is None:
        return None
    if not tiled["results"]:
        return {"how": f"the {split} frames of the two runs differ: the runs are not comparable"}
    scores = {advised: tiled["results"][advised]["unsliced"]["metrics"]["mAP50-95"], run: tiled["results"][run]["metrics"]["mAP50-95"]}
    how = (f"the full {split} frames of {tiled['data']}: the retrained run tile by tile, the advised run in one pass, both scored by "
           f"{tiled['evaluator']} (COCO)")
    return {"comparable": True, "measured": round(scores[run] - scores[advised], 4), "how": how, "scores": scores}


def _outcome(ws: Workspace, run: str, record: dict, split: str) -> dict | None:
    found = lineage_advice(ws, record["dataset"] or "")
    if found is None:
        return None
    advice, version = found
    out = {"run": run, "advised_run": advice["run"], "kind": advice["kind"], "version": version, "split": split,
           "predicted": advice.get("expected_gain"), "measured": None, "comparable": False, "scores": {}}
    base = ws.run(advice["run"])
    if base is None:
        return out | {"how": f"run {advice['run']}, whose advice this follows, is deleted: nothing to compare with"}
    same = same_ground_truth(base["dataset"], record["dataset"], split, workspace=ws)
    tiled = None if same["same"] else _on_frames(ws, advice["run"], run, split)
    if tiled is not None:
        return out | tiled
    if same["same"]:
        a, b = _scored(ws, advice["run"], None, split), _scored(ws, run, None, split)
        how = f"both runs scored on the same {split} images and labels"
    elif same["same_images"]:
        a, b = _scored(ws, advice["run"], record["dataset"], split), _scored(ws, run, None, split)
        how = f"the {split} labels changed between the versions: both runs scored on the newer labels of {record['dataset']}"
    else:
        return out | {"how": f"the {split} images of {base['dataset']} and {record['dataset']} differ: the runs are not comparable"}
    differ = [k for k in COMPARED_SETTINGS if (base.get("settings") or {}).get(k) != (record.get("settings") or {}).get(k)]
    if differ:
        how += f"; trained with other settings ({', '.join(differ)}): not the data's doing alone"
    scores = {advice["run"]: a["metrics"]["mAP50-95"], run: b["metrics"]["mAP50-95"]}
    return out | {"comparable": True, "measured": round(scores[run] - scores[advice["run"]], 4), "how": how, "scores": scores}
