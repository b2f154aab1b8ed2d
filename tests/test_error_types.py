"""Where the mAP goes (issue 25): our TIDE error types and oracle gains against the ``tidecv``
package itself (to 1e-6) on seeded prediction sets holding every error type, with tied scores, and
on a real evaluation of the shared trained model; and a hand-built set whose every number is
worked out below."""

from __future__ import annotations

import numpy as np
import pytest
from tidecv import TIDE, Data
from tidecv.errors.main_errors import BackgroundError, BoxError, ClassError, DuplicateError, MissedError, OtherError

import yolov11
from yolov11.eval.error_types import TYPES, breakdown, error_records, oracle_gain

TIDE_NAMES = {ClassError: "classification", BoxError: "localisation", OtherError: "both", DuplicateError: "duplicate",
              BackgroundError: "background", MissedError: "missed"}


def tide(gt_doc: dict, dt_doc: list[dict]) -> dict:
    """tidecv's numbers for the same documents, on our [0, 1] scale."""
    gt, dt = Data("gt"), Data("dt")
    for image in gt_doc["images"]:
        gt.add_image(image["id"], str(image["id"]))  # an image without objects still counts its detections as background
    for a in gt_doc["annotations"]:
        gt.add_ground_truth(a["image_id"], a["category_id"], a["bbox"])
    for d in dt_doc:
        dt.add_detection(d["image_id"], d["category_id"], d["score"], d["bbox"])
    run = TIDE().evaluate(gt, dt, mode=TIDE.BOX)
    return {"mAP50": run.ap / 100, "gains": {TIDE_NAMES[k]: v / 100 for k, v in run.fix_main_errors().items()},
            "progressive": {TIDE_NAMES[k]: v / 100 for k, v in run.fix_main_errors(progressive=True).items()},
            "counts": {TIDE_NAMES[k]: v for k, v in run.count_errors().items()}}


def synthetic(seed: int) -> tuple[dict, list[dict]]:
    """30 images, 3 classes: objects found well, badly placed, with the wrong class, twice, not at
    all, plus background detections; scores rounded to 0.05 so that many tie."""
    rng = np.random.default_rng(seed)
    images, annotations, detections = [], [], []

    def det(image_id, cls, box, score=None):
        detections.append({"image_id": image_id, "category_id": int(cls), "bbox": [float(v) for v in box],
                           "score": float(np.round(rng.uniform(0.05, 1) if score is None else score, 2) // 0.05 * 0.05 + 0.05)})

    for image_id in range(1, 31):
        images.append({"id": image_id, "width": 320, "height": 320})
        for _ in range(int(rng.integers(0, 6))):
            x, y, w, h = rng.uniform(0, 250), rng.uniform(0, 250), rng.uniform(8, 60), rng.uniform(8, 60)
            cls = int(rng.integers(1, 4))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cls, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0})
            fate = rng.choice(["good", "good", "loc", "cls", "dupe", "miss", "both"])
            if fate in ("good", "dupe"):
                det(image_id, cls, [x + rng.uniform(-2, 2), y + rng.uniform(-2, 2), w, h])
            if fate == "dupe":
                det(image_id, cls, [x + rng.uniform(-3, 3), y, w * rng.uniform(0.9, 1.1), h])
            if fate == "loc":
                det(image_id, cls, [x + w * 0.55, y + h * 0.3, w, h])
            if fate == "cls":
                det(image_id, cls % 3 + 1, [x, y + 1, w, h])
            if fate == "both":
                det(image_id, cls % 3 + 1, [x + w * 0.5, y + h * 0.4, w, h])
        for _ in range(int(rng.integers(0, 3))):  # background
            det(image_id, int(rng.integers(1, 4)), [rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(5, 20), rng.uniform(5, 20)])
    return {"images": images, "annotations": annotations, "categories": [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)]}, detections


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_oracle_gains_equal_tidecvs(seed):
    gt_doc, dt_doc = synthetic(seed)
    ours, theirs = breakdown(gt_doc, dt_doc), tide(gt_doc, dt_doc)
    assert ours["mAP50"] == pytest.approx(theirs["mAP50"], abs=1e-6)
    assert ours["counts"] == theirs["counts"]
    assert all(ours["counts"][kind] > 0 for kind in TYPES), ours["counts"]  # every type is exercised
    for kind in TYPES:
        assert ours["gains"][kind] == pytest.approx(theirs["gains"][kind], abs=1e-6), kind
        assert ours["progressive"][kind] == pytest.approx(theirs["progressive"][kind], abs=1e-6), kind
    records = error_records(gt_doc, dt_doc)
    assert [sum(r["kind"] == kind for r in records) for kind in TYPES] == [ours["counts"][kind] for kind in TYPES]
    for kind in ("classification", "missed"):  # a selection of errors fixed: all of one type is that type's oracle
        assert oracle_gain(gt_doc, dt_doc, lambda r, kind=kind: r["kind"] == kind) == pytest.approx(ours["gains"][kind], abs=1e-12)
    # Fixed one after another, every error is gone: base + the progressive gains = AP 1 (every class has objects here)
    assert ours["mAP50"] + sum(ours["progressive"].values()) == pytest.approx(1.0, abs=1e-9)


