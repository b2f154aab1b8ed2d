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
    assert report["class_map"] == {"3": {"index": 0, "name": "helmet"}, "7": {"index": 1, "name": "head"},
                                   "11": {"index": 2, "name": "vest"}}
    assert any("placeholder category 'hats'" in i for i in report["issues"])


def _official_coco(root: Path) -> Path:
    """The official COCO 2017 layout, cut down: instances_val2017.json (boxes) beside
    image_info_val2017.json (the same images, no annotations) and labels_val2017.json (image-level
    labels: category ids without boxes, one more image and one more category)."""
    images = [{"id": 139 + i, "file_name": f"{139 + i:012d}.jpg", "width": 96, "height": 96} for i in range(4)]
    (root / "val2017").mkdir(parents=True)
    for k, im in enumerate(images):
        ff.draw_image(5, k, 96)[0].save(root / "val2017" / im["file_name"])
    cats = [{"id": 1, "name": "person", "supercategory": "person"}, {"id": 3, "name": "car", "supercategory": "vehicle"}]
    boxes = [{"id": 1 + k, "image_id": im["id"], "category_id": (1, 3)[k % 2], "bbox": [8, 8, 20, 30], "area": 600, "iscrowd": 0}
             for k, im in enumerate(images[:3])]
    labels = [{"id": 50 + k, "image_id": im["id"], "category_id": 90} for k, im in enumerate(images)]
    docs = {
        "instances_val2017.json": {"images": images[:3], "categories": cats, "annotations": boxes},
        "image_info_val2017.json": {"images": images[:3], "categories": cats, "annotations": []},
        "labels_val2017.json": {"images": images, "categories": [*cats, {"id": 90, "name": "tree", "supercategory": "plant"}],
                                "annotations": labels},
    }
    (root / "annotations").mkdir()
    for name, doc in docs.items():
        (root / "annotations" / name).write_text(json.dumps({"info": {}, "licenses": [], **doc}))
    return root


def test_official_coco_layout_takes_the_boxes_from_instances(tmp_path, workspace):
    report = yolov11.import_dataset(_official_coco(tmp_path / "coco2017"), workspace=workspace)
    assert report["format"] == "coco"
    assert (sum(report["images"].values()), report["boxes"]) == (3, 3)  # the 4th image is listed by labels_ alone: not a background
    assert report["classes"] == ["person", "car"]  # no "tree" from the image-level labels
    assert "annotations/image_info_val2017.json: COCO image list file, not detection boxes (ignored)" in report["issues"]
    assert "annotations/labels_val2017.json: COCO image-level labels file, not detection boxes (ignored)" in report["issues"]
    assert report["counts"]["unreferenced_images"] == 1


def test_an_image_listed_twice_keeps_the_listing_with_boxes(tmp_path, workspace):
    src = _official_coco(tmp_path / "coco")
    # The same empty listing under a name that says nothing: read as a detection file, listed first.
    (src / "annotations" / "image_info_val2017.json").rename(src / "annotations" / "all.json")
    (src / "annotations" / "labels_val2017.json").unlink()
    report = yolov11.import_dataset(src, workspace=workspace)
    assert (sum(report["images"].values()), report["boxes"]) == (3, 3)
    kept = "skipped: kept the one with boxes (annotations/instances_val2017.json)"
    assert f"000000000139.jpg: image listed by more than one annotation file ({kept})" in report["issues"]


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
    extra = src / "JPEGImages" / "empty_yard.jpg"  # no XML: unlabelled, left out unless asked
    ff.draw_image(1, 99, 96)[0].save(extra)
    report = yolov11.import_dataset(src, workspace=workspace)
    assert report["format"] == "voc"
    assert report["split_method"] == "from the source"
    assert report["classes"] == sorted(CLASSES)  # VOC carries names only: alphabetical, a stable order
    got = ff.pixel_boxes(Path(report["path"]), report["classes"])
    want = ff.truth_boxes(t)
    assert report["counts"]["backgrounds"] == 0
    assert got.keys() == want.keys()
    for stem in want:
        assert np.abs(got[stem] - want[stem]).max(initial=0) < 0.5, stem
    assert report["counts"]["difficult_boxes"] == 1
    assert "1 object(s) flagged difficult: left out of training" in report["notes"][0]
    assert any("matches 'site_00.jpg' only ignoring case" in i for i in report["issues"])
    both = yolov11.import_dataset(src, include_difficult=True, unlabelled_as_background=True, workspace=workspace)
    assert both["boxes"] == report["boxes"] + 1
    assert ff.pixel_boxes(Path(both["path"]), both["classes"])["empty_yard"].shape == (0, 5)
    assert both["counts"]["backgrounds"] == 1
    assert "1 object(s) flagged difficult: kept for training (--include-difficult)" in both["notes"]
    assert "note: 1 object(s) flagged difficult: kept" in yolov11.summarize_report(both)


