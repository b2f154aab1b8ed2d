"""Actions read from where the mAP goes (TIDE's oracles over the evaluation's records): fix the
suspicious labels, duplicates, background detections (small objects: on_tiles.py). Each returns an action
({"kind", "title", "expected_gain", "how", "evidence", "command"}) or None when it has nothing to
say. Gains are AP50 oracles turned into mAP50-95 by this run's mAP50-95 / mAP50."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np

from yolov11.advice.evidence import Evidence
from yolov11.boxes import box_iou, xywh_to_xyxy
from yolov11.codegen.snippets import shell_command

FLAGGED = 0.5  # a label issue scored this suspicious or more counts as flagged
ON = 0.5  # IoU at which an error sits on a flagged label
WELL_FOUND = 0.5  # a class's AP50 from which "the model sees nothing at this label" points at the label, not the model
EXAMPLES = 6


def action(kind: str, title: str, gain: float, how: str, evidence: dict, command: str) -> dict:
    """An action as advise lists it (numpy numbers in the evidence made plain, for JSON)."""
    plain = json.loads(json.dumps(evidence, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    return {"kind": kind, "title": title, "expected_gain": round(max(float(gain), 0.0), 4), "how": how, "evidence": plain,
            "command": command}


def starved_classes(ev: Evidence) -> set[str]:
    """Classes the model knows from few examples and finds badly (under half the median class's
    train boxes, AP50 under WELL_FOUND): labels it disagrees with there point at the model."""
    counts = ev.train_boxes()
    if not counts:
        return set()
    median = float(np.median([n for n in counts.values()]))
    ap50 = {c["class"]: c["AP50"] for c in ev.breakdown["per_class"]}
    return {c for c, n in counts.items() if n < median / 2 and ap50.get(c, 0.0) < WELL_FOUND}


# A train label of this kind teaches the model the val error of that TIDE type (the train-split part of fix_labels).
TAUGHT = {"missing": "missed", "wrong_class": "classification", "badly_located": "localisation", "spurious": "background"}


def _usable(flagged: list[dict], starved: set[str], ap50: dict[str, float]) -> tuple[list[dict], Counter]:
    """The flagged labels that point at the labels: those of classes the model finds badly from few
    train boxes (all kinds) or badly at all (spurious: "the model sees nothing there") are left out."""
    used, left_out = [], Counter()
    for i in flagged:
        if i["kind"] != "missing" and (i["class"] in starved or (i["kind"] == "spurious" and ap50.get(i["class"], 0.0) < WELL_FOUND)):
            left_out[i["class"]] += 1
        else:
            used.append(i)
    return used, left_out


def _split_part(ev: Evidence, used: list[dict]) -> tuple[float, int]:
    """The errors of this split that sit on its flagged labels, fixed: TIDE's oracle (AP50) and their number."""
    ids = {im.get("file_name"): im["id"] for im in ev.gt_doc["images"]}
    labels, unlabelled = defaultdict(list), defaultdict(list)
    for i in used:
        if i["kind"] == "missing":
            unlabelled[ids.get(i["image"])].append(i["suggested_box"])
        else:
            labels[ids.get(i["image"])].append(i["box"])

    def on_flagged(r: dict) -> bool:
        box, boxes = (r["detection"], unlabelled) if r["kind"] == "background" else (r["object"], labels)
        near = boxes.get(r["image_id"])
        return r["kind"] != "both" and r["kind"] != "duplicate" and box is not None and bool(near) and \
            box_iou(xywh_to_xyxy(box), np.array(near, float)).max() >= ON

    return (ev.oracle_gain(on_flagged), sum(on_flagged(r) for r in ev.errors)) if used else (0.0, 0)


def _train_part(ev: Evidence, used: list[dict]) -> tuple[float, dict[str, float]]:
    """Wrong train labels teach the model its errors: a share s of the train labels flagged as one kind
    stands for the share s of the val errors of the type that kind teaches (TAUGHT), so the part is
    sum over kinds of s x that type's TIDE oracle (AP50). Returns it and the shares."""
    labels = max(int((ev.train_issues or {}).get("labels") or 0), 1)
    shares = {kind: sum(i["kind"] == kind for i in used) / labels for kind in TAUGHT}
    return sum(share * ev.breakdown["gains"][TAUGHT[kind]] for kind, share in shares.items()), shares