def test_a_real_evaluation_breaks_down_as_tidecv_does(trained_run):
    import json
    from pathlib import Path

    ws = trained_run["workspace"]
    r = yolov11.saved_evaluation(trained_run["run"], "val", workspace=ws) or yolov11.evaluate(run=trained_run["run"], workspace=ws)
    gt_doc = json.loads(Path(r["files"]["coco_gt"]).read_text())
    dt_doc = json.loads(Path(r["files"]["coco_dt"]).read_text())
    ours, theirs = breakdown(gt_doc, dt_doc), tide(gt_doc, dt_doc)
    assert ours["mAP50"] == pytest.approx(theirs["mAP50"], abs=1e-6) and ours["counts"] == theirs["counts"]
    for kind in TYPES:
        assert ours["gains"][kind] == pytest.approx(theirs["gains"][kind], abs=1e-6), kind


def test_a_hand_built_set_gives_the_numbers_worked_out_by_hand():
    # One image, class 1 ("helmet") objects A at (0,0,10,10) and B at (50,50,10,10); class 2 ("head") object C at (100,100,10,10).
    #   0.9 helmet on A                  true positive
    #   0.8 helmet on A again            duplicate
    #   0.7 head on B                    classification (IoU 1 with an object of another class)
    #   0.6 helmet at (55,50,10,10)      localisation on B (IoU 50/150 = 1/3)
    #   0.5 head at (200,200,10,10)      background
    #   C                                missed (no detection on it)
    # helmet: points 0.9 T, 0.8 F, 0.6 F over 2 objects -> precision 1 up to recall 0.5: 51 of 101 points -> AP 51/101
    # head:   points 0.7 F, 0.5 F over 1 object -> AP 0;  mAP50 = (51/101 + 0) / 2
    gt_doc = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "helmet"}, {"id": 2, "name": "head"}],
              "annotations": [{"id": k + 1, "image_id": 1, "category_id": c, "bbox": b, "area": 100, "iscrowd": 0}
                              for k, (c, b) in enumerate([(1, [0, 0, 10, 10]), (1, [50, 50, 10, 10]), (2, [100, 100, 10, 10])])]}
    dt_doc = [{"image_id": 1, "category_id": c, "bbox": b, "score": s} for c, b, s in [
        (1, [0, 0, 10, 10], 0.9), (1, [0, 0, 10, 10], 0.8), (2, [50, 50, 10, 10], 0.7), (1, [55, 50, 10, 10], 0.6),
        (2, [200, 200, 10, 10], 0.5)]]
    r = breakdown(gt_doc, dt_doc)
    base = (51 / 101 + 0) / 2
    assert r["mAP50"] == pytest.approx(base, abs=1e-12)
    assert r["counts"] == {"classification": 1, "localisation": 1, "both": 0, "duplicate": 1, "background": 1, "missed": 1}
    # classification fixed: the 0.7 head becomes a helmet true positive on B; the 0.6 helmet aimed at B too is removed
    #   (B's best-scored fix is the 0.7): helmet 0.9 T, 0.8 F, 0.7 T -> precision 1 to 0.5, then 2/3 to 1.0 -> (51 + 50 * 2/3) / 101
    #   head: no detection left, 1 object -> AP 0
    assert r["gains"]["classification"] == pytest.approx(((51 + 50 * 2 / 3) / 101 + 0) / 2 - base, abs=1e-12)
    # localisation fixed: the 0.6 helmet would take B, but the 0.7 head scores higher for B: removed instead -> helmet
    #   0.9 T, 0.8 F over 2 -> still 51/101: no gain
    assert r["gains"]["localisation"] == pytest.approx(0.0, abs=1e-12)
    # duplicate removed: helmet 0.9 T, 0.6 F -> 51/101, no gain; background removed: head keeps 0.7 F -> 0
    assert r["gains"]["duplicate"] == pytest.approx(0.0, abs=1e-12) and r["gains"]["background"] == pytest.approx(0.0, abs=1e-12)
    # missed fixed: C leaves the count, head has 0 objects and 2 false detections -> AP 0 (still a class): no gain
    assert r["gains"]["missed"] == pytest.approx(0.0, abs=1e-12)
    helmet = next(c for c in r["per_class"] if c["class"] == "helmet")
    assert helmet["AP50"] == pytest.approx(51 / 101) and helmet["classification"] == pytest.approx(50 * 2 / 3 / 101)
    assert r["by_size"] == {"false_positives": {"small": 4, "medium": 0, "large": 0},
                            "false_negatives": {"small": 2, "medium": 0, "large": 0}}  # B and C: 10x10 boxes are small
    assert r == breakdown(gt_doc, list(reversed(dt_doc)))
    records = {rec["kind"]: rec for rec in error_records(gt_doc, dt_doc)}
    assert records["missed"]["object"] == [100, 100, 10, 10] and records["missed"]["detection"] is None
    assert records["classification"]["object"] == [50, 50, 10, 10] and records["classification"]["class"] == "head"
    assert records["background"]["object"] is None and records["background"]["detection"] == [200, 200, 10, 10]
    # Only the classification error on B fixed: its gain; with the background one too: the same (removing it changes no AP here)
    assert oracle_gain(gt_doc, dt_doc, lambda rec: rec["kind"] == "classification") == pytest.approx(r["gains"]["classification"])
    assert oracle_gain(gt_doc, dt_doc, lambda rec: rec["kind"] in ("classification", "background")) == pytest.approx(
        r["gains"]["classification"])
    assert oracle_gain(gt_doc, dt_doc, lambda rec: False) == 0.0  # the order detections come in does not matter (no ties)
