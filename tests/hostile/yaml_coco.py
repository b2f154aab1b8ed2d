"""Hostile cases, groups D and E: data.yaml, and COCO JSON (odd fields, the official 2017 layout)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

from . import (
    BASE_IMAGES,
    CANARY_JPG,
    CLASSES,
    PWNED,
    Ctx,
    add,
    alias_bomb,
    both,
    boxes,
    case,
    image_bytes,
    images_total,
    imp,
    no_issue_naming,
    write_tree,
    yolo_folder,
)


# === D. data.yaml ====================================================================================
def _yaml(text: str):
    return lambda ctx: imp(yolo_folder(ctx, data_yaml=text))


def _download_yaml(ctx: Ctx) -> list[str]:
    payload = f"open({str(ctx.tmp / PWNED)!r}, 'w').write('pwned')"
    return imp(yolo_folder(ctx, data_yaml=json.dumps({"names": CLASSES, "nc": 3, "train": "images/train", "val": "images/val",
                                                      "download": payload}) + "\n"))


def _no_download(report: dict, ctx: Ctx) -> None:
    import yaml

    data = yaml.safe_load(Path(report["data_yaml"]).read_text())
    assert "download" not in data, f"the imported data.yaml keeps download: {data}"
    assert not (ctx.tmp / PWNED).exists(), "the download: payload ran"


def _classes(*names: str):
    def check(report: dict, ctx: Ctx) -> None:
        assert report["classes"] == list(names), f"classes {report['classes']}, expected {list(names)}"

    return check


add("yaml-alias-bomb", _yaml(alias_bomb()), "refused", "data.yaml", "alias", max_s=5)
add("yaml-names-empty-list", _yaml("names: []\ntrain: images/train\nval: images/val\n"), "refused", "data.yaml", "empty")
add("yaml-names-null", _yaml("names:\ntrain: images/train\nval: images/val\n"), "refused", "data.yaml", "names")
add("yaml-names-string", _yaml("names: helmet\ntrain: images/train\nval: images/val\n"), "refused", "data.yaml", "names")
add("yaml-names-number", _yaml("names: 3\ntrain: images/train\nval: images/val\n"), "refused", "data.yaml", "names")
add("yaml-names-non-int-keys", _yaml("names: {a: helmet, b: head, c: vest}\n"), "refused", "data.yaml", "integer")
add("yaml-names-id-gap", _yaml("names: {0: helmet, 2: vest}\n"), "refused", "data.yaml", "ids")
add("yaml-names-nested-list", _yaml("names: [[helmet], head, vest]\n"), "refused", "data.yaml", "names")
add("yaml-2mb", _yaml("names: [helmet, head, vest]\n# " + "x" * (2 << 20) + "\n"), "refused", "data.yaml", "too large")
add("yaml-100-deep", _yaml("names: [helmet, head, vest]\ndeep: " + "[" * 100 + "]" * 100 + "\n"), "refused", "data.yaml", "nested")
add("yaml-download-python", _download_yaml, "imported", check=both(_no_download, images_total(BASE_IMAGES)))
add("yaml-duplicate-names", _yaml("names: [helmet, helmet, vest]\n"), "imported", "renamed helmet-2",
    check=_classes("helmet", "helmet-2", "vest"))
add("yaml-names-empty-string", _yaml("names: [helmet, '', vest]\n"), "refused", "data.yaml", "names")


# A data.yaml that cannot be read must be named (refused, or an issue "data.yaml: ..."), not
# silently replaced by made-up class names.
@case("yaml-python-tag", "either", "data.yaml:")
def _(ctx: Ctx) -> list[str]:
    text = f"names: [helmet, head, vest]\nx: !!python/object/apply:os.system [{shlex.quote('touch ' + str(ctx.tmp / PWNED))!r}]\n"
    return imp(yolo_folder(ctx, data_yaml=text))


add("yaml-invalid-syntax", _yaml("names: [helmet, head, vest\ntrain: images/train\n"), "either", "data.yaml:")


# === E. COCO JSON ===================================================================================
def coco_doc(n: int = 3) -> dict:
    return {
        "images": [{"id": i + 1, "file_name": f"im{i}.jpg", "width": 64, "height": 64} for i in range(n)],
        "annotations": [{"id": 10 + i, "image_id": i + 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0}
                        for i in range(n)],
        "categories": [{"id": 1, "name": "helmet", "supercategory": "ppe"}, {"id": 2, "name": "vest", "supercategory": "ppe"}],
    }


def _coco(mutate: Callable[[dict, Ctx], None] | None = None, n: int = 3, bom: bool = False):
    def build(ctx: Ctx) -> list[str]:
        doc = coco_doc(n)
        if mutate:
            mutate(doc, ctx)
        text = json.dumps(doc).encode()
        files = {f"images/im{i}.jpg": image_bytes(100 + i) for i in range(n)}
        files["annotations.json"] = (b"\xef\xbb\xbf" if bom else b"") + text
        return imp(write_tree(ctx.tmp / "coco", files))

    return build


def _bad_ann(**fields):
    def mutate(doc: dict, ctx: Ctx) -> None:
        ann = {"id": 7, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0}
        for k, v in fields.items():
            if v is _DROP:
                ann.pop(k)
            else:
                ann[k] = v
        doc["annotations"].append(ann)

    return mutate


_DROP = object()
AN7 = "annotations.json: annotation id 7"
add("coco-bbox-strings", _coco(_bad_ann(bbox=["a", "b", "c", "d"])), "imported", (AN7, "bbox", "not four numbers"), check=boxes(3))
add("coco-bbox-3-numbers", _coco(_bad_ann(bbox=[1, 2, 3])), "imported", (AN7, "not four numbers"), check=boxes(3))
add("coco-bbox-null", _coco(_bad_ann(bbox=None)), "imported", (AN7, "not four numbers"), check=boxes(3))
add("coco-bbox-nan-literal", _coco(_bad_ann(bbox=[float("nan"), 1, 2, 3])), "imported", (AN7, "dropped"), check=boxes(3))
add("coco-bbox-dict", _coco(_bad_ann(bbox={"x": 1, "y": 2, "w": 3, "h": 4})), "imported", (AN7, "not four numbers"), check=boxes(3))
add("coco-category-missing", _coco(_bad_ann(category_id=_DROP)), "imported", (AN7, "category_id None"), check=boxes(3))
add("coco-category-abc", _coco(_bad_ann(category_id="abc")), "imported", (AN7, "category_id 'abc'"), check=boxes(3))
add("coco-negative-width", _coco(_bad_ann(bbox=[10, 10, -5, 10])), "imported", (AN7, "dropped"), check=boxes(3))


def _share_ids(doc: dict, ctx: Ctx) -> None:
    doc["images"][2]["id"] = 2  # im1 and im2 both id 2
    doc["annotations"].append({"id": 20, "image_id": 2, "category_id": 2, "bbox": [30, 30, 10, 10], "area": 100, "iscrowd": 0})


def _shared_check(report: dict, ctx: Ctx) -> None:
    names = sorted(p.name for p in Path(report["path"]).joinpath("images").rglob("*.*"))
    assert names == ["im0.jpg", "im3.jpg"], f"images sharing id 2 (im1, im2) must be skipped, got {names}"
    assert report["boxes"] == 2, f"only im0's and im3's boxes remain, the report has {report['boxes']}"


add("coco-shared-image-id", _coco(_share_ids, n=4), "imported", ("image id 2", "share this id"), check=_shared_check)
add("coco-image-without-id", _coco(lambda d, c: d["images"][2].pop("id")), "imported",
    ("annotations.json", "without an integer id"), check=images_total(2))
add("coco-image-id-string", _coco(lambda d, c: d["images"][2].update(id="three")), "imported",
    ("annotations.json", "without an integer id"), check=images_total(2))
add("coco-file-name-dotdot",
    _coco(lambda d, c: d["images"].append({"id": 9, "file_name": "../outside/canary.jpg", "width": 64, "height": 64})),
    "imported", ("image id 9", "../outside/canary.jpg", "not found"), check=images_total(3))
add("coco-file-name-absolute",
    _coco(lambda d, c: d["images"].append({"id": 9, "file_name": str(c.tmp / CANARY_JPG), "width": 64, "height": 64})),
    "imported", ("image id 9", "not found"), check=images_total(3))
add("coco-size-strings", _coco(lambda d, c: [im.update(width="abc", height="abc") for im in d["images"]]), "imported",
    check=both(boxes(3), no_issue_naming("size unknown")))
add("coco-size-numeric-strings", _coco(lambda d, c: [im.update(width="64", height="64") for im in d["images"]]), "imported", check=boxes(3))
add("coco-duplicate-category-names",
    _coco(lambda d, c: d["categories"][1].update(name="helmet") or d["annotations"][2].update(category_id=2)),
    "imported", "renamed helmet-2", check=_classes("helmet", "helmet-2"))
def _format(name: str):
    def check(report: dict, ctx: Ctx) -> None:
        assert report["format"] == name, f"format {report['format']!r}, expected {name!r}"

    return check


add("coco-utf8-bom", _coco(bom=True), "imported", check=both(_format("coco"), boxes(3)))
add("coco-annotations-not-objects", _coco(lambda d, c: d["annotations"].extend([1, "two", None, [3]])), "imported", check=boxes(3))


@case("coco-deep-json", "refused", "no supported format")
def _(ctx: Ctx) -> list[str]:
    return imp(write_tree(ctx.tmp / "deep", {"images/a.jpg": image_bytes(1), "deep.json": "[" * 10000 + "]" * 10000}))


def _official(ctx: Ctx) -> list[str]:
    """The official COCO 2017 download's layout: annotations/ with four tasks, the test images'
    image_info file (no annotations) and image-level labels (no boxes), images in val2017/."""
    images = [{"id": 139 + i, "file_name": f"{139 + i:012d}.jpg", "width": 64, "height": 64} for i in range(3)]
    cats = [{"id": 1, "name": "person", "supercategory": "person"}, {"id": 3, "name": "car", "supercategory": "vehicle"}]
    files: dict[str, bytes | str] = {f"val2017/{im['file_name']}": image_bytes(200 + k) for k, im in enumerate(images)}
    files["annotations/instances_val2017.json"] = json.dumps({"info": {}, "licenses": [], "images": images, "categories": cats,
        "annotations": [{"id": 1 + k, "image_id": im["id"], "category_id": 1 if k % 2 == 0 else 3, "bbox": [8, 8, 20, 30], "area": 600,
                         "iscrowd": 0, "segmentation": [[8, 8, 28, 8, 28, 38]]} for k, im in enumerate(images)]})
    files["annotations/captions_val2017.json"] = json.dumps({"info": {}, "licenses": [], "images": images, "annotations": [
        {"id": 50 + k, "image_id": im["id"], "caption": "a person on a site"} for k, im in enumerate(images)]})
    files["annotations/person_keypoints_val2017.json"] = json.dumps({"info": {}, "licenses": [], "images": images, "annotations": [
        {"id": 60, "image_id": 139, "category_id": 1, "bbox": [8, 8, 20, 30], "area": 600, "iscrowd": 0, "num_keypoints": 1,
         "keypoints": [10, 10, 2] + [0] * 48}],
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": ["nose"] + [f"k{i}" for i in range(16)],
                        "skeleton": [[1, 2]]}]})
    files["annotations/panoptic_val2017.json"] = json.dumps({"info": {}, "licenses": [], "images": images, "annotations": [
        {"image_id": im["id"], "file_name": im["file_name"].replace(".jpg", ".png"),
         "segments_info": [{"id": 1, "category_id": 1, "iscrowd": 0, "bbox": [8, 8, 20, 30], "area": 600}]} for im in images],
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "isthing": 1}]})
    head = {"info": {}, "licenses": [], "categories": cats}
    files["annotations/image_info_val2017.json"] = json.dumps({**head, "images": images, "annotations": []})
    # image_info_test2017.json as shipped: images and categories, no "annotations" key at all
    files["annotations/image_info_test2017.json"] = json.dumps({**head, "images": [{"id": 1, "file_name": "000000000001.jpg"}]})
    files["annotations/labels_val2017.json"] = json.dumps({**head, "images": images, "annotations": [  # image-level labels: no bbox
        {"id": 70 + k, "image_id": im["id"], "category_id": 3} for k, im in enumerate(images)]})
    return imp(write_tree(ctx.tmp / "coco2017", files))


def _instances_check(report: dict, ctx: Ctx) -> None:
    assert report["format"] == "coco", report["format"]
    assert sum(report["images"].values()) == 3, (report["images"], report["boxes"])
    assert report["boxes"] == 3, (report["images"], report["boxes"])
    assert sorted(report["classes"]) == ["car", "person"], report["classes"]


add("coco-official-instances", _official, "imported", check=_instances_check)
add("coco-official-captions-ignored", _official, "imported", ("captions_val2017.json", "ignored"))
add("coco-official-keypoints-ignored", _official, "imported", ("person_keypoints_val2017.json", "ignored"))
add("coco-official-panoptic-ignored", _official, "imported", ("panoptic_val2017.json", "ignored"))
add("coco-official-image-info-ignored", _official, "imported", ("image_info_val2017.json", "image list", "ignored"),
    ("image_info_test2017.json", "ignored"))
add("coco-official-labels-ignored", _official, "imported", ("labels_val2017.json", "image-level labels", "ignored"))
