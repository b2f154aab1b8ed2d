"""Where the mAP goes: TIDE's error types (Bolya et al., ECCV 2020) over an evaluation's records.

Every detection that is not a true positive at IoU 0.5, and every object no detection found, is
given one type, tested in TIDE's order:

    localisation    the right class, IoU with an object between 0.1 and 0.5
    classification  IoU >= 0.5 with an object of another class
    duplicate       IoU >= 0.5 with an object of its class that a higher-scored detection took
    background      IoU <= 0.1 with every object
    both            none of the above (the wrong class and badly placed)
    missed          an object no detection found, nor one that a class or box fix would find

Each type's **oracle gain** is the AP50 the model would have if that type alone were fixed
(classification: the detection takes the object's class; localisation: its box; the others:
removed; missed: the object left out of the count), minus the AP50 it has; a gain below zero is 0.
Several detections fixing one object: the highest scored one does, the rest are removed. The gains
are independent, so they do not add up to the gap; ``progressive`` fixes the types one after
another in TIDE's order, and those gains do add up: base + sum = 1 when every class has objects.

AP is TIDE's (COCO's): 101 recall points, precision made monotone, at most 100 detections an
image, mean over the classes that have objects or detections. This module reproduces the
``tidecv`` package (checked against it to 1e-6 in tests/test_error_types.py) over the COCO
documents an evaluation writes (``coco_gt.json``, ``coco_dt.json``), with numpy only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from yolov11.boxes import box_iou, xywh_to_xyxy

TYPES = ("classification", "localisation", "both", "duplicate", "background", "missed")  # TIDE's order
POS, BACKGROUND, MAX_DETS = 0.5, 0.1, 100
SIZES = (("small", 32 ** 2), ("medium", 96 ** 2), ("large", float("inf")))  # COCO's area buckets
DEFINITION = ("TIDE (Bolya et al., ECCV 2020): AP at IoU 0.5; each type's gain is the AP50 with that type alone fixed, "
              "so the gains do not add up to the gap")


@dataclass
class _Error:
    kind: str
    ident: int  # the detection's index in the records (an object's, for missed)
    cls: int
    score: float = 0.0
    image: int = 0  # the image id
    target: dict | None = None  # the object a classification or localisation fix would find

    def fixed(self) -> tuple[int, tuple[float, bool] | int | None]:
        """(class, data point) with this error fixed: a true positive, None (removed), or -1 (one object fewer)."""
        if self.kind == "missed":
            return self.cls, -1
        if self.kind in ("classification", "localisation"):
            target = self.target
            if target is None or target["used"] or target["best_id"] != self.ident:
                return self.cls, None
            return (target["cls"] if self.kind == "classification" else self.cls), (self.score, True)
        return self.cls, None

    def original(self) -> tuple[int, tuple[float, bool] | None]:
        return self.cls, (None if self.kind == "missed" else (self.score, False))


@dataclass
class _Run:
    points: dict[int, dict[int, tuple[float, bool]]] = field(default_factory=lambda: defaultdict(dict))  # class -> id -> point
    objects: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # class -> objects counted
    errors: list[_Error] = field(default_factory=list)
    found: set[int] = field(default_factory=set)  # the objects a detection matched


def _image(run: _Run, objects: list[dict], dets: list[tuple[int, dict]], image_id: int) -> None:
    """One image: TIDE's matching, the data points and the errors (``TIDERun._eval_image``)."""
    first = len(run.errors)
    _match(run, objects, dets)
    for e in run.errors[first:]:
        e.image = image_id


def _match(run: _Run, objects: list[dict], dets: list[tuple[int, dict]]) -> None:
    for o in objects:
        run.objects[o["cls"]] += 1
    if not dets:
        run.errors += [_Error("missed", o["id"], o["cls"]) for o in objects]
        return
    dets = sorted(dets, key=lambda d: -d[1]["score"])[:MAX_DETS]
    if objects:
        iou = box_iou(xywh_to_xyxy([d["bbox"] for _, d in dets]), xywh_to_xyxy([o["bbox"] for o in objects]))
        same = np.array([d["category_id"] for _, d in dets])[:, None] == np.array([o["cls"] for o in objects])[None, :]
        cls_iou = iou * same
        free = cls_iou.copy()
        matched = np.zeros(len(dets), bool)
        for i in range(len(dets)):
            j = int(free[i].argmax())
            if free[i, j] >= POS:
                matched[i] = objects[j]["used"] = True
                free[:, j] = 0
        used = np.array([o["used"] for o in objects])[None, :]
        other_iou, used_cls_iou = iou * ~same, iou * same * used
    for i, (ident, d) in enumerate(dets):
        cls, score = d["category_id"], d["score"]
        run.points[cls][ident] = (score, bool(objects) and bool(matched[i]))
        if objects and matched[i]:
            continue
        if not objects:
            run.errors.append(_Error("background", ident, cls, score))
            continue
        j = int(cls_iou[i].argmax())
        if BACKGROUND <= cls_iou[i, j] <= POS:
            run.errors.append(_target(_Error("localisation", ident, cls, score), objects[j]))
            continue
        j = int(other_iou[i].argmax())
        if other_iou[i, j] >= POS:
            run.errors.append(_target(_Error("classification", ident, cls, score), objects[j]))
            continue
        j = int(used_cls_iou[i].argmax())
        if used_cls_iou[i, j] >= POS:
            run.errors.append(_Error("duplicate", ident, cls, score))
        elif iou[i].max() <= BACKGROUND:
            run.errors.append(_Error("background", ident, cls, score))
        else:
            run.errors.append(_Error("both", ident, cls, score))
    run.found |= {o["id"] for o in objects if o["used"]}
    run.errors += [_Error("missed", o["id"], o["cls"]) for o in objects if not o["used"] and not o["usable"]]