def _add_stray_image(fmt: str, t: dict, root: Path) -> tuple[Path, str]:
    """The fixture of ``fmt`` plus one image no annotation names, where that format keeps its images."""
    src = getattr(ff, f"write_{fmt}")(t, root)
    rel = {"voc": "JPEGImages/stray.jpg", "labelme": "stray.jpg", "createml": "train/stray.jpg", "cvat": "images/stray.jpg"}[fmt]
    ff.draw_image(1, 98, 96)[0].save(src / rel)
    return src, rel


@pytest.mark.parametrize("fmt", ["voc", "labelme", "createml", "cvat"])
def test_an_image_no_annotation_names_is_left_out_unless_asked(fmt, t, tmp_path, workspace):
    src, rel = _add_stray_image(fmt, t, tmp_path / fmt)
    report = yolov11.import_dataset(src, workspace=workspace)
    assert sum(report["images"].values()) == 12
    assert f"{rel}: no annotation names this image (unlabelled) (skipped: --unlabelled-as-background keeps it as a background)" \
        in report["issues"]
    assert (report["counts"]["unlabelled_images"], report["counts"]["unlabelled_as_backgrounds"]) == (1, 0)
    assert any(w.startswith(f"1 image(s) without an annotation left out as unlabelled: {rel}") for w in report["warnings"])
    assert f"warning: 1 image(s) without an annotation left out as unlabelled: {rel}" in yolov11.summarize_report(report)
    kept = yolov11.import_dataset(src, unlabelled_as_background=True, workspace=workspace)
    assert sum(kept["images"].values()) == 13
    assert kept["boxes"] == report["boxes"]
    assert [Path(p).name for p in kept["problem_images"]["unlabelled"]] == ["stray.jpg"]
    assert any(p.endswith("/stray.jpg") for p in kept["problem_images"]["no_labels"])
    assert (kept["counts"]["unlabelled_images"], kept["counts"]["unlabelled_as_backgrounds"]) == (1, 1)
    assert f"{rel}: no annotation names this image (unlabelled) (kept as a background (--unlabelled-as-background))" in kept["issues"]
    assert workspace.dataset(kept["name"])["origin"]["options"]["unlabelled_as_background"] is True


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
    folder, _ = _add_stray_image("voc", t, tmp_path / "voc-hats")
    src = zip_folder(folder, tmp_path / "voc-hats.zip")
    cmd = [sys.executable, "-m", "yolov11", "--workspace", str(tmp_path / "ws"), "import", str(src), "--json", "--unlabelled-as-background"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"name", "format", "path", "data_yaml", "images", "boxes", "classes", "issues", "notes"} <= set(doc)
    assert doc["format"] == "voc"
    assert doc["name"] == "voc-hats"
    assert sum(doc["images"].values()) == 13  # the image without an XML kept, as the flag asks
    assert doc["counts"]["unlabelled_images"] == 1
    assert Path(doc["data_yaml"]).is_file()
    assert yolov11.Workspace.at(tmp_path / "ws").dataset("voc-hats")["origin"]["options"]["unlabelled_as_background"] is True
