"""Dataset intake: YOLO and COCO zips, the same boxes from both, refusals and label errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import yolov11
from yolov11.data.demo import CLASSES, draw_image

import format_fixtures as ff
from helpers import serving, write_yolo_folder, zip_folder


def _labels(dataset_dir: Path) -> dict[str, np.ndarray]:
    """image stem -> (n, 5) label rows, over all splits."""
    return {p.stem: np.loadtxt(p, ndmin=2).reshape(-1, 5) for p in (dataset_dir / "labels").rglob("*.txt")}


def test_yolo_zip_becomes_a_canonical_dataset(tiny_zip, workspace):
    report = yolov11.import_dataset(tiny_zip, workspace=workspace)
    root = Path(report["path"])
    assert report["format"] == "yolo"
    assert report["name"] == "hardhat-tiny"
    assert report["split_method"] == "from the source"
    assert report["splits"]["train"]["images"] == 12
    assert report["splits"]["val"]["images"] == 4
    assert yaml.safe_load((root / "data.yaml").read_text())["names"] == dict(enumerate(CLASSES))
    assert len(list((root / "images" / "train").glob("*.jpg"))) == 12
    assert json.loads((root / "report.json").read_text())["boxes"] == report["boxes"] > 0
    assert [d["name"] for d in workspace.datasets()] == ["hardhat-tiny"]


def test_reimport_gets_a_new_version_never_mixes(tiny_zip, workspace):
    first = yolov11.import_dataset(tiny_zip, workspace=workspace)
    second = yolov11.import_dataset(tiny_zip, workspace=workspace)
    assert (first["name"], second["name"]) == ("hardhat-tiny", "hardhat-tiny-2")
    assert len(list(Path(first["path"]).rglob("*.jpg"))) == 16


def _as_coco(yolo_dir: Path, dest: Path) -> Path:
    """Write the same images and boxes as COCO JSON (category ids deliberately non-contiguous)."""
    images, annotations, cat_ids = [], [], [3, 7, 11]
    for split in ("train", "val"):
        (dest / split).mkdir(parents=True)
        doc = {"images": [], "annotations": [], "categories": [{"id": 0, "name": "workers", "supercategory": "none"}]}
        doc["categories"] += [{"id": cid, "name": n, "supercategory": "workers"} for cid, n in zip(cat_ids, CLASSES)]
        for img in sorted((yolo_dir / "images" / split).glob("*.jpg")):
            w, h = Image.open(img).size
            image_id = len(images) + 1
            images.append(image_id)
            (dest / split / img.name).write_bytes(img.read_bytes())
            doc["images"].append({"id": image_id, "file_name": img.name, "width": w, "height": h})
            for c, cx, cy, bw, bh in np.loadtxt(yolo_dir / "labels" / split / f"{img.stem}.txt", ndmin=2).reshape(-1, 5):
                bbox = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
                doc["annotations"].append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cat_ids[int(c)], "bbox": bbox,
                                           "area": bbox[2] * bbox[3], "iscrowd": 0})
                annotations.append(1)
        doc["annotations"].append({"id": 999, "image_id": doc["images"][0]["id"], "category_id": 3, "bbox": [0, 0, 5, 5], "area": 25,
                                   "iscrowd": 1})
        (dest / split / "_annotations.coco.json").write_text(json.dumps(doc))
    return dest


def test_coco_export_gives_the_same_boxes_as_yolo(tmp_path, workspace):
    yolo_dir = write_yolo_folder(tmp_path / "src-yolo", n_images=12, size=128)
    coco_dir = _as_coco(yolo_dir, tmp_path / "src-coco")
    from_yolo = yolov11.import_dataset(zip_folder(yolo_dir, tmp_path / "a.zip"), workspace=workspace)
    from_coco = yolov11.import_dataset(zip_folder(coco_dir, tmp_path / "b.zip"), workspace=workspace)
    assert from_coco["format"] == "coco"
    assert from_coco["classes"] == CLASSES  # placeholder 'workers' dropped, ids 3/7/11 -> 0/1/2
    assert from_coco["counts"]["crowd_boxes"] == 2
    a, b = _labels(Path(from_yolo["path"])), _labels(Path(from_coco["path"]))
    assert a.keys() == b.keys()
    assert len(a) == 12
    for stem in a:
        assert np.array_equal(a[stem][:, 0], b[stem][:, 0])
        assert np.abs(a[stem][:, 1:] - b[stem][:, 1:]).max() * 128 < 0.5  # within half a pixel


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    "members, symlink, message",
    [
        ({"../evil.txt": b"x"}, None, "outside the archive"),
        ({"/etc/evil.txt": b"x"}, None, "absolute path"),
        ({"data/a.txt": b"0 0.5 0.5 0.1 0.1"}, "data/link.jpg", "symbolic link"),
    ],
)
def test_unsafe_zips_are_refused_and_leave_nothing(tmp_path, workspace, members, symlink, message):
    bad = _zip(tmp_path / "bad.zip", members, symlink)
    with pytest.raises(yolov11.UserError, match=message):
        yolov11.import_dataset(bad, workspace=workspace)
    assert list(workspace.datasets_dir.iterdir()) == []
    assert workspace.datasets() == []


def test_broken_zip_and_unknown_layout_say_what_is_wrong(tmp_path, workspace):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(yolov11.UserError, match="broken.zip: not a readable zip"):
        yolov11.import_dataset(broken, workspace=workspace)
    img = tmp_path / "photo.jpg"
    draw_image(0, 0, 64)[0].save(img)
    only_images = _zip(tmp_path / "photos.zip", {"photos/a.jpg": img.read_bytes()})
    with pytest.raises(yolov11.UserError, match=r"photos: no supported format found\. Looked for COCO JSON .*Pascal VOC .*CVAT XML .*"
                                                r"LabelMe JSON .*YOLO .*Found 1 images"):
        yolov11.import_dataset(only_images, workspace=workspace)


def test_bad_label_lines_are_reported_with_file_and_line(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "labelled", n_images=8, size=64)
    label = sorted((src / "labels" / "train").glob("*.txt"))[0]
    label.write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5\n7 0.5 0.5 0.2 0.2\n1 nan 0.5 0.2 0.2\n2 0.95 0.5 0.2 0.2\n1 0.5 0.5 0 0.3\n"
                     "2 0.1 0.1 0.3 0.1 0.3 0.4\n")
    report = yolov11.import_dataset(src, workspace=workspace)
    where = f"labels/train/{label.name}"
    issues = "\n".join(report["issues"])
    assert f"{where}:2: 3 columns" in issues
    assert "(dropped)" in issues
    assert f"{where}:3: class id 7 out of range 0..2 (dropped)" in issues
    assert f"{where}:4: NaN or infinite value (dropped)" in issues
    assert f"{where}:5: coordinates outside 0..1 (fixed: clipped to the image)" in issues
    assert f"{where}:6: zero-area box (dropped)" in issues
    rows = np.loadtxt(Path(report["path"]) / "labels" / "train" / label.name, ndmin=2)
    assert len(rows) == 3  # the good box, the clipped box, and the polygon turned into its box
    assert report["counts"]["polygons_to_boxes"] == 1


def test_demo_dataset_is_deterministic_and_ready(workspace):
    a, la = draw_image(7, 3)
    b, lb = draw_image(7, 3)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(la, lb)
    assert len(la) > 0
    report = yolov11.ensure_demo_dataset(workspace)
    assert report["images"] == {"train": 240, "val": 60}
    assert report["classes"] == CLASSES
    assert all(report["boxes_per_class"][c] > 100 for c in CLASSES)
    assert report["families"]["count"] == 0  # look-alike site scenes, each drawn once: no family of copies (issue 21, item 5)
    assert yolov11.ensure_demo_dataset(workspace)["name"] == "demo-hardhat"
    assert len(workspace.datasets()) == 1


def test_label_lines_are_formatted_as_float32_boxes_print():
    from yolov11.data.placement import _label_text

    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.integers(0, 80, (200, 1)), rng.random((200, 4))], axis=1).astype(np.float32)
    boxes[0, 1:] = [0.0, -0.0, 1.0, 5e-7]  # zero, negative zero, one, a value that rounds
    reference = "".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in boxes)
    assert _label_text(boxes) == reference
    assert _label_text(np.zeros((0, 5), np.float32)) == ""


def test_image_checks_made_ahead_equal_those_made_in_place(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from yolov11.data.checks import inspect_image
    from yolov11.data.placement import ImageChecks

    src = write_yolo_folder(tmp_path / "src", n_images=40, size=64)
    images = sorted((src / "images").rglob("*.jpg"))
    assert len(images) == 40
    with ThreadPoolExecutor(2) as pool:
        checks = ImageChecks(images[:30], pool)  # the last 10 were not started ahead
        first = [checks.get(p) for p in images[:5]]
        checks.stop()  # batches not begun are checked in place instead
        rest = [checks.get(p) for p in images[5:]]
    assert [vars(i) for i in first + rest] == [vars(inspect_image(p)) for p in images]


def test_import_endpoint_takes_unlabelled_as_background_as_its_last_input(tmp_path):
    """/import_dataset's new input goes last (callers pass inputs by position); the snippets shown
    carry it as a keyword and as the CLI flag."""
    import re
    import shlex

    from gradio_client import Client, handle_file

    from yolov11.cli.parser import build_parser

    src = ff.write_voc(ff.truth(n=4, size=64), tmp_path / "voc-site")
    ff.draw_image(1, 97, 64)[0].save(src / "JPEGImages" / "no_xml.jpg")
    ws = yolov11.Workspace.at(tmp_path / "ws")
    with serving(ws) as url:
        upload = handle_file(str(zip_folder(src, tmp_path / "voc-site.zip")))
        _, _, report, code, _ = Client(url, verbose=False).predict(upload, "", 0.25, False, True, api_name="/import_dataset")
    assert sum(report["images"].values()) == 5
    assert report["counts"]["unlabelled_as_backgrounds"] == 1
    assert ws.dataset("voc-site")["origin"]["options"]["unlabelled_as_background"] is True
    assert "unlabelled_as_background=True" in code
    shell = re.search(r"```bash\n(.*?)\n```", code, flags=re.S).group(1)
    assert build_parser().parse_args(shlex.split(shell)[3:]).unlabelled_as_background is True
