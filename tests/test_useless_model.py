"""A model that finds nothing is not announced as success: one epoch on 16 tiny images really
gives val mAP50 below the bound, and its run status, the Predict tab (/predict) and publishing
(/publish_model, with a toast) say so; the fixture's model that finds things gets no warning."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import yolov11
from yolov11.training.status import WEAK_MAP50

from helpers import serving, write_yolo_folder

WARNING = "the model finds almost nothing (val mAP50 0.00): train more epochs, use a bigger image size, or check the labels"
GOOD_RUN = "20250101-000000-yolov11n"  # the fixture's trained model, registered in this workspace


@pytest.fixture(scope="module")
def useless(tmp_path_factory, trained_run) -> dict:
    """A workspace holding a 1-epoch run on a 16-image dataset (finds nothing) and, as GOOD_RUN, a
    copy of the fixture's trained model with its real metrics: {"ws", "run", "photo", "good_photo"}."""
    base = tmp_path_factory.mktemp("useless")
    ws = yolov11.Workspace.at(base / "ws")
    data = yolov11.import_dataset(write_yolo_folder(base / "hardhat-tiny"), workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=1, imgsz=64, batch=4, workers=0, seed=0, plots=False)
    assert r["status"] == "done", r
    run_dir = ws.add_run(GOOD_RUN, trained_run["dataset"], "yolov11n", {}, status="done")
    (run_dir / "weights").mkdir()
    shutil.copy(trained_run["weights"], run_dir / "weights" / "best.pt")
    ws.update_run(GOOD_RUN, metrics=trained_run["metrics"])
    photo = sorted((Path(data["data_yaml"]).parent / "images" / "val").glob("*.jpg"))[0]
    good = yolov11.predict(trained_run["weights"], trained_run["data_yaml"].parent / "images" / "val", conf=0.25, workspace=base / "probe")
    good_photo = max(good["images"], key=lambda i: len(i["detections"]))["image"]
    return {"ws": ws, "run": r["run"], "photo": photo, "good_photo": good_photo}


@pytest.fixture(scope="module")
def app_url(useless):
    with serving(useless["ws"]) as url:
        yield url


def queue_call(url: str, api_name: str, data: list) -> tuple[list, list[dict]]:
    """Call an endpoint through Gradio's queue as the browser does: (its outputs, the toasts
    (gr.Warning, gr.Info) it raised on the way), which gradio_client does not hand back."""
    config = json.loads(urllib.request.urlopen(url + "config").read())
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    session = uuid.uuid4().hex
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}).encode()
    urllib.request.urlopen(urllib.request.Request(url + "gradio_api/queue/join", data=body, headers={"Content-Type": "application/json"}))
    toasts = []
    with urllib.request.urlopen(url + f"gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream:
            if not line.startswith(b"data:"):
                continue
            msg = json.loads(line[5:])
            if msg["msg"] == "log":
                toasts.append(msg)
            if msg["msg"] == "process_completed":
                assert msg["success"], msg
                return msg["output"]["data"], toasts
    raise AssertionError(f"/{api_name}: the queue closed without a result")


def test_the_run_status_of_a_model_that_finds_nothing_warns(useless, trained_run):
    s = yolov11.run_status(useless["run"], useless["ws"])
    assert s["status"] == "done"
    assert s["history"][-1]["mAP50"] < WEAK_MAP50  # really trained, really weak
    assert s["val_mAP50"] < WEAK_MAP50
    assert s["warning"] == WARNING

    good = yolov11.run_status(trained_run["run"], trained_run["workspace"])
    assert good["status"] == "done"
    assert good["val_mAP50"] == round(trained_run["metrics"]["mAP50"], 4)
    assert good["warning"] is None


def test_predict_says_nothing_was_found_and_why(useless, app_url, tmp_path):
    client = Client(app_url, verbose=False)
    _, table, code = client.predict(useless["run"], handle_file(str(useless["photo"])), 0.25, api_name="/predict")
    assert table["data"] == []
    assert code.startswith("**Nothing found at confidence 0.25**; the model's val mAP50 is 0.00 — more epochs?\n\n")
    assert "yolov11.predict(" in code  # the snippet still follows

    uploaded = shutil.copy(useless["ws"].run_weights(useless["run"]), tmp_path / "mine.pt")
    _, table, code = client.predict(None, handle_file(str(useless["photo"])), 0.25, handle_file(uploaded), api_name="/predict")
    assert table["data"] == []
    assert code.startswith("**Nothing found at confidence 0.25**\n\n")  # uploaded weights: no run to tell how good it is
    assert "mAP50" not in code

    _, table, code = client.predict(GOOD_RUN, handle_file(str(useless["good_photo"])), 0.25, api_name="/predict")
    assert table["data"] != []
    assert "Nothing found" not in code
    blank = tmp_path / "blank.jpg"
    Image.fromarray(np.full((128, 128, 3), 127, np.uint8)).save(blank)  # nothing to find on it
    _, table, code = client.predict(GOOD_RUN, handle_file(str(blank)), 0.25, api_name="/predict")
    assert table["data"] == []
    map50 = yolov11.run_status(GOOD_RUN, useless["ws"])["val_mAP50"]
    assert code.startswith(f"**Nothing found at confidence 0.25**; the model's val mAP50 is {map50:.2f}: try a lower confidence.")


def test_publishing_a_model_that_finds_nothing_warns(useless, app_url):
    (note,), toasts = queue_call(app_url, "publish_model", [useless["run"], None, "weak-one", False])
    assert [(t["level"], t["log"]) for t in toasts] == [("warning", f"Published weak-one, but {WARNING}")]
    assert note.startswith(f"**Warning: {WARNING}.** /demo visitors will see it find little or nothing.")
    assert "Published **weak-one** (helmet, head, vest; val mAP50 0.00)" in note
    card = yolov11.published(useless["ws"])
    assert card["name"] == "weak-one"
    assert card["val_mAP50"] < WEAK_MAP50
    assert card["warning"] == WARNING

    client = Client(app_url, verbose=False)  # what /demo visitors get from it, even at the lowest confidence
    _, summary, table = client.predict(handle_file(str(useless["photo"])), 0.05, api_name="/demo_predict")
    assert table["data"] == []
    assert summary == "Nothing found even at 5% confidence: this model may not know these objects."
    _, summary, _ = client.predict(handle_file(str(useless["photo"])), 0.25, api_name="/demo_predict")
    assert summary == "Nothing found at 25% confidence or more. Try a lower confidence."

    (note,), toasts = queue_call(app_url, "publish_model", [GOOD_RUN, None, "good-one", False])
    map50 = yolov11.run_status(GOOD_RUN, useless["ws"])["val_mAP50"]
    assert map50 >= WEAK_MAP50
    assert toasts == []
    assert note.startswith(f"Published **good-one** (helmet, head, vest; val mAP50 {map50:.2f})")
    assert "Warning" not in note
    card = yolov11.published(useless["ws"])
    assert card["val_mAP50"] == map50
    assert card["warning"] is None
