"""Label issues: a quick-preset run on a copy of the demo set with seeded label corruptions, and
the suspicious labels it ranks (API, CLI, the app's /label_issues); cross-validation of the train
split on the small shared run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from gradio_client import Client

import yolov11
from yolov11.boxes import box_iou

from helpers import ROOT, serving
from label_corruption import KIND_OF

FIELDS = ["image", "kind", "class", "box", "suggested_class", "suggested_box", "score"]


def _found(issue: dict, c: dict) -> bool:
    """Whether ``issue`` points at corruption ``c``: the removed box's place, or the corrupted label itself."""
    if issue["image"] != c["image"] or issue["kind"] != KIND_OF[c["corruption"]]:
        return False
    if c["corruption"] == "removed":
        return box_iou(np.array([issue["suggested_box"]]), np.array([c["box"]]))[0, 0] >= 0.5
    return box_iou(np.array([issue["box"]]), np.array([c["label_box"]]))[0, 0] >= 0.9


def precision_at_k(issues: list[dict], corruptions: list[dict], corruption: str) -> tuple[float, int]:
    """Of the top-k issues of the kind a corruption should raise (k = corruptions of that kind in
    the split), the share that point at one; and k."""
    wanted = [c for c in corruptions if c["corruption"] == corruption]
    top = [i for i in issues if i["kind"] == KIND_OF[corruption]][: len(wanted)]
    return sum(any(_found(i, c) for c in wanted) for i in top) / len(wanted), len(wanted)


@pytest.fixture(scope="module")
def val_issues(corrupted_run) -> dict:
    return yolov11.label_issues(corrupted_run["run"], "val", workspace=corrupted_run["ws"])


@pytest.mark.parametrize("corruption", ["removed", "swapped", "shifted"])
def test_the_seeded_corruptions_rank_first(corrupted_run, val_issues, corruption):
    # Measured on this 2-core machine, the run trained in a process of its own as the suite does
    # (bit-identical from process to process: mAP50 0.618 each time): missing 0.92 (k = 24),
    # wrong_class 0.96 (k = 23), badly_located 1.00 (k = 21) in 3 separate sessions; trained in
    # the pytest process instead: 0.92, 0.91, 1.00; corruption seed 1: 0.90, 1.00, 1.00. The
    # bound is the issue's 0.5: a machine with another core count trains another model
    # (Ultralytics' torch threads), hence the margin.
    val = [c for c in corrupted_run["corruptions"] if c["split"] == "val"]
    precision, k = precision_at_k(val_issues["issues"], val, corruption)
    print(f"\n{corruption} -> {KIND_OF[corruption]}: precision@{k} = {precision:.2f} (run mAP50 {corrupted_run['metrics']['mAP50']:.3f})")
    assert k >= 10  # enough corruptions in the split for the figure to mean something
    assert precision >= 0.5


def test_issues_are_ranked_and_shaped(val_issues):
    issues = val_issues["issues"]
    assert issues
    assert [list(i) for i in issues] == [FIELDS] * len(issues)
    scores = [i["score"] for i in issues]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)  # also false for a NaN, which would break the ranking
    assert {i["kind"] for i in issues} <= set(yolov11.LABEL_ISSUE_KINDS)
    assert all(i["box"] is None for i in issues if i["kind"] == "missing")
    assert all(i["suggested_box"] is not None for i in issues if i["kind"] in ("missing", "badly_located"))
    assert all(i["suggested_class"] not in (None, i["class"]) for i in issues if i["kind"] == "wrong_class")


def test_cli_label_issues_json(corrupted_run, val_issues):
    ws = corrupted_run["ws"]
    out = subprocess.run(
        [sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "label-issues", "--run", corrupted_run["run"], "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["run"] == corrupted_run["run"]
    assert doc["split"] == "val"
    assert doc["issues"] == val_issues["issues"]  # the same saved evaluation, the same ranking


def test_app_label_issues_endpoint(corrupted_run, val_issues):
    ws = corrupted_run["ws"]
    with serving(ws) as url:
        client = Client(url, verbose=False)
        summary, gallery, table, doc, classes, code = client.predict(corrupted_run["run"], "val", 2, api_name="/label_issues")
        narrowed, narrowed_table = client.predict(corrupted_run["run"], "val", "wrong_class", "all classes",
                                                  api_name="/label_issues_gallery")
    assert doc["issues"] == val_issues["issues"]
    assert f"{len(val_issues['issues'])} suspicious labels" in summary
    assert len(gallery) == min(24, len(val_issues["issues"]))
    assert len(table["data"]) == len(val_issues["issues"])
    assert {row[1] for row in narrowed_table["data"]} == {"wrong_class"}
    assert len(narrowed) == min(24, val_issues["counts"]["wrong_class"])
    assert "python -m yolov11 label-issues" in code


def test_train_split_by_cross_validation(trained_run):
    ws, run = trained_run["workspace"], trained_run["run"]
    runs_before = [r["id"] for r in ws.runs()]
    estimate = yolov11.label_issues_estimate(run, 2, fold_epochs=1, workspace=ws)
    assert estimate["trainings"] == 2
    r = yolov11.label_issues(run, "train", 2, fold_epochs=1, workspace=ws)
    train_images = sorted(p.name for p in (trained_run["data_yaml"].parent / "images" / "train").iterdir())
    assert r["split"] == "train"
    assert r["images"] == len(train_images)  # every train image predicted once, by the fold model that did not see it
    assert {i["image"].split("/")[-1] for i in r["issues"]} <= set(train_images)
    assert [x["id"] for x in ws.runs()] == runs_before  # fold models live in the run folder's own workspace
    assert len(yolov11.Workspace.at(ws.runs_dir / run / "label-folds" / "workspace").runs()) == 2


def test_train_split_in_sample_by_the_runs_own_model(trained_run):
    """No fold trainings: the run's evaluation of its train split, scored the same way; saved apart
    from the k-fold result (which it never replaces), and the CLI says it is in-sample."""
    ws, run = trained_run["workspace"], trained_run["run"]
    runs_before = [r["id"] for r in ws.runs()]
    r = yolov11.label_issues(run, "train", in_sample=True, workspace=ws)
    train_images = sorted(p.name for p in (trained_run["data_yaml"].parent / "images" / "train").iterdir())
    assert r["split"] == "train" and r["in_sample"] is True and "folds" not in r
    assert r["images"] == len(train_images) and r["labels"] > 0
    assert {i["image"].split("/")[-1] for i in r["issues"]} <= set(train_images)
    assert yolov11.saved_label_issues(run, "train", workspace=ws, in_sample=True) == r
    assert (ws.runs_dir / run / "label-issues-train-in-sample.json").is_file() and (ws.runs_dir / run / "eval-train").is_dir()
    assert [x["id"] for x in ws.runs()] == runs_before
    out = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "label-issues", "--run", run, "--split", "train",
                          "--in-sample"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"train split of {trained_run['dataset']} (in-sample") and "cross-validation" not in out.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (["--folds", "1", "--split", "train"], "--folds 1: use 2 to 10"),
    (["--in-sample"], "--in-sample val: only the train split"),
    (["--split", "test"], "invalid choice: 'test'"),
])
def test_bad_flags_are_one_line(trained_run, flags, message):
    ws = trained_run["workspace"]
    out = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "label-issues", "--run", trained_run["run"],
                          *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_unknown_run_is_one_line(workspace):
    with pytest.raises(yolov11.UserError, match="--run nope: no such run"):
        yolov11.label_issues("nope", workspace=workspace)
