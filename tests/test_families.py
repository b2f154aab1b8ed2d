"""Augmented families: copies of one photo are found by Roboflow's names and by content (flips,
quarter turns, crops keeping >= 60 %, ±30 % colour jitter), look-alikes are left apart.

The sets are drawn by family_fixtures.py (deterministic); bench/families.py measures the same
on larger sets (leakage, crossing families, look-alikes, cost)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yolov11.data import families
from yolov11.data.checks import find_duplicates, inspect_image
from yolov11.data.demo import write_demo

import family_fixtures as ff


def as_jpeg(photo: ff.Photo, quality: int = 90) -> Image.Image:
    buf = io.BytesIO()
    photo.image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def describe(photo: ff.Photo) -> families.Descriptor:
    """As the import would: the JPEG decoded at reduced scale, no colour conversion."""
    with as_jpeg(photo) as im:
        im.draft("YCbCr", (families.DRAFT, families.DRAFT))
        return families.describe(im)


@pytest.fixture(scope="module")
def bases() -> list[ff.Photo]:
    return [ff.base_photo(seed=5, index=0), ff.base_photo(seed=5, index=1)]  # a site scene (square), an outdoor one (not square)


AUGMENTATIONS = {
    "flip": lambda p: ff.dihedral(p, 4),
    "quarter turn": lambda p: ff.dihedral(p, 1),
    "three quarter turns and a flip": lambda p: ff.dihedral(p, 7),
    "crop keeping 60 %, corner": lambda p: ff.crop(p, 0.0, 0.0, 0.775, 0.775),
    "crop keeping 60 %, other corner": lambda p: ff.crop(p, 0.225, 0.225, 1.0, 1.0),
    "jitter -30 %": lambda p: ff.jitter(p, 0.7, 0.7, 0.7),
    "jitter +30 %": lambda p: ff.jitter(p, 1.3, 1.3, 1.3),
    "all at once": lambda p: ff.jitter(ff.crop(ff.dihedral(p, 6), 0.2, 0.05, 0.98, 0.83), 1.25, 0.75, 1.3),
}


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_an_augmented_copy_is_found_by_content(bases, name):
    for base in bases:
        copy = AUGMENTATIONS[name](base)
        found = families.find_families([describe(base), describe(copy)], names=["a.jpg", "b.jpg"])
        assert found.groups == [[0, 1]], f"{name}: {base.image.size} photo and its copy not joined"
        assert found.links == [(0, 1, "content")]


def test_the_perceptual_hash_misses_what_the_content_test_finds(bases, tmp_path):
    """Why the content test exists: the import's pHash near-duplicates see a re-encode, not a flip or a crop."""
    base = bases[1]
    copies = [ff.dihedral(base, 4), ff.crop(base, 0.1, 0.1, 0.9, 0.9)]
    paths = []
    for k, photo in enumerate([base, *copies]):
        paths.append(tmp_path / f"{k}.jpg")
        photo.image.save(paths[-1], quality=90)
    exact, near = find_duplicates([inspect_image(p) for p in paths])
    assert exact == [] and near == []
    assert families.find_families(paths, names=[""] * 3).groups == [[0, 1, 2]]


def test_families_of_a_generated_export_are_found_whole_and_apart(tmp_path):
    fs = ff.write_families(tmp_path / "export", 10, seed=3, names=False, singles=6)
    paths = [tmp_path / "export" / f for f in fs.files]
    found = families.find_families(paths)
    truth = {k: fs.family[f] for k, f in enumerate(fs.files)}
    for group in found.groups:  # never two photos in one family
        assert len({truth[k] for k in group}) == 1, [fs.files[k] for k in group]
    whole = [fam for fam, members in fs.siblings().items() if len(members) > 1 and any(
        sorted(fs.files.index(m) for m in members) == g for g in found.groups)]
    assert len(whole) >= 9, f"families found whole: {sorted(whole)}"  # 10 here; bench/families.py: ~97 % of 300
    singles = [k for k, f in enumerate(fs.files) if len(fs.siblings()[fs.family[f]]) == 1]
    assert all(found.keys[k] == k for k in singles)  # photos seen once stay alone


def test_look_alike_site_scenes_are_not_families(tmp_path):
    """The demo set: workers drawn the same way on the same kinds of wall, the closest look-alikes."""
    write_demo(tmp_path / "demo", n_images=80, seed=0)
    paths = sorted((tmp_path / "demo" / "images").rglob("*.jpg"))
    assert families.find_families(paths).groups == []


@pytest.mark.parametrize("name,key", [
    ("IMG_0012_jpg.rf.3f9c2d0e8b7a6f5e4d3c2b1a09f8e7d6.jpg", "IMG_0012.jpg"),
    ("IMG_0012_JPG.rf.0123456789abcdef0123456789abcdef.jpg", "IMG_0012.jpg"),
    ("site photo 3_jpeg.rf.a1b2c3d4e5f6.jpg", "site photo 3.jpeg"),
    ("frame_0001_png.rf.DEADBEEF0001.png", "frame_0001.png"),
    ("train/images/cam_2.rf.abcdef1234567890.jpg", "cam_2."),
    ("IMG_0012.jpg", None),
    ("IMG_0012_jpg.jpg", None),
    ("report.rf.final.jpg", None),  # not a hash
])
def test_roboflow_names(name, key):
    assert families.name_key(name) == key


