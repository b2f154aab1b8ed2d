"""Hostile cases, groups F, G and H: Pascal VOC XML, CVAT XML 1.1, and LabelMe JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

from . import CANARY_TXT, Ctx, add, both, boxes, image_bytes, images_total, imp, no_issue_naming, write_tree


# === F. Pascal VOC ==================================================================================
def voc_xml(fname: str, objects: str | None = None, size: str = "<size><width>64</width><height>64</height><depth>3</depth></size>",
            head: str = "") -> str:
    if objects is None:
        objects = ("<object><name>helmet</name><difficult>0</difficult>"
                   "<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>30</xmax><ymax>30</ymax></bndbox></object>")
    return f'<?xml version="1.0"?>\n{head}<annotation><filename>{fname}</filename>{size}{objects}</annotation>\n'


def _voc(a_xml: str | None = None, every: Callable[[str], str] | None = None, *flags: str):
    """Annotations/{a,b}.xml + JPEGImages/{a,b,c}.jpg (c without an XML: unlabelled, left out
    unless ``flags`` hold --unlabelled-as-background); ``a_xml`` replaces a.xml, ``every(stem)``
    writes every XML."""
    def build(ctx: Ctx) -> list[str]:
        files: dict[str, bytes | str] = {f"JPEGImages/{s}.jpg": image_bytes(300 + k) for k, s in enumerate("abc")}
        for s in "ab":
            files[f"Annotations/{s}.xml"] = every(s) if every else voc_xml(f"{s}.jpg")
        if a_xml is not None:
            files["Annotations/a.xml"] = a_xml.replace("CANARY", str(ctx.tmp / CANARY_TXT))
        return imp(write_tree(ctx.tmp / "voc", files), *flags)

    return build


XXE = '<!DOCTYPE annotation [<!ENTITY x SYSTEM "file://CANARY">]>\n'
LAUGHS = ("<!DOCTYPE annotation [<!ENTITY lol \"lol\">"
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)) + "]>\n")
OBJ = "<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>10</ymin><xmax>30</xmax><ymax>30</ymax></bndbox></object>"
GOOD_OBJ = OBJ.format(name="helmet", x1=10)


def _voc_every(text: Callable[[str], str]):
    def build(ctx: Ctx) -> list[str]:
        return _voc(every=lambda s: text(s).replace("CANARY", str(ctx.tmp / CANARY_TXT)))(ctx)

    return build


add("voc-xxe", _voc_every(lambda s: voc_xml(f"{s}.jpg", OBJ.format(name="&x;", x1=10), head=XXE)), "refused", "entities")
add("voc-billion-laughs", _voc_every(lambda s: voc_xml(f"{s}.jpg", OBJ.format(name="&lol9;", x1=10), head=LAUGHS)),
    "refused", "entities", max_s=5)
add("voc-malformed", _voc_every(lambda s: f"<annotation><filename>{s}.jpg</filename><object><name>helmet</name>\n"),
    "refused", "not valid XML")
add("voc-xxe-one-file", _voc(voc_xml("a.jpg", OBJ.format(name="&x;", x1=10), head=XXE)), "either", ("Annotations/a.xml", "entities"))
add("voc-object-without-name",
    _voc(voc_xml("a.jpg", GOOD_OBJ + "<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>")),
    "imported", ("Annotations/a.xml", "object 2", "no <name>"), check=boxes(2))
add("voc-bndbox-text", _voc(voc_xml("a.jpg", GOOD_OBJ + OBJ.format(name="vest", x1="ten"))), "imported",
    ("Annotations/a.xml", "object 2", "dropped"), check=boxes(2))
add("voc-bndbox-missing", _voc(voc_xml("a.jpg", GOOD_OBJ + "<object><name>vest</name></object>")), "imported",
    ("Annotations/a.xml", "object 2", "dropped"), check=boxes(2))
add("voc-size-text", _voc(voc_xml("a.jpg", size="<size><width>abc</width><height>abc</height></size>")), "imported",
    check=both(boxes(2), no_issue_naming("size unknown")))
add("voc-filename-dotdot", _voc(voc_xml("../outside/canary.jpg")), "imported", check=images_total(2))
# An image without its XML is unlabelled, not a background: left out and named, unless asked.
add("voc-image-without-xml", _voc(), "imported", ("JPEGImages/c.jpg", "unlabelled", "skipped"), check=both(images_total(2), boxes(2)))
add("voc-image-without-xml-as-background", _voc(None, None, "--unlabelled-as-background"), "imported",
    ("JPEGImages/c.jpg", "kept as a background"), check=both(images_total(3), boxes(2)))


# === G. CVAT XML 1.1 ================================================================================
def cvat_xml(a_shapes: str, a_attrs: str = 'name="images/a.jpg" width="64" height="64"', head: str = "", more: str = "") -> str:
    return (f'<?xml version="1.0"?>\n{head}<annotations><version>1.1</version>'
            '<meta><task><labels><label><name>helmet</name></label><label><name>vest</name></label></labels></task></meta>'
            f'<image id="0" {a_attrs} subset="Train">{a_shapes}</image>'
            '<image id="1" name="images/b.jpg" width="64" height="64" subset="Validation">'
            '<box label="vest" xtl="5" ytl="5" xbr="25" ybr="25" occluded="0"/></image>'
            f"{more}</annotations>\n")


BOX = '<box label="helmet" xtl="10" ytl="10" xbr="30" ybr="30" occluded="0"/>'


def _cvat(text: str):
    def build(ctx: Ctx) -> list[str]:
        files: dict[str, bytes | str] = {f"images/{s}.jpg": image_bytes(400 + k) for k, s in enumerate("ab")}
        files["annotations.xml"] = text.replace("CANARY", str(ctx.tmp / CANARY_TXT))
        return imp(write_tree(ctx.tmp / "cvat", files))

    return build


AIMG = "image 'images/a.jpg' shape 2"
add("cvat-empty-label", _cvat(cvat_xml(BOX + '<box label="" xtl="1" ytl="1" xbr="9" ybr="9" occluded="0"/>')), "imported",
    (AIMG, "has no label"), check=boxes(2))
add("cvat-missing-label-attr", _cvat(cvat_xml(BOX + '<box xtl="1" ytl="1" xbr="9" ybr="9" occluded="0"/>')), "imported",
    (AIMG, "has no label"), check=boxes(2))
add("cvat-box-missing-xtl", _cvat(cvat_xml(BOX + '<box label="vest" ytl="1" xbr="9" ybr="9" occluded="0"/>')), "imported",
    (AIMG, "dropped"), check=boxes(2))
add("cvat-polygon-garbage", _cvat(cvat_xml(BOX + '<polygon label="vest" points="a,b;c;;1,2,3" occluded="0"/>')), "imported",
    (AIMG, "dropped"), check=boxes(2))
add("cvat-image-name-dotdot",
    _cvat(cvat_xml(BOX, more='<image id="2" name="../outside/canary.jpg" width="64" height="64" subset="Train">' + BOX + "</image>")),
    "imported", ("'../outside/canary.jpg'", "not found"), check=images_total(2))
add("cvat-xxe", _cvat(cvat_xml('<box label="&x;" xtl="1" ytl="1" xbr="9" ybr="9" occluded="0"/>',
                               head='<!DOCTYPE annotations [<!ENTITY x SYSTEM "file://CANARY">]>\n')),
    "refused", "annotations.xml", "entities")
add("cvat-width-text", _cvat(cvat_xml(BOX, a_attrs='name="images/a.jpg" width="abc" height="abc"')), "imported",
    check=both(boxes(2), no_issue_naming("size unknown")))


# === H. LabelMe =====================================================================================
def _lm_doc(image: str, shapes: list, **over) -> str:
    return json.dumps({"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image, "imageData": None,
                       "imageWidth": 64, "imageHeight": 64, **over})


RECT = {"label": "helmet", "points": [[10, 10], [30, 30]], "shape_type": "rectangle", "flags": {}}


def _labelme(a_doc: str | None = None, extra: dict | None = None):
    def build(ctx: Ctx) -> list[str]:
        files: dict[str, bytes | str] = {}
        for k, s in enumerate("abc"):
            files[f"{s}.jpg"] = image_bytes(500 + k)
            files[f"{s}.json"] = _lm_doc(f"{s}.jpg", [RECT])
        if a_doc is not None:
            files["a.json"] = a_doc
        files.update(extra or {})
        return imp(write_tree(ctx.tmp / "labelme", files))

    return build


add("labelme-empty-label", _labelme(_lm_doc("a.jpg", [RECT, {**RECT, "label": ""}])), "imported",
    ("a.json: shape 2", "no label"), check=boxes(3))
add("labelme-points-strings", _labelme(_lm_doc("a.jpg", [RECT, {**RECT, "points": [["x1", "y1"], ["x2", "y2"]]}])), "imported",
    ("a.json: shape 2", "dropped"), check=boxes(3))
add("labelme-points-not-pairs", _labelme(_lm_doc("a.jpg", [RECT, {**RECT, "points": "10,10,30,30"}])), "imported",
    "a.json: shape 2", check=boxes(3))
add("labelme-imagepath-dotdot", _labelme(extra={"evil.json": _lm_doc("../outside/canary.jpg", [RECT])}), "imported",
    ("evil.json", "../outside/canary.jpg", "not found"), check=images_total(3))
add("labelme-shape-not-object", _labelme(_lm_doc("a.jpg", ["oops", RECT])), "imported",
    ("a.json: shape 1", "not an object"), check=boxes(3))
add("labelme-image-without-json", _labelme(extra={"d.jpg": image_bytes(510)}), "imported", ("d.jpg", "unlabelled", "skipped"),
    check=images_total(3))
add("labelme-imagewidth-string", _labelme(_lm_doc("a.jpg", [RECT], imageWidth="abc", imageHeight="abc")), "imported",
    check=both(boxes(3), no_issue_naming("size unknown")))