def fix_labels(ev: Evidence) -> dict | None:
    starved, ap50 = starved_classes(ev), {c["class"]: c["AP50"] for c in ev.breakdown["per_class"]}
    flagged = [i for i in (ev.issues or {}).get("issues", []) if i["score"] >= FLAGGED]
    scored_train = ev.train_issues is not None and ev.train_issues is not ev.issues
    flagged_train = [i for i in ev.train_issues.get("issues", []) if i["score"] >= FLAGGED] if scored_train else []
    used, left_out = _usable(flagged, starved, ap50)
    used_train, left_out_train = _usable(flagged_train, starved, ap50)
    if not used and not used_train:
        return None
    gain50, on = _split_part(ev, used)
    train50, shares = _train_part(ev, used_train) if used_train else (0.0, {})
    review = "train" if train50 > gain50 else ev.split if ev.split in ("val", "train") else "val"
    left = sum(left_out.values()) + sum(left_out_train.values())
    evidence = {"flagged": len(used), "by_kind": dict(Counter(i["kind"] for i in used)), "errors_on_flagged": on,
                "images": list(dict.fromkeys(i["image"] for i in (used_train if review == "train" else used)))[:EXAMPLES],
                "train_flagged": len(used_train), "train_by_kind": dict(Counter(i["kind"] for i in used_train)),
                "train_shares": {k: round(v, 4) for k, v in shares.items() if v}, "split_gain50": round(gain50, 4),
                "train_gain50": round(train50, 4), "review_split": review, "left_out": dict(left_out + left_out_train)}
    parts = []
    if used:
        parts.append(f"TIDE oracle: the {on} errors of the {ev.split} split that sit on its {len(used)} flagged labels (suspicion >= "
                     f"{FLAGGED}), fixed, add {gain50:.3f} AP50")
    if used_train:
        taught = ", ".join(f"{shares[k]:.1%} of the train labels flagged {k} x the {TAUGHT[k]} oracle" for k in TAUGHT if shares[k])
        scored = (" (scored in-sample by this run's own model, which learned some wrong labels: a lower bound; label-issues --split "
                  "train scores them with k fold models)") if ev.train_issues.get("in_sample") else ""
        parts.append(f"the {len(used_train)} flagged train labels{scored} teach the model its errors: {taught} = {train50:.3f} AP50")
    elif ev.split != "train" and not scored_train:
        parts.append("the train labels are not scored (label-issues --split train: k fold trainings); wrong ones there cost more, "
                     "uncounted")
    how = ("; ".join(parts) + f"; x {ev.ratio:.2f} (this run's mAP50-95 / mAP50). Rough: a flagged label may be right, and the share "
           "of errors a wrong train label causes is assumed, not measured"
           + (f"; {left} flagged labels of classes the model finds badly are left out (more data may be what they need)" if left else ""))
    where = f"{len(used)} {ev.split}" + (f" and {len(used_train)} train" if used_train else "") if used else f"{len(used_train)} train"
    return action("fix_labels", f"Fix the suspicious labels ({where})", (gain50 + train50) * ev.ratio, how, evidence,
                   shell_command("label-issues", run=ev.run, split=review))


def duplicates(ev: Evidence) -> dict | None:
    n, gain50 = ev.breakdown["counts"]["duplicate"], ev.breakdown["gains"]["duplicate"]
    if not n:
        return None
    weights = ev.ws.run_weights(ev.run)
    how = (f"TIDE oracle: removing the {n} duplicate boxes adds {gain50:.3f} AP50, x {ev.ratio:.2f}. Rough: a lower NMS IoU removes "
           "most of them, and may merge neighbouring objects")
    return action("duplicates", "Duplicate boxes on one object: a lower NMS IoU (0.5)", gain50 * ev.ratio, how, {"duplicates": n},
                   shell_command("predict", weights=str(weights), source="photos/", iou=0.5))


def background(ev: Evidence) -> dict | None:
    records = [r for r in ev.errors if r["kind"] == "background"]
    if not records:
        return None
    gain50 = ev.breakdown["gains"]["background"]
    names = {im["id"]: im.get("file_name") for im in ev.gt_doc["images"]}
    worst = [names[i] for i, _ in Counter(r["image_id"] for r in records).most_common(EXAMPLES)]
    how = (f"TIDE oracle: removing the {len(records)} detections where nothing is adds {gain50:.3f} AP50, x {ev.ratio:.2f}. "
           "Rough: images without the objects (negatives) teach the model what is not one; they rarely remove them all")
    return action("background", "Detections on the background: add images without the objects", gain50 * ev.ratio, how,
                   {"background_detections": len(records), "images": worst},
                   shell_command("pool-add", "negatives/", data=ev.dataset))
