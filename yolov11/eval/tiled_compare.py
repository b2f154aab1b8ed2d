"""Two runs compared where one trained on tiles (``tile_dataset``'s version) and the other on the
full frames it was cut from (or both on tiles of the same frames).

Their own evaluations are not comparable: a tiled version's val split is tiles, the parent's is
frames. What is compared instead is what a user deploys: each run predicts the full val frames of
the untiled dataset, tile by tile (at the tiled run's tile size and overlap) and in one pass, and
both are scored by the same COCO evaluator (faster-coco-eval, as ``eval --slice``). The result says
so, and gives a gain only when the two runs' frames hold the same images and labels.
"""

from __future__ import annotations

import os
from typing import Callable

from yolov11.eval.comparable import same_ground_truth
from yolov11.workspace import Workspace

EVALUATOR = "faster-coco-eval"


def frames_of(ws: Workspace, dataset: str) -> tuple[str, dict | None]:
    """The dataset whose full frames ``dataset`` holds, and its tiling's lineage: a tiled version's
    parent and {"size", "overlap", ...}; any other dataset itself and None."""
    record = ws.dataset(dataset or "") or {}
    tiles = (record.get("diff") or {}).get("tiles")
    return (record["parent"], tiles) if tiles and record.get("parent") else (dataset, None)


def tiled_comparison(run_a: str, run_b: str, split: str = "val", workspace: Workspace | str | os.PathLike | None = None,
                     progress: Callable[[float, str], None] | None = None) -> dict | None:
    """None when neither run trained on tiles; else {"data": the frames' dataset, "split",
    "evaluator", "same" (``same_ground_truth`` of the two runs' frames), "slicing": {run: settings},
    "results": {run: ``evaluate(sliced=)``'s result on those frames}} (results empty when the
    frames differ: no number would compare). A run's sliced evaluation is kept and reused."""
    from yolov11.eval.evaluate import evaluate, saved_evaluation_on
    from yolov11.serve.sliced import Slicing

    ws = Workspace.at(workspace)
    runs = (run_a, run_b)
    frames = {r: frames_of(ws, ws.require_run(r).get("dataset") or "") for r in runs}
    if not any(lineage for _, lineage in frames.values()):
        return None
    same = same_ground_truth(frames[run_a][0], frames[run_b][0], split, workspace=ws)
    data = frames[run_a][0] if frames[run_a][1] is None else frames[run_b][0]
    out = {"data": data, "split": split, "evaluator": EVALUATOR, "same": same, "slicing": {}, "results": {}}
    if not same["same"]:
        return out
    for k, run in enumerate(runs):
        lineage = frames[run][1] or frames[runs[1 - k]][1]  # a run on full frames is sliced as the tiled run was cut
        slicing = Slicing(size=int(lineage["size"]), overlap=float(lineage["overlap"]))
        if progress:
            progress(k / 2, f"{run}: the full {split} frames of {data}, tile by tile and in one pass")
        out["slicing"][run] = slicing.__dict__
        out["results"][run] = (saved_evaluation_on(run, data, split, slicing, workspace=ws)
                               or evaluate(run=run, data=data, split=split, sliced=slicing, workspace=ws))
    return out