def _target(error: _Error, obj: dict) -> _Error:
    """TIDE's BestGTMatch: an object a fix would find; of several, the highest scored detection fixes it."""
    if not obj["used"]:
        error.target = obj
        obj["usable"] = True
        if obj["best_score"] < error.score:
            obj["best_score"], obj["best_id"] = error.score, error.ident
    return error


def _ap(points: dict[int, tuple[float, bool]], objects: int) -> float:
    """TIDE's (COCO's) 101-point AP of one class, in [0, 1]."""
    if objects == 0 or not points:
        return 0.0
    ordered = sorted(points.values(), key=lambda p: -p[0])  # stable: ties keep their order, as TIDE's
    correct = np.cumsum([p[1] for p in ordered], dtype=float)
    precision = np.maximum.accumulate((correct / np.arange(1, len(ordered) + 1))[::-1])[::-1]
    at = np.searchsorted(correct / objects, np.arange(101) / 100, side="left")
    return float(np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0).sum() / 101)


Points = dict[int, dict[int, tuple[float, bool]]]  # class -> detection id -> (score, true positive), in push order


def _fix(run: _Run, points: Points, objects: dict[int, int], kind: str | None, done: frozenset[str] = frozenset(),
         only: set[int] | None = None) -> tuple[Points, dict]:
    """``TIDERun.fix_errors``: the errors of ``kind`` (None: ``only`` says which errors, by their
    place in ``run.errors``) fixed, the others as they were (those of the ``done`` types already
    fixed into ``points``), then the true positives of ``points``; the order of the points is
    TIDE's, which orders tied scores."""
    objects = dict(objects)
    fixed: Points = defaultdict(dict)
    for k, e in enumerate(run.errors):
        if e.kind in done:
            continue
        cls, point = e.fixed() if (e.kind == kind if only is None else k in only) else e.original()
        if point == -1:
            objects[cls] -= 1
        elif point is not None:
            fixed[cls][e.ident] = point
    for cls in list(objects):
        for ident, point in points.get(cls, {}).items():
            if point[1]:
                fixed[cls][ident] = point
    return fixed, objects


def _class_aps(points: Points, objects: dict[int, int]) -> dict[int, float]:
    """Each class's AP, for the classes with objects or detections."""
    return {cls: _ap(points.get(cls, {}), n) for cls, n in objects.items() if n or points.get(cls)}


def _mean(aps: dict[int, float]) -> float:
    return sum(aps.values()) / len(aps) if aps else 0.0


@dataclass
class _Analysis:
    run: _Run
    objects: dict[int, int]  # class -> objects, classes with detections only at 0
    names: dict[int, str]
    annotations: list[dict]
    detections: list[dict]


def _analyse(gt_doc: dict, dt_doc: list[dict]) -> _Analysis:
    by_image: dict[int, list[dict]] = defaultdict(list)
    annotations = gt_doc.get("annotations", [])
    for k, a in enumerate(annotations):
        if not a.get("iscrowd"):
            by_image[a["image_id"]].append({"id": k, "cls": a["category_id"], "bbox": a["bbox"], "used": False, "usable": False,
                                            "best_score": -1.0, "best_id": None})
    dets: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for k, d in enumerate(dt_doc):
        dets[d["image_id"]].append((k, d))
    run = _Run()
    for image in gt_doc.get("images", []):
        _image(run, by_image.get(image["id"], []), dets.get(image["id"], []), image["id"])
    return _Analysis(run, {**{cls: 0 for cls in run.points}, **run.objects}, {c["id"]: c["name"] for c in gt_doc.get("categories", [])},
                     annotations, dt_doc)


