"""Every source format gives the same boxes (within half a pixel), with its traps handled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import yolov11
from yolov11.data.demo import CLASSES

import format_fixtures as ff
from helpers import ROOT, zip_folder


@pytest.fixture(scope="module")
def t():
    return ff.truth()


def assert_same_boxes(report: dict, t: dict, splits_kept: bool = True) -> None:
    got, want = ff.pixel_boxes(Path(report["path"]), report["classes"]), ff.truth_boxes(t)
    assert got.keys() == want.keys()
    for stem in want:
        assert got[stem].shape == want[stem].shape, stem
        assert np.array_equal(got[stem][:, 0], want[stem][:, 0]), stem
        assert np.abs(got[stem][:, 1:] - want[stem][:, 1:]).max(initial=0) < 0.5, stem
    if splits_kept:
        assert report["images"] == {"train": 9, "val": 3}
        assert report["split_method"] == "from the source"
    assert sorted(report["classes"]) == sorted(CLASSES)


def test_roboflow_yolo_export(t, tmp_path, workspace):
    src = ff.write_roboflow_yolo(t, tmp_path / "hats-yolo")
    report = yolov11.import_dataset(zip_folder(src, tmp_path / "hats-yolo.zip"), workspace=workspace)
    assert report["format"] == "yolo"
    assert "data.yaml" in report["reason"]
    assert_same_boxes(report, t)
    assert report["counts"]["polygons_to_boxes"] == sum((len(i["boxes"]) + 2) // 3 for i in t.values())
    assert not (tmp_path / "download-ran").exists()  # data.yaml's download: is never run
    data = yaml.safe_load(Path(report["data_yaml"]).read_text())
    assert "download" not in data
    assert data["train"] == "images/train"
    assert "/home/someone" not in json.dumps(data)


def test_flat_yolo_with_classes_txt_gets_a_stratified_split(t, tmp_path, workspace):
    report = yolov11.import_dataset(ff.write_flat_yolo(t, tmp_path / "flat"), val_fraction=0.25, seed=7, workspace=workspace)
    assert_same_boxes(report, t, splits_kept=False)
    assert report["split_method"].startswith("seeded split stratified by class")
    assert report["images"]["val"] == 3
    assert sum(report["images"].values()) == 12
    again = yolov11.import_dataset(ff.write_flat_yolo(t, tmp_path / "flat2"), val_fraction=0.25, seed=7, workspace=workspace)
    val = lambda r: sorted(p.name for p in (Path(r["path"]) / "images" / "val").iterdir())  # noqa: E731
    assert val(report) == val(again)  # same seed, same split


def test_stratified_split_puts_a_rare_class_in_val(tmp_path, workspace):
    src = tmp_path / "rare"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for i in range(40):
        ff.draw_image(0, i, 64)[0].save(src / "images" / f"{i:02d}.jpg")
        cls = 2 if i % 10 == 0 else 0  # class 2 in 4 images of 40
        (src / "labels" / f"{i:02d}.txt").write_text(f"{cls} 0.5 0.5 0.2 0.2\n")
    (src / "classes.txt").write_text("\n".join(CLASSES))
    report = yolov11.import_dataset(src, val_fraction=0.25, workspace=workspace)
    assert report["splits"]["val"]["per_class"]["vest"] == 1
    assert report["splits"]["train"]["per_class"]["vest"] == 3


@pytest.mark.parametrize("per_split", [True, False])
def test_coco_export(t, tmp_path, workspace, per_split):
    report = yolov11.import_dataset(ff.write_coco(t, tmp_path / "coco", per_split=per_split), workspace=workspace)
    assert report["format"] == "coco"
    assert_same_boxes(report, t, splits_kept=per_split)
    assert report["class_map"] == {"3": {"index": 0, "name": "helmet"}, "7": {"index": 1, "name": "head"}, "11": {"index": 2, "name": "vest"}}
    assert any("placeholder category 'hats'" in i for i in report["issues"])


def test_coco_missing_and_unreferenced_images(t, tmp_path, workspace):
    src = ff.write_coco(t, tmp_path / "coco")
    (src / "train" / "site_00.jpg").unlink()
    ff.draw_image(9, 9, 64)[0].save(src / "train" / "stray.jpg")
    report = yolov11.import_dataset(src, workspace=workspace)
    assert report["counts"]["missing_images"] == 1
    assert report["counts"]["unreferenced_images"] == 1
    issues = "\n".join(report["issues"])
    assert "train/_annotations.coco.json: image id 100: file 'site_00.jpg' not found (skipped)" in issues
    assert "stray.jpg: 1 image(s) not referenced by any COCO JSON (skipped)" in issues
    assert sum(report["images"].values()) == 11


def test_pascal_voc_export(t, tmp_path, workspace):
    src = ff.write_voc(t, tmp_path / "voc", difficult_stem="site_03")
    extra = src / "JPEGImages" / "empty_yard.jpg"
    ff.draw_image(1, 99, 96)[0].save(extra)
    report = yolov11.import_dataset(src, workspace=workspace)
    assert report["format"] == "voc"
    assert report["split_method"] == "from the source"
    assert report["classes"] == sorted(CLASSES)  # VOC carries names only: alphabetical, a stable order
    got = ff.pixel_boxes(Path(report["path"]), report["classes"])
    want = ff.truth_boxes(t)
    assert got.pop("empty_yard").shape == (0, 5)
    assert report["counts"]["backgrounds"] == 1
    assert got.keys() == want.keys()
    for stem in want:
        assert np.abs(got[stem] - want[stem]).max(initial=0) < 0.5, stem
    assert report["counts"]["difficult_boxes"] == 1
    assert any("matches 'site_00.jpg' only ignoring case" in i for i in report["issues"])
    with_difficult = yolov11.import_dataset(src, include_difficult=True, workspace=workspace)
    assert with_difficult["boxes"] == report["boxes"] + 1


def test_cvat_and_labelme_exports(t, tmp_path, workspace):
    cvat = yolov11.import_dataset(ff.write_cvat(t, tmp_path / "cvat"), workspace=workspace)
    assert cvat["format"] == "cvat"
    assert_same_boxes(cvat, t)
    labelme = yolov11.import_dataset(ff.write_labelme(t, tmp_path / "labelme"), workspace=workspace)
    assert labelme["format"] == "labelme"
    assert_same_boxes(labelme, t, splits_kept=False)


def test_roboflow_createml_export(t, tmp_path, workspace):
    src = ff.write_createml(t, tmp_path / "hats-createml")
    report = yolov11.import_dataset(zip_folder(src, tmp_path / "hats-createml.zip"), workspace=workspace)
    assert report["format"] == "createml"
    assert "train/_annotations.createml.json" in report["reason"]
    assert report["classes"] == sorted(CLASSES)  # names only: alphabetical, as VOC and LabelMe
    assert_same_boxes(report, t)  # centre-based pixels read as centres: within half a pixel
    assert report["issue_count"] == 0


def test_createml_hostile_entries_are_reported(t, tmp_path, workspace):
    src = ff.write_createml(t, tmp_path / "cml")
    doc_path = src / "train" / "_annotations.createml.json"
    doc = json.loads(doc_path.read_text())
    first = doc[0]["annotations"]
    first.append({"label": "helmet", "coordinates": {"x": float("nan"), "y": 5, "width": 4, "height": 4}})
    first.append({"label": "helmet", "coordinates": {"x": 20, "y": 20, "width": -8, "height": 4}})
    first.append({"coordinates": {"x": 20, "y": 20, "width": 8, "height": 8}})
    first.append({"label": "vest", "coordinates": {"x": "2", "y": "2", "width": "8", "height": "8"}})  # strings, half outside: clipped
    doc += ["not an entry", {"image": "../../../etc/passwd", "annotations": []}, {"image": "gone.jpg", "annotations": []}]
    doc_path.write_text(json.dumps(doc))  # json writes NaN as NaN, as some exporters do
    report = yolov11.import_dataset(src, workspace=workspace)
    issues = "\n".join(report["issues"])
    at = "train/_annotations.createml.json: entry 1 (site_00.jpg) annotation"
    n = len(t["site_00"]["boxes"])
    assert f"{at} {n + 1}: coordinates x: not finite numbers (dropped)" in issues
    assert f"{at} {n + 2}: width -8 / height 4: a box needs both above 0 (dropped)" in issues
    assert f"{at} {n + 3}: annotation has no 'label' (class) (dropped)" in issues
    assert f"{at} {n + 4}: box extends outside the image (fixed: clipped to the image)" in issues
    assert f"entry {len(doc) - 2}: not an object with an 'image' name and an 'annotations' list (skipped)" in issues
    assert f"entry {len(doc) - 1}: image '../../../etc/passwd' not found (skipped)" in issues
    assert f"entry {len(doc)}: image 'gone.jpg' not found (skipped)" in issues
    assert report["counts"]["missing_images"] == 2
    got = ff.pixel_boxes(Path(report["path"]), report["classes"])
    extra = got["site_00"][(got["site_00"][:, 1] < 0.5) & (got["site_00"][:, 2] < 0.5)]
    assert extra.shape == (1, 5)
    assert np.abs(extra - [CLASSES.index("vest"), 0, 0, 6, 6]).max() < 0.01  # the clipped box, in pixels
    assert sum(report["images"].values()) == 12
    assert "images/train/site_00.jpg" in report["problem_images"]["label_errors"]


def test_cli_import_json_contract(t, tmp_path):
    src = zip_folder(ff.write_voc(t, tmp_path / "voc-hats"), tmp_path / "voc-hats.zip")
    out = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(tmp_path / "ws"), "import", str(src), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"name", "format", "path", "data_yaml", "images", "boxes", "classes", "issues"} <= set(doc)
    assert doc["format"] == "voc"
    assert doc["name"] == "voc-hats"
    assert sum(doc["images"].values()) == 12
    assert Path(doc["data_yaml"]).is_file()
