"""An export's report in words: what each number is, and why some look alarming when they are not.

``export_checks(result)`` is what the Export tab shows and ``export_model`` stores under "checks":
one sentence per check. Where a number looks wrong at first sight it says what it measures:

* an INT8 (or FP16) raw difference is a max over every anchor, junk ones included: the
  difference on the anchors eager keeps is given beside it;
* INT8 detections differ from eager's at the strict IoU 0.99 as expected: how many are still the
  same objects, and that the mAP and the guard are what say whether accuracy held;
* the FP32 mAP50-95 is Evaluate's number; an exported model with a fixed input is scored on that
  input, so the change is split into the input's and the export's own (accuracy.py);
* the INT8 guard: what it measured, against what, and the tolerance;
* an option the format did not use.
"""

from __future__ import annotations

from yolov11.export.quantize import int8_summary
from yolov11.export.verify import MATCH_IOU, detections_verdict

ROUNDING = 1e-3  # a normalized raw difference under this is float rounding (FP32 exports show ~1e-5)
PRECISION_WORDS = {"int8": "INT8", "fp16": "FP16", "fp32": "FP32"}


def raw_difference(v: dict, precision: str) -> str:
    line = f"{v['compared']}: max |difference| vs eager {v['max_abs_diff']:.2e}"
    k = v.get("kept_anchors")
    if not k or v.get("max_abs_diff_normalized", 0) < ROUNDING:
        return line + (" (float rounding: the export computes what eager does)" if k else "")
    line += f", a max over every anchor ({k['per_image']} per image, {v['images']} image(s))"
    line += ", box coordinates (input pixels) and class scores alike"
    if k["largest_diff_at_score"] < k["conf"]:
        line += (f"; the largest is on an anchor eager scores {k['largest_diff_at_score']:.2g}, under the confidence {k['conf']:g}: "
                 f"a box no one keeps, whose coordinates are noise that {PRECISION_WORDS.get(precision, precision)} rounding "
                 "can move by whole strides")
    if k["anchors"]:
        line += (f". On the {k['anchors']} anchor(s) eager scores ≥ {k['conf']:g}, the ones NMS can keep, boxes differ by at most "
                 f"{k['max_box_diff_px']:.2f} px and scores by at most {k['max_score_diff']:.3f}")
    else:
        line += f". No anchor scores ≥ {k['conf']:g} in these images"
    return line


def detections(v: dict, precision: str) -> str:
    line = f"after NMS at confidence {v['conf']}: {detections_verdict(v)}"
    d = v["detections"]
    if v["detections_match"] or not d["eager"] or precision == "fp32":
        return line
    guard = " and the INT8 guard" if precision == "int8" else ""
    return (f"{line}. Expected for {PRECISION_WORDS[precision]}: its rounding moves boxes by more than the IoU ≥ {MATCH_IOU} "
            f"this check asks of an exact export, and scores near the confidence {v['conf']} cross it; {d['same_object']} of {d['eager']} "
            f"eager detections still have an exported one of the same class at IoU ≥ {d['same_object_iou']}. "
            f"Whether accuracy held is what the mAP50-95{guard} say")


def accuracy(v: dict, nms: bool) -> str:
    m = v["map50_95"]
    change = f"{m['exported'] - m['eager']:+.4f}"
    line = (f"mAP50-95 on the {m['split']} split (Ultralytics' validator, conf {m['baseline_conf']:g}, IoU {m['iou']:g}, "
            f"{m.get('baseline_imgsz', m['imgsz'])} px): "
            f"FP32 {m['eager']:.4f}, the number Evaluate shows for these weights; exported {m['exported']:.4f} ({change})")
    if m["input_change"]:
        how = f"a fixed {m['imgsz']}x{m['imgsz']} square input"
        if nms:
            how += f" and the graph's confidence {m['conf']:g} (its NMS drops everything scored under it)"
        evaluate = "a padded rectangle" + (f" and keeps scores down to {m['baseline_conf']:g}" if nms else "")
        if m.get("baseline_imgsz", m["imgsz"]) != m["imgsz"]:
            evaluate += f" at the {m['baseline_imgsz']} px the weights were trained at"
        line += (f". Of that, {m['input_change']:+.4f} is not the export's doing: the exported model takes {how} and is scored that way, "
                 f"while Evaluate lets the validator letterbox each batch into {evaluate}; "
                 f"eager PyTorch scored the exported way gets {m['eager_as_exported']:.4f}")
    line += f". The export's own change: {m['export_change']:+.4f}"
    if m.get("note"):
        line += f" ({m['note']})"
    return line


def export_checks(r: dict) -> list[str]:
    """The sentences of an export report (``export_model``'s result), in the order the tab shows them."""
    v, q = r.get("verify"), r.get("quantization")
    lines = []
    if v:
        lines += [raw_difference(v, r["precision"]), detections(v, r["precision"])]
        if v.get("map50_95"):
            lines.append(accuracy(v, r["nms"]))
    if q:
        lines.append(int8_summary(q))
    lines += [f"{option}: not applied: {why}" for option, why in (r.get("not_applied") or {}).items()]
    if v:
        lat = v["latency_ms"]
        lines.append(f"latency: median of {lat['repeats']} calls, {lat['device']}, {lat['exported_runtime']}")
    return lines
