"""What the advice reads about a run, gathered once: its evaluation on the split (evaluated first
when there is none), the evaluation's records and error breakdown, the split's label issues
(scored now for val when there are none: cleanlab over the saved predictions, seconds), the train
split's (label_issues' k folds where an earlier run of it made them, else scored now in-sample by the
run's own model: seconds, a lower bound), the dataset's health report and the run's learning curves."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from yolov11.errors import UserError
from yolov11.workspace import Workspace

Progress = Callable[[float, str], None]
FINISHED = ("done", "stopped", "interrupted")


@dataclass
class Evidence:
    ws: Workspace
    run: str
    split: str
    record: dict  # the run's registry record
    evaluation: dict  # evaluate()'s result
    gt_doc: dict
    dt_doc: list
    report: dict  # the dataset's report.json ({} when there is none)
    history: list  # one entry per epoch (run_status' history)
    issues: dict | None  # label_issues' result for the split, None where there is none (test split)
    train_issues: dict | None  # the train split's: k folds where an earlier label_issues made them, else in-sample ("in_sample": true)

    @functools.cached_property
    def analysis(self):
        """TIDE's matching of this evaluation, done once for every estimator (eval.error_types.analyse)."""
        from yolov11.eval.error_types import analyse

        return analyse(self.gt_doc, self.dt_doc)

    @functools.cached_property
    def errors(self) -> list[dict]:
        """Every error of this evaluation (eval.error_types.error_records), listed once."""
        from yolov11.eval.error_types import error_records

        return error_records(self.gt_doc, self.dt_doc, self.analysis)

    def oracle_gain(self, keep) -> float:
        """eval.error_types.oracle_gain over this evaluation's one matching."""
        from yolov11.eval.error_types import oracle_gain

        return oracle_gain(self.gt_doc, self.dt_doc, keep, self.analysis)

    @property
    def breakdown(self) -> dict:
        return self.evaluation["error_breakdown"]

    @property
    def ratio(self) -> float:
        """mAP50-95 / mAP50 of this evaluation: how an AP50 gain is turned into mAP50-95 (0.5 when undefined)."""
        m = self.evaluation["metrics"]
        return m["mAP50-95"] / m["mAP50"] if m.get("mAP50") else 0.5

    @property
    def dataset(self) -> str:
        return self.record["dataset"]

    def train_boxes(self) -> dict[str, int]:
        """Boxes per class in the train split (the health report's)."""
        return dict(((self.report.get("splits") or {}).get("train") or {}).get("per_class") or {})


def gather(run: str, split: str, ws: Workspace, progress: Progress, at_end: bool = False) -> Evidence:
    """``at_end``: a training ending (not yet recorded done); the labels are not scored."""
    from yolov11.eval.evaluate import evaluate, saved_evaluation
    from yolov11.eval.label_issues import label_issues, saved_label_issues
    from yolov11.training.status import run_status

    record = ws.require_run(run)
    if record["status"] not in FINISHED and not at_end:
        raise UserError(field="--run", value=run, detail=f"it is {record['status']}; advice needs a finished run")
    if split not in ("val", "test", "train"):
        raise UserError(field="--split", value=split, detail="use val, test or train")
    evaluation = saved_evaluation(run, split, workspace=ws)
    if evaluation is None:
        progress(0.1, f"evaluating {run} on its {split} split")
        evaluation = evaluate(run=run, split=split, workspace=ws)
    gt_doc, dt_doc = (json.loads(Path(evaluation["files"][k]).read_text()) for k in ("coco_gt", "coco_dt"))
    issues = saved_label_issues(run, split, workspace=ws) if split in ("val", "train") else None
    if issues is None and split == "val" and not at_end:
        progress(0.6, "scoring the val labels (label issues)")
        issues = label_issues(run, "val", workspace=ws)
    dataset = ws.dataset(record["dataset"] or "")
    report_file = Path(dataset["path"]) / "report.json" if dataset else None
    report = json.loads(report_file.read_text()) if report_file and report_file.is_file() else {}
    status = run_status(run, workspace=ws) or {}
    train_issues = issues if split == "train" else saved_label_issues(run, "train", workspace=ws)
    if train_issues is None and split == "val" and not at_end:
        train_issues = saved_label_issues(run, "train", workspace=ws, in_sample=True)
        if train_issues is None:
            progress(0.7, "scoring the train labels with the run's own model (in-sample)")
            try:
                train_issues = label_issues(run, "train", in_sample=True, workspace=ws)
            except UserError:  # a train split that cannot be predicted now: fix_labels counts the val part only, and says so
                train_issues = None
    return Evidence(ws, run, split, record, evaluation, gt_doc, dt_doc, report, status.get("history") or [], issues, train_issues)
