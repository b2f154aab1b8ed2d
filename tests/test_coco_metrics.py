"""COCO numbers: faster-coco-eval (our default) against pycocotools (the reference), to 1e-6."""

from __future__ import annotations

import json

import numpy as np
import pytest

from yolov11 import UserError
from yolov11.eval.coco_metrics import COCO_NAMES, coco_evaluate


def _coco_files(tmp_path, seed: int = 0):
    """Ground truth with crowd regions and small / medium / large objects, and detections that are
    jittered copies of it plus clutter, with 150 detections on every fourth image (COCO keeps the
    best 100 per image, so AR100 and the AP numbers depend on that cut being the same)."""
    rng = np.random.default_rng(seed)
    images, gts, dts = [], [], []
    for img_id in range(1, 21):
        W, H = 640, 480
        images.append({"id": img_id, "width": W, "height": H, "file_name": f"{img_id}.jpg"})
        for _ in range(rng.integers(1, 12)):
            side = float(rng.choice([12, 24, 48, 80, 130, 220]) * rng.uniform(0.8, 1.2))  # all three COCO area ranges
            x, y = rng.uniform(0, W - side), rng.uniform(0, H - side)
            w, h = side, side * rng.uniform(0.6, 1.4)
            crowd = int(rng.random() < 0.1)
            gts.append({"id": len(gts) + 1, "image_id": img_id, "category_id": int(rng.integers(1, 4)), "bbox": [x, y, w, h], "area": w * h,
                        "iscrowd": crowd})
            if rng.random() < 0.8:  # found, a little off, maybe in the wrong class
                j = rng.normal(0, 0.08 * side, 4)
                cat = gts[-1]["category_id"] if rng.random() < 0.85 else int(rng.integers(1, 4))
                dts.append({"image_id": img_id, "category_id": cat, "bbox": [x + j[0], y + j[1], max(w + j[2], 2), max(h + j[3], 2)],
                            "score": float(rng.uniform(0.3, 1))})
        clutter = 150 if img_id % 4 == 0 else int(rng.integers(0, 20))
        for _ in range(clutter):
            side = float(rng.uniform(8, 200))
            dts.append({"image_id": img_id, "category_id": int(rng.integers(1, 4)),
                        "bbox": [float(rng.uniform(0, W - side)), float(rng.uniform(0, H - side)), side, side],
                        "score": float(rng.uniform(0, 0.7))})
    gt = {"images": images, "annotations": gts, "categories": [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dts))
    return tmp_path / "gt.json", tmp_path / "dt.json", gt, dts


def test_faster_coco_eval_agrees_with_pycocotools(tmp_path):
    gt_file, dt_file, gt, dts = _coco_files(tmp_path)
    # The fixture exercises what it claims to: crowds, each area range, more than 100 detections per image.
    areas = [a["area"] for a in gt["annotations"]]
    assert any(a["iscrowd"] for a in gt["annotations"])
    assert min(areas) < 32**2
    assert any(32**2 < a < 96**2 for a in areas)
    assert max(areas) > 96**2
    assert max(np.bincount([d["image_id"] for d in dts])) > 100

    fast = coco_evaluate(gt_file, dt_file)
    ref = coco_evaluate(gt_file, dt_file, evaluator="pycocotools")
    assert fast["evaluator"] == "faster-coco-eval"
    assert ref["evaluator"] == "pycocotools"
    assert list(fast["coco"]) == list(ref["coco"]) == COCO_NAMES
    for name in COCO_NAMES:
        assert fast["coco"][name] == pytest.approx(ref["coco"][name], abs=1e-6), name
    assert 0.05 < ref["coco"]["AP"] < 0.95  # a meaningful score, neither empty nor perfect
    assert ref["coco"]["AR1"] < ref["coco"]["AR10"] <= ref["coco"]["AR100"]
    assert fast["detections"] == len(dts)
    # The files were read, not changed: both libraries write ids and areas into what they load.
    assert json.loads(dt_file.read_text()) == dts


def test_perfect_and_empty_detections(tmp_path):
    _, _, gt, _ = _coco_files(tmp_path, seed=1)
    gt["annotations"] = [a | {"iscrowd": 0} for a in gt["annotations"]]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in gt["annotations"]]
    (tmp_path / "dt.json").write_text(json.dumps(perfect))
    for evaluator in ("faster-coco-eval", "pycocotools"):
        coco = coco_evaluate(tmp_path / "gt.json", tmp_path / "dt.json", evaluator=evaluator)["coco"]
        assert coco["AP"] == coco["AP50"] == coco["AP75"] == 1.0, evaluator
    (tmp_path / "dt.json").write_text("[]")
    assert set(coco_evaluate(tmp_path / "gt.json", tmp_path / "dt.json")["coco"].values()) == {0.0}


@pytest.mark.parametrize(
    "gt, dt, message",
    [
        ({"images": []}, [], "--coco-gt gt.json: needs 'images', 'annotations' and 'categories'"),
        ({"images": [{"id": 1}], "annotations": [], "categories": []}, [{"image_id": 1, "bbox": [0, 0, 1, 1]}],
         "detection 0 lacks category_id, score"),
        ({"images": [{"id": 1}], "annotations": [], "categories": []},
         [{"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}], "image_id 7 is not an image of --coco-gt gt.json"),
    ],
)
def test_bad_files_name_the_flag(tmp_path, gt, dt, message):
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    with pytest.raises(UserError, match=message):
        coco_evaluate(tmp_path / "gt.json", tmp_path / "dt.json")


def test_unknown_evaluator_is_refused(tmp_path):
    gt_file, dt_file, _, _ = _coco_files(tmp_path)
    with pytest.raises(UserError, match="--evaluator detectron: use faster-coco-eval or pycocotools"):
        coco_evaluate(gt_file, dt_file, evaluator="detectron")
