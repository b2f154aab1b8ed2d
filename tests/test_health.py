"""The health report's image checks, duplicates and leakage, and the zip safety limits."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import yolov11
from yolov11.data.archive import ZipLimits, extract_zip
from yolov11.data.demo import draw_image

import format_fixtures as ff
from helpers import write_yolo_folder


def _one(folder: Path, split: str, stem: str) -> tuple[Path, Path]:
    return folder / "images" / split / f"{stem}.jpg", folder / "labels" / split / f"{stem}.txt"


def test_broken_truncated_rotated_and_huge_images(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "src", n_images=12, size=96)
    train = sorted((src / "images" / "train").glob("*.jpg"))
    train[0].write_bytes(b"not an image at all")
    data = train[1].read_bytes()
    train[1].write_bytes(data[: len(data) * 2 // 3])  # cut short: no end-of-image marker
    im = Image.open(train[2])
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW" as phones write it
    im.save(train[2], exif=exif)
    Image.new("1", (12_000, 9_000)).save(src / "images" / "train" / "panorama.png")  # 108 Mpx, a few kB
    (src / "labels" / "train" / "panorama.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    report = yolov11.import_dataset(src, workspace=workspace)
    issues = "\n".join(report["issues"])
    assert f"{train[0].name}: not an image file" in issues
    assert "(skipped)" in issues
    assert f"{train[1].name}: truncated JPEG (fixed: decoded as far as possible and re-saved)" in issues
    assert "panorama.png: 12000x9000 pixels exceed the cap" in issues
    assert report["images"]["train"] == 9 + 1 - 2  # 9 train images and the panorama, less the unreadable one and the bomb
    fixed = Path(report["path"]) / "images" / "train" / train[1].name
    assert fixed.read_bytes().endswith(b"\xff\xd9")
    assert Image.open(fixed).size == (96, 96)
    assert report["counts"]["exif_rotated"] == 1
    assert report["problem_images"]["exif_rotated"] == [f"images/train/{train[2].name}"]
    assert report["notes"][0].startswith("1 photo(s) carry an EXIF rotation: imported unchanged; training turns them upright")
    assert "note: 1 photo(s) carry an EXIF rotation" in yolov11.summarize_report(report)


def test_yolo_images_without_a_label_file_are_counted_and_shown(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "src", n_images=8, size=64)
    _, lbl = _one(src, "train", "site_0003")
    lbl.unlink()  # no .txt: a background by YOLO's convention, which the report must say
    _, empty = _one(src, "train", "site_0004")
    empty.write_text("")  # an empty .txt: a background the labeller stated
    report = yolov11.import_dataset(src, workspace=workspace)
    assert sum(report["images"].values()) == 8
    assert (report["counts"]["unlabelled_images"], report["counts"]["unlabelled_as_backgrounds"]) == (1, 1)
    assert report["warnings"][0].startswith("1 image(s) have no label file and train as backgrounds (YOLO's convention): "
                                            "images/train/site_0003.jpg")
    assert report["problem_images"]["unlabelled"] == ["images/train/site_0003.jpg"]
    no_labels = set(report["problem_images"]["no_labels"])  # what the gallery's "no labels" filter shows
    assert {"images/train/site_0003.jpg", "images/train/site_0004.jpg"} <= no_labels
    assert "warning: 1 image(s) have no label file" in yolov11.summarize_report(report)


def test_exact_and_near_duplicates_and_leakage(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "src", n_images=16, size=96)
    (val_img, val_lbl), (tr_img, tr_lbl) = _one(src, "val", "site_0000"), _one(src, "train", "site_0010")
    copy_img, copy_lbl = _one(src, "train", "copy_of_val")
    copy_img.write_bytes(val_img.read_bytes())  # exact copy, across splits: leakage
    copy_lbl.write_text(val_lbl.read_text())
    near_img, near_lbl = _one(src, "train", "reencoded")
    Image.open(tr_img).save(near_img, quality=60)  # same picture, other bytes
    near_lbl.write_text(tr_lbl.read_text())
    report = yolov11.import_dataset(src, workspace=workspace)
    dups = report["duplicates"]
    assert [sorted(g) for g in dups["exact"]] == [["images/train/copy_of_val.jpg", "images/val/site_0000.jpg"]]
    assert sorted(map(sorted, dups["near"])) == [["images/train/reencoded.jpg", "images/train/site_0010.jpg"]]
    assert [sorted(g) for g in dups["leakage"]] == [["images/train/copy_of_val.jpg", "images/val/site_0000.jpg"]]
    assert any("cross splits" in w for w in report["warnings"])
    assert "images/val/site_0000.jpg" in report["problem_images"]["leakage"]


def test_duplicate_boxes_are_dropped_and_counted(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "src", n_images=8, size=64)
    img, lbl = _one(src, "train", "site_0005")
    lbl.write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    report = yolov11.import_dataset(src, workspace=workspace)
    assert report["counts"]["duplicate_boxes"] == 1
    assert "site_0005.jpg: 1 duplicate box(es) (dropped)" in report["issues"]
    assert len((Path(report["path"]) / "labels" / "train" / "site_0005.txt").read_text().splitlines()) == 2
    assert "images/train/site_0005.jpg" in report["problem_images"]["label_errors"]


def _zip_bytes(members: dict[str, bytes], **kwargs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_and_caps_are_refused(tmp_path):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip_bytes({"labels/huge.txt": b"0" * (8 * 2**20)}))  # 8 MiB of zeros: ~1000x
    with pytest.raises(yolov11.UserError, match="bomb.zip: refused, member 'labels/huge.txt' expands .*x"):
        extract_zip(bomb, tmp_path / "out")
    many = tmp_path / "many.zip"
    many.write_bytes(_zip_bytes({f"l/{i}.txt": b"0 0.5 0.5 0.1 0.1" for i in range(30)}))
    with pytest.raises(yolov11.UserError, match="30 files exceed the cap of 20"):
        extract_zip(many, tmp_path / "out", ZipLimits(max_files=20))
    with pytest.raises(yolov11.UserError, match="GiB uncompressed exceeds the cap"):
        extract_zip(many, tmp_path / "out", ZipLimits(max_total_bytes=100))
    assert not (tmp_path / "out").exists()


def test_nested_archives_and_non_utf8_names(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "hats", n_images=8, size=64)
    img = io.BytesIO()
    draw_image(2, 2, 64)[0].save(img, "JPEG")
    path = tmp_path / "hats.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src.parent))
        zf.writestr("hats/more.zip", _zip_bytes({"x.txt": b"1"}))
        # A name in cp437 bytes (no UTF-8 flag), as old Windows zippers write "obrázek.jpg".
        info = zipfile.ZipInfo("hats/images/train/obr\x87zek.jpg")
        zf.writestr(info, img.getvalue())
        zf.writestr("hats/labels/train/obr\x87zek.txt", "0 0.5 0.5 0.2 0.2\n")
    report = yolov11.import_dataset(path, workspace=workspace)
    assert any(i.startswith("hats/more.zip: nested archive skipped") for i in report["issues"])
    assert report["images"]["train"] == 7  # 6 + the oddly named one
    assert any("zek" in p.name for p in (Path(report["path"]) / "images" / "train").iterdir())


def _visible_text(markdown: str) -> tuple[str, str]:
    """(HTML, the text a browser shows) of Markdown rendered by a CommonMark renderer that lets
    raw HTML through, as Gradio's Markdown does."""
    import html
    import re

    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(markdown)
    return rendered, html.unescape(re.sub(r"<[^>]+>", "", rendered))