def test_names_and_content_join_one_family_and_plain_names_stay_apart(bases):
    base = bases[0]
    copies = [ff.dihedral(base, 1), ff.jitter(base, 1.2, 0.8, 1.1), ff.crop(base, 0.1, 0.0, 0.9, 0.8)]
    other = ff.base_photo(seed=6, index=2)
    descs = [describe(p) for p in (*copies, other)]
    names = ["hat_jpg.rf.aaaaaaaa.jpg", "hat_jpg.rf.bbbbbbbb.jpg", "IMG_7.jpg", "IMG_8.jpg"]
    found = families.find_families(descs, names=names)
    assert found.groups == [[0, 1, 2]]
    assert {how for *_, how in found.links} == {"name", "content"}
    assert families.find_families(descs, names=names, content=False).groups == [[0, 1]]


def test_the_result_does_not_depend_on_the_order(bases):
    photos = [bases[0], ff.dihedral(bases[0], 5), bases[1], ff.crop(bases[1], 0.2, 0.0, 1.0, 0.8), ff.base_photo(seed=6, index=3)]
    descs = [describe(p) for p in photos]
    first = families.find_families(descs, names=[""] * 5)
    assert first.groups == [[0, 1], [2, 3]] and first.keys == [0, 0, 2, 2, 4]
    order = list(range(5))
    random.Random(1).shuffle(order)
    again = families.find_families([descs[k] for k in order], names=[""] * 5)
    assert sorted(sorted(order[k] for k in g) for g in again.groups) == first.groups
    assert all(g == sorted(g) for g in again.groups) and again.groups == sorted(again.groups)


def test_crossing_families_name_a_pair_on_two_splits(bases):
    photos = [bases[0], ff.dihedral(bases[0], 2), bases[1], ff.dihedral(bases[1], 3)]
    found = families.find_families([describe(p) for p in photos], names=[""] * 4)
    assert families.crossing(found, ["train", "val", "train", "train"]) == [([0, 1], (0, 1))]


def test_unreadable_images_are_nobodys_copy(bases, tmp_path):
    good = tmp_path / "a.jpg"
    bases[0].image.save(good)
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    found = families.find_families([good, tmp_path / "b.jpg", None, good])
    assert found.groups == [[0, 3]]  # the same file twice is trivially a copy


