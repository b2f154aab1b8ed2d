"""Evaluate: Ultralytics' own numbers, COCO numbers from the same predictions, the threshold
explorer on a hand-checked case, the error gallery, and the app's explorer endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

import yolov11
from yolov11.eval.coco_metrics import COCO_NAMES, coco_evaluate
from yolov11.eval.error_gallery import image_errors, worst_images
from yolov11.eval.evaluate import evaluation_curves, open_evaluation, saved_evaluation
from yolov11.eval.thresholds import Detections, counts, explore_thresholds

from helpers import serving


def _hand_case() -> tuple[dict, list[dict]]:
    """Two images, classes cat (id 1) and dog (id 2); boxes are [x, y, w, h].

    image 1, ground truth: A cat [0,0,10,10], B cat [20,0,10,10], C dog [0,20,10,10]
      d1 cat 0.9 [0,0,10,10]   IoU 1 with A                      -> TP
      d2 cat 0.8 [1,0,10,10]   IoU 0.82 with A, but d1 has A      -> FP (a duplicate)
      d3 cat 0.6 [25,0,10,10]  IoU 50/150 = 0.33 with B           -> FP at IoU 0.5, TP at IoU 0.3
      d4 dog 0.3 [0,0,10,10]   on cat A: the wrong class; C apart -> FP
    image 2, ground truth: D dog [50,50,20,20]
      d5 dog 0.7 [50,50,20,20] IoU 1 with D                      -> TP
      d6 cat 0.2 [0,0,5,5]     nothing there                      -> FP

    conf 0.5, IoU 0.5: kept d1 d2 d3 d5 -> TP 2 (d1 d5), FP 2 (d2 d3), FN 2 (B C): P = R = F1 = 0.5
        cat: TP 1, FP 2, FN 1 (B);  dog: TP 1, FP 0, FN 1 (C)
    conf 0.5, IoU 0.3: d3 now finds B -> TP 3, FP 1, FN 1: P = R = F1 = 0.75
    conf 0.1, IoU 0.5: all six kept -> TP 2, FP 4, FN 2: P = 1/3, R = 1/2, F1 = 0.4
    """
    box = lambda i, c, xywh: {"id": i, "image_id": 1 if i < 4 else 2, "category_id": c, "bbox": xywh,  # noqa: E731
                              "area": xywh[2] * xywh[3], "iscrowd": 0}
    gt = {
        "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
        "annotations": [box(1, 1, [0, 0, 10, 10]), box(2, 1, [20, 0, 10, 10]), box(3, 2, [0, 20, 10, 10]), box(4, 2, [50, 50, 20, 20])],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    det = lambda img, c, s, xywh: {"image_id": img, "category_id": c, "score": s, "bbox": xywh}  # noqa: E731
    dts = [det(1, 1, 0.9, [0, 0, 10, 10]), det(1, 1, 0.8, [1, 0, 10, 10]), det(1, 1, 0.6, [25, 0, 10, 10]), det(1, 2, 0.3, [0, 0, 10, 10]),
           det(2, 2, 0.7, [50, 50, 20, 20]), det(2, 1, 0.2, [0, 0, 5, 5])]
    return gt, dts[::-1]  # shuffled: the explorer must order by confidence itself


def test_threshold_explorer_counts_a_hand_checked_case():
    d = Detections.from_coco(*_hand_case())
    at = lambda conf, iou: counts(d, conf, iou)  # noqa: E731
    first = at(0.5, 0.5)
    assert ({k: first["overall"][k] for k in ("tp", "fp", "fn", "precision", "recall", "f1")}
            == {"tp": 2, "fp": 2, "fn": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert [(c["class"], c["tp"], c["fp"], c["fn"]) for c in first["per_class"]] == [("cat", 1, 2, 1), ("dog", 1, 0, 1)]
    loose = at(0.5, 0.3)["overall"]
    assert (loose["tp"], loose["fp"], loose["fn"], loose["precision"], loose["recall"]) == (3, 1, 1, 0.75, 0.75)
    low = at(0.1, 0.5)["overall"]
    assert (low["tp"], low["fp"], low["fn"], low["precision"], low["recall"], low["f1"]) == (2, 4, 2, 0.3333, 0.5, 0.4)
    none = at(0.95, 0.5)["overall"]
    assert (none["tp"], none["fp"], none["fn"], none["precision"], none["recall"]) == (0, 0, 4, 0.0, 0.0)


@pytest.fixture(scope="module")
def evaluated(trained_run):
    return yolov11.evaluate(run=trained_run["run"], workspace=trained_run["workspace"], imgsz=128, batch=4)


def test_metrics_equal_ultralytics_val(trained_run, evaluated):
    """The tab's numbers are Ultralytics' own: a plain YOLO(w).val() on the same weights, data, imgsz
    and batch gives the same metrics, per-class rows, confusion matrix and detections.

    The fixture model finds things (mAP50 ~0.6), so every number compared is a real one.
    """
    from ultralytics import YOLO

    ws = trained_run["workspace"]
    plain = YOLO(str(trained_run["weights"])).val(data=str(trained_run["data_yaml"]), imgsz=128, batch=4, split="val", save_json=True,
                                                  verbose=False, project=str(ws.root / "plain-val"))
    theirs = plain.results_dict
    assert evaluated["metrics"]["mAP50"] > 0.3
    assert all(r["mAP50"] > 0 for r in evaluated["per_class"])
    for name, key in (("precision", "metrics/precision(B)"), ("recall", "metrics/recall(B)"), ("mAP50", "metrics/mAP50(B)"),
                      ("mAP50-95", "metrics/mAP50-95(B)")):
        assert evaluated["metrics"][name] == round(theirs[key], 5), name
    rows = [(r["Class"], int(r["Images"]), int(r["Instances"]), r["Box-P"], r["Box-R"], r["mAP50"], r["mAP50-95"]) for r in plain.summary()]
    assert [(r["class"], r["images"], r["instances"], r["precision"], r["recall"], r["mAP50"], r["mAP50-95"])
            for r in evaluated["per_class"]] == rows
    assert evaluated["confusion"]["matrix"] == plain.confusion_matrix.matrix.astype(int).tolist()
    assert sum(map(sum, evaluated["confusion"]["matrix"])) > 0
    # Ultralytics' own predictions.json (save_json) holds the same detections as our coco_dt.json.
    gt = json.loads(Path(evaluated["files"]["coco_gt"]).read_text())
    names = {img["id"]: Path(img["path"]).name for img in gt["images"]}
    key = lambda d, name: (name, d["category_id"], tuple(d["bbox"]), d["score"])  # noqa: E731
    ours = sorted(key(d, names[d["image_id"]]) for d in json.loads(Path(evaluated["files"]["coco_dt"]).read_text()))
    ultra = sorted(key(d, d["file_name"]) for d in json.loads((Path(plain.save_dir) / "predictions.json").read_text()))
    assert len(ours) == len(ultra) == evaluated["detections"] > 0
    for a, b in zip(ours, ultra):  # both round to 3 decimals, from float32 values that may differ in the last bit
        assert a[:2] == b[:2], (a, b)
        assert abs(a[3] - b[3]) <= 1e-5, (a, b)
        assert max(abs(x - y) for x, y in zip(a[2], b[2])) <= 0.0015, (a, b)


def test_evaluation_keeps_coco_files_and_curves(trained_run, evaluated):
    gt_file, dt_file = Path(evaluated["files"]["coco_gt"]), Path(evaluated["files"]["coco_dt"])
    gt, dts = json.loads(gt_file.read_text()), json.loads(dt_file.read_text())
    val_images = sorted((Path(trained_run["data_yaml"]).parent / "images" / "val").glob("*.jpg"))
    assert sorted(Path(i["path"]).name for i in gt["images"]) == [p.name for p in val_images]
    for img in gt["images"]:  # original pixel sizes, not the 128-px letterbox
        with Image.open(img["path"]) as im:
            assert (img["width"], img["height"]) == im.size
    assert len(gt["annotations"]) == sum(r["instances"] for r in evaluated["per_class"])
    assert len(dts) == evaluated["detections"] > 0
    assert min(d["score"] for d in dts) >= 0.001
    # The COCO numbers in the result are those of the saved files, by either evaluator.
    for evaluator in ("faster-coco-eval", "pycocotools"):
        again = coco_evaluate(gt_file, dt_file, evaluator=evaluator)["coco"]
        assert list(again) == list(evaluated["coco"]) == COCO_NAMES
        assert all(again[k] == pytest.approx(evaluated["coco"][k], abs=1e-6) for k in COCO_NAMES), evaluator
    curves = evaluation_curves(evaluated["dir"], trained_run["workspace"])
    assert curves["classes"] == ["helmet", "head", "vest"]
    assert len(curves["x"]) == len(curves["f1_confidence"][0]) == 201
    matrix = evaluated["confusion"]["matrix"]
    assert evaluated["confusion"]["names"] == ["helmet", "head", "vest", "background"]
    assert len(matrix) == 4
    assert [sum(col) for col in zip(*matrix)][:3] == [r["instances"] for r in evaluated["per_class"]]  # each true box counted once
    assert saved_evaluation(trained_run["run"], "val", workspace=trained_run["workspace"])["coco"] == evaluated["coco"]


def test_explorer_and_gallery_on_a_real_evaluation(trained_run, evaluated):
    ws = trained_run["workspace"]
    instances = sum(r["instances"] for r in evaluated["per_class"])
    low = explore_thresholds(evaluated["dir"], conf=0.001, iou=0.5, workspace=ws)["overall"]
    assert low["tp"] + low["fn"] == instances
    assert low["tp"] + low["fp"] == evaluated["detections"]
    high = explore_thresholds(evaluated["dir"], conf=1.0, iou=0.5, workspace=ws)["overall"]
    assert high["tp"] + high["fp"] < low["tp"] + low["fp"]
    assert high["fn"] == instances - high["tp"]

    errors = image_errors(evaluated["dir"], conf=0.001, iou=0.5, workspace=ws)
    assert sum(e["fp"] for e in errors) == low["fp"]
    assert sum(e["fn"] for e in errors) == low["fn"]
    shown = worst_images(evaluated["dir"], by="most FP", conf=0.001, iou=0.5, limit=3, workspace=ws)
    fps = [int(caption.split(" TP, ")[1].split(" FP")[0]) for _, caption in shown]
    assert 0 < len(shown) <= 3
    assert fps == sorted(fps, reverse=True)
    assert fps[0] == max(e["fp"] for e in errors)
    assert all(Image.open(path).size == (128, 128) for path, _ in shown)  # drawn on the original image
    assert all(Path(path).is_relative_to(ws.previews_dir) for path, _ in shown)  # a folder the app may serve
    vest = image_errors(evaluated["dir"], conf=0.001, iou=0.5, cls="vest", workspace=ws)
    assert {evaluated["confusion"]["names"][c] for e in vest for _, c, _, _ in e["boxes"]} <= {"vest"}
    with pytest.raises(yolov11.UserError, match="class cat: not a class of this evaluation"):
        image_errors(evaluated["dir"], cls="cat", workspace=ws)


def test_only_evaluation_folders_of_the_workspace_are_opened(trained_run, tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(yolov11.UserError, match="not an evaluation folder of workspace"):
        open_evaluation(tmp_path, trained_run["workspace"])
    with pytest.raises(yolov11.UserError, match="not an evaluation folder of workspace"):
        explore_thresholds(str(trained_run["workspace"].runs_dir / ".." / ".."), workspace=trained_run["workspace"])


def test_threshold_explorer_endpoint(trained_run, evaluated):
    """Through the app: /evaluate names its folder, /threshold_explorer counts there at any thresholds."""
    from gradio_client import Client

    with serving(trained_run["workspace"]) as url:
        client = Client(url, verbose=False)
        table, chart, code, coco, folder, _, errors, sizes = client.predict(trained_run["run"], "val", api_name="/evaluate")
        assert Path(folder) == Path(evaluated["dir"])
        # Where the mAP goes (new last outputs): the chart of the oracle gains, and the errors by box size
        breakdown = yolov11.saved_evaluation(trained_run["run"], "val", workspace=trained_run["workspace"])["error_breakdown"]
        assert errors["type"] == "plotly" and "where the mAP50 goes" in errors["plot"]
        assert sizes["headers"] == ["box size", "false positives", "share of FP", "missed objects", "share of missed"]
        assert [row[:2] for row in sizes["data"]] == [[k, v] for k, v in breakdown["by_size"]["false_positives"].items()]
        assert [row[0] for row in coco["data"]] == COCO_NAMES
        summary, per_class = client.predict(folder, 0.001, 0.5, api_name="/threshold_explorer")
        expected = explore_thresholds(folder, 0.001, 0.5, workspace=trained_run["workspace"])
        assert summary["headers"][:3] == ["TP", "FP", "FN"]
        assert summary["data"][0][:3] == [expected["overall"][k] for k in ("tp", "fp", "fn")]
        assert [row[0] for row in per_class["data"]] == ["helmet", "head", "vest"]
        with pytest.raises(Exception, match="not an evaluation folder"):
            client.predict("/etc", 0.25, 0.5, api_name="/threshold_explorer")


def test_error_gallery_and_compare_endpoints(trained_run, evaluated, tmp_path):
    """Through the app: the worst-images gallery is the core's, and two real runs compare side by side."""
    from gradio_client import Client

    ws = trained_run["workspace"]
    # a second, weaker run
    weak = yolov11.train(trained_run["dataset"], "yolov11n", workspace=ws, epochs=1, imgsz=128, batch=8, workers=0, plots=False)
    with serving(ws) as url:
        client = Client(url, verbose=False)
        shown = client.predict(evaluated["dir"], "most FN", "vest", 0.25, 0.5, api_name="/error_gallery")
        expected = worst_images(evaluated["dir"], "most FN", "vest", 0.25, 0.5, workspace=ws)
        assert len(shown) == len(expected) > 0
        assert [item["caption"] for item in shown] == [caption for _, caption in expected]
        assert all(Image.open(item["image"]).size == (128, 128) for item in shown)
        table, _ = client.predict(trained_run["run"], weak["run"], "val", api_name="/compare_runs")
        assert table["headers"] == ["metric", trained_run["run"], weak["run"], "gain (B − A)"]
        rows = {row[0]: row[1:] for row in table["data"]}
        assert table["data"][0] == ["dataset", trained_run["dataset"], trained_run["dataset"], ""]  # which data (version) each trained on
        assert rows["val images"][2] == "same images and labels: B − A is the gain" and rows["val images"][0] == rows["val images"][1] > 0
        assert rows["mAP50-95"][0] == round(evaluated["metrics"]["mAP50-95"], 4)
        assert rows["mAP50-95"][0] > rows["mAP50-95"][1]
        assert rows["mAP50-95"][2] < 0 and rows["mAP50-95"][2] == pytest.approx(rows["mAP50-95"][1] - rows["mAP50-95"][0], abs=1e-4)
        assert {"COCO AP", "COCO AR100", "vest mAP50-95"} <= rows.keys()
        assert saved_evaluation(weak["run"], "val", workspace=ws) is not None  # the weak run was evaluated on demand
        with pytest.raises(Exception, match="pick two different runs"):
            client.predict(weak["run"], weak["run"], "val", api_name="/compare_runs")


def test_saved_evaluation_files_are_never_read_half_written(tmp_path):
    """Two processes evaluating the same run and split (two app requests, two test workers) write
    the same files: each is written whole (workspace.paths.write_whole), so a reader finds the old
    file or the new one. Here two writers rewrite one 2 MB JSON file while a reader parses it."""
    import threading

    from yolov11.workspace.paths import write_whole

    path = tmp_path / "coco_dt.json"
    write_whole(path, json.dumps([{"n": 0}]))
    stop, bad = threading.Event(), []

    def writer(n: int) -> None:
        for k in range(30):
            write_whole(path, json.dumps([{"n": n, "k": k, "pad": "x" * 64}] * 20_000))

    def reader() -> None:
        while not stop.is_set():
            try:
                json.loads(path.read_text())
            except ValueError as exc:
                bad.append(str(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in (1, 2)]
    watching = threading.Thread(target=reader)
    watching.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watching.join()
    assert bad == []
    assert len(json.loads(path.read_text())) == 20_000 and [p.name for p in tmp_path.iterdir()] == ["coco_dt.json"]  # no temporary left