def test_health_summary_shows_importer_text_literally(tmp_path, workspace):
    from pages.data_health import health_summary

    report = yolov11.import_dataset(ff.write_voc(ff.truth(), tmp_path / "voc"), workspace=workspace)
    assert "<annotation>" in report["reason"]  # "found 12 Pascal VOC <annotation> XML files (...)"
    report["warnings"].append("odd file <object> & *starred* my_file_name.jpg $$x$$")
    rendered, shown = _visible_text(health_summary(report))
    assert report["reason"] in shown
    assert "odd file <object> & *starred* my_file_name.jpg $$x$$" in shown
    assert "<annotation>" not in rendered  # not passed on as a tag
    assert "<object>" not in rendered
    unescaped, _ = _visible_text(f"found {report['reason']}")
    assert "<annotation>" in unescaped  # the renderer would swallow it: the escaping is what keeps it


def test_imbalance_warning_names_the_rarest_class(tmp_path, workspace):
    src = tmp_path / "skewed"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for i in range(27):
        draw_image(4, i, 64)[0].save(src / "images" / f"{i:02d}.jpg")
        cls = 0 if i < 2 else 2  # helmet in 2 images, vest in 25, head in none
        (src / "labels" / f"{i:02d}.txt").write_text(f"{cls} 0.5 0.5 0.2 0.2\n")
    (src / "classes.txt").write_text("helmet\nhead\nvest\n")
    report = yolov11.import_dataset(src, workspace=workspace)
    assert "class imbalance: 'vest' has 25 boxes, the rarest class 'helmet' only 2" in report["warnings"]
    assert "class 'head' has no boxes" in report["warnings"]