def test_generated_boxes_follow_the_pixels():
    """The generator feeds import tests too: every transform must move the boxes with the pixels."""
    img = Image.new("RGB", (200, 120), (40, 40, 40))
    img.paste((230, 30, 30), (20, 10, 80, 50))  # one red box: x 20-80, y 10-50
    photo = ff.Photo(img, np.array([[0, 50 / 200, 30 / 120, 60 / 200, 40 / 120]], np.float32))
    variants = [ff.dihedral(photo, k) for k in range(8)] + [ff.crop(ff.dihedral(photo, 3), 0.05, 0.1, 0.85, 0.9)]
    for v in variants:
        w, h = v.image.size
        (c, cx, cy, bw, bh), = v.boxes.tolist()
        x1, y1, x2, y2 = (round(t) for t in ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
        arr = np.asarray(v.image, np.float32)
        inside = arr[y1 + 2:y2 - 2, x1 + 2:x2 - 2].mean(axis=(0, 1))
        ring = np.concatenate([arr[max(y1 - 4, 0):max(y1 - 1, 0)].reshape(-1, 3), arr[y2 + 1:y2 + 4].reshape(-1, 3)])
        assert inside[0] > 200 and inside[1] < 60, (v.ops, inside)
        assert len(ring) == 0 or ring[:, 0].mean() < 120, v.ops  # the box is tight: outside it is dark


def test_descriptor_is_the_same_from_a_file_and_from_an_open_image(bases, tmp_path):
    path = tmp_path / "x.jpg"
    bases[1].image.save(path, quality=90)
    with Image.open(path) as im:
        im.draft("YCbCr", (families.DRAFT, families.DRAFT))
        direct = families.describe(im)
    from_file = families.describe_file(path)
    assert np.array_equal(direct.grey, from_file.grey) and np.array_equal(direct.chroma, from_file.chroma)
    with Image.open(path) as im:  # the import's grey decode: the same Y plane
        im.draft("L", (families.DRAFT, families.DRAFT))
        assert np.array_equal(families.describe(im).grey, direct.grey)


def test_export_imports_with_its_boxes(tmp_path):
    """A generated train-only export is a valid Roboflow YOLO export (the import tests will use it)."""
    import yolov11

    fs = ff.write_families(tmp_path / "export", 3, seed=4)
    report = yolov11.import_dataset(tmp_path / "export", name="fam", workspace=tmp_path / "ws")
    labels = sorted((tmp_path / "ws" / "datasets" / "fam" / "labels").rglob("*.txt"))
    assert len(labels) == len(fs.files)
    assert sum(len(p.read_text().splitlines()) for p in labels) == sum(
        len((tmp_path / "export" / f.replace("/images/", "/labels/")).with_suffix(".txt").read_text().splitlines()) for f in fs.files)
    assert report["name"] == "fam"


# --- through the import (issue 21, item 5) ----------------------------------------------------------


def _split_of(report: dict) -> dict[str, str]:
    """stem -> split of an imported dataset's images (the import keeps the source's stems)."""
    return {p.stem: p.parent.name for p in (Path(report["path"]) / "images").glob("*/*")}


@pytest.mark.parametrize("names", [True, False], ids=["roboflow names", "names stripped"])
def test_a_train_only_export_is_split_by_family(tmp_path, names):
    """Before families the import split image by image: most val images had a sibling in train."""
    import yolov11

    fs = ff.write_families(tmp_path / "export", 10, seed=3, names=names, singles=3)
    family = {Path(f).stem: fs.family[f] for f in fs.files}
    report = yolov11.import_dataset(tmp_path / "export", workspace=tmp_path / "ws")
    split = _split_of(report)
    train = {family[s] for s in split if split[s] == "train"}
    val = [s for s in split if split[s] == "val"]
    leaked = [s for s in val if family[s] in train]
    # names: each family joined whole, so none; content alone: 0 or 1 leaked val image over 10 generator seeds (of 5-12)
    assert len(leaked) <= (0 if names else 1), leaked
    assert len(val) >= 5 and report["families"]["count"] >= 9
    assert report["split_method"].startswith("seeded split stratified by class, each family of augmented copies kept on one side (")
    assert report["families"]["crossing_count"] == 0 and not report["problem_images"]["families_crossing"]


def test_given_splits_that_cut_families_are_reported_by_content_alone(tmp_path):
    import yolov11

    fs = ff.write_families(tmp_path / "export", 10, seed=3, names=False, splits={"train": 0.6, "valid": 0.4})
    family = {Path(f).stem: fs.family[f] for f in fs.files}
    report = yolov11.import_dataset(tmp_path / "export", workspace=tmp_path / "ws")
    split = _split_of(report)
    truly = {f for f in set(family.values()) if len({split[s] for s in family if family[s] == f}) > 1}
    found = set()
    for listed in report["families"]["crossing"]:
        assert len({family[Path(p).stem] for p in listed["images"]}) == 1, listed  # never two photos in one family
        a, b = (Path(p).stem for p in listed["pair"])
        assert family[a] == family[b] and split[a] != split[b]
        found.add(family[a])
    # all of them over 10 generator seeds (6-9 crossing families each); the issue asks for 90 %
    assert len(found) >= 0.9 * len(truly) and len(truly) >= 5
    assert report["split_method"] == "from the source"


def test_a_source_without_families_splits_as_it_did_before_families(tmp_path):
    """Notebooks promise the same numbers: a source with no copies in it gets the split the import
    gave before families existed (the val images below are those of the import at commit e88d9e6)."""
    import yolov11
    from yolov11.data.demo import CLASSES, draw_image

    (tmp_path / "flat" / "images").mkdir(parents=True)
    (tmp_path / "flat" / "labels").mkdir(parents=True)
    for i in range(40):
        img, rows = draw_image(11, i, 64)
        img.save(tmp_path / "flat" / "images" / f"site_{i:02d}.jpg", quality=90)
        (tmp_path / "flat" / "labels" / f"site_{i:02d}.txt").write_text("".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n"
                                                                                for c, x, y, w, h in rows))
    (tmp_path / "flat" / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    before = {0: [0, 3, 5, 11, 12, 13, 24, 29, 33, 35], 5: [2, 4, 10, 11, 12, 17, 19, 20, 21, 25]}
    for seed, val in before.items():
        report = yolov11.import_dataset(tmp_path / "flat", val_fraction=0.25, seed=seed, workspace=tmp_path / "ws")
        assert sorted(s for s, sp in _split_of(report).items() if sp == "val") == [f"site_{i:02d}" for i in val]
        assert report["split_method"] == f"seeded split stratified by class (val fraction 0.25, seed {seed})"
        assert report["families"]["count"] == 0


def test_past_the_cap_copies_are_grouped_by_name_only(tmp_path, monkeypatch):
    """Beyond MAX_CONTENT_IMAGES the content test is skipped (its candidate search grows with the
    square of the images): Roboflow names still keep families whole, and the report says so."""
    import yolov11
    from yolov11.data import importer

    monkeypatch.setattr(importer, "MAX_CONTENT_IMAGES", 10)
    fs = ff.write_families(tmp_path / "export", 6, seed=2)
    report = yolov11.import_dataset(tmp_path / "export", workspace=tmp_path / "ws")
    assert len(fs.files) > 10 and report["families"]["count"] == 6
    assert (report["families"]["content_test"], report["families"]["by_content"]) == (False, 0)
    assert any(n.startswith(f"{len(fs.files)} images: more than 10, so augmented copies were grouped by their Roboflow names only")
               for n in report["notes"])