def breakdown(gt_doc: dict, dt_doc: list[dict]) -> dict:
    """Where the AP50 goes for the COCO documents of an evaluation (``records.coco_documents``):
    {"definition", "mAP50", "gains": {type: oracle gain}, "progressive": {type: gain, fixed in
    TIDE's order}, "counts": {type: n}, "per_class": [{"class", "AP50", type: gain ...}],
    "by_size": {"false_positives": {size: n}, "false_negatives": {size: n}}} (AP and gains in [0, 1])."""
    a = _analyse(gt_doc, dt_doc)
    run, objects = a.run, a.objects
    base = _class_aps(run.points, objects)
    gains, per_type = {}, {}
    for kind in TYPES:
        per_type[kind] = _class_aps(*_fix(run, run.points, objects, kind))
        gains[kind] = max(_mean(per_type[kind]) - _mean(base), 0.0)
    progressive, last, state, done = {}, _mean(base), (run.points, objects), frozenset()
    for kind in TYPES:
        state = _fix(run, *state, kind, done)
        done = done | {kind}
        now = _mean(_class_aps(*state))
        progressive[kind], last = max(now - last, 0.0), now
    per_class = [{"class": a.names.get(cls, str(cls)), "AP50": base[cls],
                  **{kind: per_type[kind].get(cls, 0.0) - base[cls] for kind in TYPES}} for cls in sorted(base)]
    return {"definition": DEFINITION, "mAP50": _mean(base), "gains": gains, "progressive": progressive,
            "counts": {kind: sum(e.kind == kind for e in run.errors) for kind in TYPES}, "per_class": per_class,
            "by_size": _by_size(a)}


def analyse(gt_doc: dict, dt_doc: list[dict]) -> _Analysis:
    """TIDE's matching of an evaluation's documents, done once: pass it as ``analysis`` to
    ``error_records`` and ``oracle_gain`` when asking several questions of one evaluation."""
    return _analyse(gt_doc, dt_doc)


def error_records(gt_doc: dict, dt_doc: list[dict], analysis: _Analysis | None = None) -> list[dict]:
    """Every error, as {"kind", "image_id", "class" (name), "object": the object's box (xywh) for
    missed, classification and localisation errors, else None, "detection": the detection's box
    (xywh), None for missed, "score", "area": the object's area, else the detection's}."""
    a = analysis or _analyse(gt_doc, dt_doc)
    out = []
    for e in a.run.errors:
        target = a.annotations[e.ident]["bbox"] if e.kind == "missed" else (e.target or {}).get("bbox")
        detection = None if e.kind == "missed" else a.detections[e.ident]["bbox"]
        box = target if target is not None else detection
        out.append({"kind": e.kind, "image_id": e.image, "class": a.names.get(e.cls, str(e.cls)), "object": target,
                    "detection": detection, "score": e.score, "area": box[2] * box[3]})
    return out


def oracle_gain(gt_doc: dict, dt_doc: list[dict], keep, analysis: _Analysis | None = None) -> float:
    """The AP50 gained when the errors whose record (``error_records``'s) ``keep`` accepts are all
    fixed together, each by its own type's fix (0 when none is)."""
    a = analysis or _analyse(gt_doc, dt_doc)
    records = error_records(gt_doc, dt_doc, a)
    only = {k for k, r in enumerate(records) if keep(r)}
    if not only:
        return 0.0
    return max(_mean(_class_aps(*_fix(a.run, a.run.points, a.objects, None, only=only))) - _mean(_class_aps(a.run.points, a.objects)), 0.0)


def rounded(result: dict, digits: int = 6) -> dict:
    """``breakdown``'s result with its numbers rounded (for JSON and tables)."""
    if isinstance(result, dict):
        return {k: rounded(v, digits) for k, v in result.items()}
    if isinstance(result, list):
        return [rounded(v, digits) for v in result]
    return round(result, digits) if isinstance(result, float) else result


def in_words(result: dict, top: int = 3) -> str:
    """The largest oracle gains in one line: "missed +0.120, localisation +0.050, background +0.010"."""
    gains = sorted(result["gains"].items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{kind} +{gain:.3f}" for kind, gain in gains)


def _by_size(a: _Analysis) -> dict:
    """Counts of false positives (detections of any error type) and false negatives (objects no
    detection matched) per COCO size bucket."""
    def bucket(box: list[float]) -> str:
        return next(name for name, top in SIZES if box[2] * box[3] < top)

    fp, fn = defaultdict(int), defaultdict(int)
    for e in a.run.errors:
        if e.kind != "missed":
            fp[bucket(a.detections[e.ident]["bbox"])] += 1
    for k, ann in enumerate(a.annotations):
        if not ann.get("iscrowd") and k not in a.run.found:
            fn[bucket(ann["bbox"])] += 1
    return {"false_positives": {n: fp[n] for n, _ in SIZES}, "false_negatives": {n: fn[n] for n, _ in SIZES}}