def test_duplicate_pairs_are_drawn_side_by_side(tmp_path, workspace):
    src = write_yolo_folder(tmp_path / "src", n_images=16, size=96)
    tr_img, tr_lbl = _one(src, "train", "site_0010")
    near_img, near_lbl = _one(src, "train", "reencoded")
    Image.open(tr_img).save(near_img, quality=60)
    near_lbl.write_text(tr_lbl.read_text())
    orig_img, orig_lbl = _one(src, "train", "site_0011")
    for k in range(2):
        img, lbl = _one(src, "train", f"copy_{k}")
        img.write_bytes(orig_img.read_bytes())
        lbl.write_text(orig_lbl.read_text())
    report = yolov11.import_dataset(src, workspace=workspace)
    dups = report["duplicates"]
    assert len(dups["near"]) == 1
    assert [len(g) for g in dups["exact"]] == [3]  # site_0011 and its two copies
    root = Path(report["path"])
    drawn = yolov11.draw_pairs(root, dups["near"] + dups["exact"], tmp_path / "pairs")
    assert len(drawn) == 1 + 2  # an exact group of three: a pair for each copy after the first
    a, b = dups["near"][0]
    assert drawn[0][1] == f"{a} ↔ {b}"
    assert all(" ↔ " in caption and caption.count("images/train/") == 2 for _, caption in drawn)
    with Image.open(drawn[0][0]) as joined:
        assert joined.size == (240 * 2 + 8, 240)  # two square 96 px images scaled to 240 px, 8 px apart
    assert len(yolov11.draw_pairs(root, dups["exact"], tmp_path / "one", limit=1)) == 1


def test_box_sizes_in_pixels_and_the_small_objects_advice(tmp_path, workspace):
    """Yard frames (1920x1080) with 24x24 px helmets and 200x300 px people: at imgsz 640 a helmet
    is 24 * 640 / 1920 = 8 px across, under 10 px; the report says so with the numbers."""
    src = tmp_path / "yard"
    for split, n in (("train", 6), ("val", 2)):
        (src / "images" / split).mkdir(parents=True)
        (src / "labels" / split).mkdir(parents=True)
        for k in range(n):
            Image.new("RGB", (1920, 1080), (40 * k, 90, 120 + 10 * k)).save(src / "images" / split / f"{split}{k}.jpg")
            helmets = [f"0 {(100 + 300 * j) / 1920:.6f} {(200 + 20 * k) / 1080:.6f} {24 / 1920:.6f} {24 / 1080:.6f}" for j in range(4)]
            person = f"1 {(960 + 10 * k) / 1920:.6f} 0.5 {200 / 1920:.6f} {300 / 1080:.6f}"
            (src / "labels" / split / f"{split}{k}.txt").write_text("\n".join([*helmets, person]) + "\n")
    (src / "data.yaml").write_text("names: [helmet, person]\ntrain: images/train\nval: images/val\n")
    report = yolov11.import_dataset(src, workspace=workspace)
    at640, at320 = report["box_pixels"]["640"], report["box_pixels"]["320"]
    assert at640["per_class"]["helmet"] == {"median": 8.0, "p10": 8.0}
    assert at320["per_class"]["helmet"] == {"median": 4.0, "p10": 4.0}
    assert at640["per_class"]["person"]["median"] == pytest.approx((200 * 300) ** 0.5 / 3, abs=0.1)
    assert (at640["under_10px"], at640["boxes"], at320["under_10px"]) == (32, 40, 32)
    said = [w for w in report["warnings"] if "under 10 px" in w]
    assert said == ["32 of 40 boxes (80%) are under 10 px once the image is shrunk to imgsz 640 ('helmet' median 8 px, 10th percentile "
                    "8 px, 'person' median 81.6 px, 10th percentile 81.6 px): predict tile by tile (predict --slice) and train on tiles "
                    "or at a larger imgsz"]
    assert not any("train at a larger imgsz" in w and "tiny boxes" in w for w in report["warnings"])  # the generic line is gone
    summary = yolov11.summarize_report(report)
    assert "  box sizes at imgsz 640 (median, 10th percentile): helmet 8 px, 8 px, person 81.6 px, 81.6 px" in summary
