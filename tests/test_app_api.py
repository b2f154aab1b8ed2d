"""The app's API through gradio_client, against a real server (launch(prevent_thread_lock=True))."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import yolov11

from helpers import serving


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("app") / "ws")
    with serving(ws) as url:
        yield url, ws


def wait_for(client: Client, run: str, states: set[str], timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run, api_name="/training_status")
        if status["status"] in states:
            return status
        time.sleep(0.5)
    raise AssertionError(f"run {run} never reached {states}: {status}")


def test_import_train_evaluate_export_predict(server, tiny_zip):
    url, ws = server
    client = Client(url, verbose=False)
    summary, table, report, code, picked = client.predict(handle_file(str(tiny_zip)), "", 0.2, False, api_name="/import_dataset")
    assert report["name"] == picked["value"] == "hardhat-tiny"
    assert "16 images" in summary
    assert report["images"] == {"train": 12, "val": 4}
    assert report["format"] == "yolo"
    assert report["data_yaml"].endswith("data.yaml")
    assert "hardhat-tiny" in [row[0] for row in table["data"]]
    assert "yolov11.import_dataset(" in code
    assert "python -m yolov11 import" in code

    run, code, note = client.predict("hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, api_name="/start_training")
    assert ws.run(run)["status"] in ("queued", "running", "done")
    assert "python -m yolov11 train --data hardhat-tiny" in code
    status = wait_for(client, run, {"done", "failed"})
    assert status["status"] == "done", status["error"]
    assert status["history"][0]["epoch"] == 1
    assert status["log"]
    # What to fix next, worked out as the app's training ended (before it said done): the top three of advice-val.json
    assert any("working out what to fix next" in line for line in status["log"])
    saved = yolov11.saved_advice(run, "val", workspace=ws)
    assert saved is not None and status["advice"] == [{k: a[k] for k in ("kind", "title", "expected_gain", "command")}
                                                      for a in saved["actions"][:3]]

    table, chart, code, coco, folder, sliced, errors, sizes = client.predict(run, "val", api_name="/evaluate")
    assert sliced["data"] == []  # small objects not asked for
    assert [row[0] for row in sizes["data"]] == ["small", "medium", "large"]  # where the mAP goes, by box size
    *_, code, _, _, sliced, _, _ = client.predict(run, "val", None, None, False, True, api_name="/evaluate")  # a new last input
    assert [row[0] for row in sliced["data"]] == ["mAP50", "mAP50-95", "small mAP50-95"]
    assert "sliced=True" in code and "--slice on" in code
    assert table["headers"][:4] == ["class", "images", "instances", "precision"]
    assert [row[0] for row in coco["data"]][:3] == ["AP", "AP50", "AP75"]
    assert Path(folder, "coco_dt.json").is_file()
    assert [row[0] for row in table["data"]] == ["all", "helmet", "head", "vest"]
    assert f"yolov11.evaluate(run={run!r}" in code  # a Python literal (repr), not JSON

    path, verify, code, bundle, latency, checks = client.predict(run, "onnx", False, False, api_name="/export_model")
    assert Path(path).suffix == ".onnx"
    assert Path(path).stat().st_size > 1e6  # downloaded through the app
    assert verify["verify"]["max_abs_diff"] < 1e-3
    assert Path(bundle).suffix == ".zip"
    assert latency["headers"][0] == "batch"
    assert "max |difference|" in checks

    image = next((ws.datasets_dir / "hardhat-tiny" / "images" / "val").glob("*.jpg"))
    annotated, detections, _ = client.predict(run, handle_file(str(image)), 0.05, api_name="/predict")
    assert Path(annotated).is_file()
    assert detections["headers"] == ["class", "confidence", "box"]
    annotated, detections, code = client.predict(run, handle_file(str(image)), 0.05, None, None, False, "on", api_name="/predict")
    assert Path(annotated).is_file() and detections["headers"] == ["class", "confidence", "box"]
    assert "sliced=True" in code and "--slice on" in code  # small objects: tile by tile (a new last input)

    # A zoo variant started from this run's weights: the stock layers transfer, CBAM's are new.
    best = ws.run_weights(run)
    run2, code, note = client.predict("hardhat-tiny", "yolov11n-cbam", 1, 64, 8, "cpu", handle_file(str(best)), api_name="/start_training")
    transferred, total = map(int, re.search(r"(\d+) of (\d+) tensors transfer", note).groups())
    assert total / 2 < transferred < total
    assert "--weights" in code  # the Detect head moved to row 26: matched by name, it starts fresh
    assert wait_for(client, run2, {"done", "failed"})["status"] == "done"
    assert any(f"{transferred}/{total} tensors transfer" in line for line in client.predict(run2, api_name="/training_status")["log"])


def test_stop_and_reattach_from_a_second_client(server, tiny_zip):
    url, ws = server
    first, second = Client(url, verbose=False), Client(url, verbose=False)
    if not ws.dataset("hardhat-tiny"):
        yolov11.import_dataset(tiny_zip, workspace=ws)
    for earlier in ws.runs():  # one training at a time: let an earlier test's run finish first
        if earlier["status"] in ("queued", "running"):
            wait_for(first, earlier["id"], {"done", "stopped", "failed"})
    run, _, _ = first.predict("hardhat-tiny", "yolov11n", 50, 64, 2, "cpu", None, api_name="/start_training")
    status = wait_for(second, "", {"running"})  # a fresh page: no run id, shows the running one
    assert status["run"] == run
    while not status["batches"]:
        status = second.predict("", api_name="/training_status")
    assert "stopping" in second.predict(run, api_name="/stop_training") or ws.run(run)["status"] == "stopped"
    final = wait_for(first, run, {"stopped", "done", "failed"}, timeout=120)
    assert final["status"] == "stopped"
    assert final["epoch"] < 50
    stopped_at = len(final["history"])
    first.predict(run, stopped_at + 1, api_name="/resume_training")  # one more epoch than it reached
    resumed = wait_for(first, run, {"done", "failed"}, timeout=300)
    assert resumed["status"] == "done"
    assert [h["epoch"] for h in resumed["history"]] == list(range(1, stopped_at + 2))


def test_bad_request_gets_a_clear_error_and_the_app_keeps_serving(server):
    url, _ = server
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="--data no-such-dataset: not a dataset"):
        client.predict("no-such-dataset", "yolov11n", 1, 64, 8, "cpu", None, api_name="/start_training")
    with pytest.raises(Exception, match="--imgsz 100: must be a multiple of 32"):
        client.predict("hardhat-tiny", "yolov11n", 1, 100, 8, "cpu", None, api_name="/start_training")
    # shown by the field
    with pytest.raises(Exception, match=r"failed validation:\n- \S+: --lr0 0(\.0)?: the learning rate must be positive"):
        client.predict("hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, "auto", 0, api_name="/start_training")
    assert client.predict("", api_name="/training_status")["status"]  # still serving


def test_auth_refuses_anonymous_api_calls(tmp_path):
    import app

    with serving(tmp_path / "ws", auth=app.parse_auth("ana:s3cret")) as url:
        with pytest.raises(ValueError, match="credentials were not provided"):
            Client(url, verbose=False).predict("", api_name="/training_status")
        assert Client(url, auth=("ana", "s3cret"), verbose=False).predict("", api_name="/training_status")["status"] == "none"


def test_data_tab_refuses_a_bad_zip_and_previews_augmentation(server, tmp_path, tiny_zip):
    url, ws = server
    client = Client(url, verbose=False)
    bad = tmp_path / "evil.zip"
    import zipfile

    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(Exception, match="evil.zip: refused, member '../../escape.txt' points outside the archive"):
        client.predict(handle_file(str(bad)), "", 0.2, False, api_name="/import_dataset")
    assert not any(p.name.startswith("evil") for p in ws.datasets_dir.iterdir())
    if not ws.dataset("hardhat-tiny"):
        yolov11.import_dataset(tiny_zip, workspace=ws)
    grid = client.predict("hardhat-tiny", api_name="/augmentation_preview")
    assert Path(grid).stat().st_size > 10_000


def test_runs_history_and_delete(server, tiny_zip):
    url, ws = server
    client = Client(url, verbose=False)
    if not ws.dataset("hardhat-tiny"):
        yolov11.import_dataset(tiny_zip, workspace=ws)
    run, _, _ = client.predict("hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, api_name="/start_training")
    assert wait_for(client, run, {"done", "failed"})["status"] == "done"
    client.predict(run, "onnx", False, False, api_name="/export_model")
    assert (ws.exports_dir / run).is_dir()
    table, _ = client.predict([run], api_name="/delete_runs")
    assert run not in [row[0] for row in table["data"]]
    assert ws.run(run) is None
    assert not (ws.runs_dir / run).exists()
    assert not (ws.exports_dir / run).exists()
    with pytest.raises(Exception, match=f"--run {run}: no such run"):
        client.predict(run, api_name="/training_status")


def test_uploads_stay_in_the_workspace_and_go_once_imported(server, tmp_path):
    """Uploads land in the app's own folder inside a workspace (not the host-wide Gradio temp
    folder), an imported zip is deleted at once, and a zip named with spaces and non-ASCII
    letters imports under a derived name when no name is typed."""
    import os

    from helpers import write_yolo_folder, zip_folder

    url, ws = server
    uploads = Path(os.environ["GRADIO_TEMP_DIR"])
    assert uploads.parent.name == ".uploads"
    assert (uploads.parent.parent / "registry.sqlite").is_file()
    src = zip_folder(write_yolo_folder(tmp_path / "site", n_images=8, size=64), tmp_path / "Baustelle Übung (2).zip")
    client = Client(url, verbose=False)
    _, _, report, _, _ = client.predict(handle_file(str(src)), "", 0.2, False, api_name="/import_dataset")
    assert report["name"] == "Baustelle-Ubung-2"
    assert not list(uploads.rglob(src.name)), "the imported zip is still in the upload folder"


def test_app_start_clears_leftover_uploads_but_not_a_live_apps(tmp_path):
    """At start the app removes upload folders of apps that are gone, and keeps those of an app
    still serving the same workspace (here: this test process, marked as their owner)."""
    import subprocess
    import sys

    from yolov11 import liveness

    from helpers import ROOT

    ws = yolov11.Workspace.at(tmp_path / "ws")
    dead = ws.root / ".uploads" / "123-old" / "abc123" / "yesterday.zip"  # an app killed yesterday: no owner alive
    dead.parent.mkdir(parents=True)
    dead.write_bytes(b"x")
    (ws.root / ".uploads" / "123-old" / liveness.MARKER).write_text("otherhost|boot|ns|1|1")
    live = ws.root / ".uploads" / "456-live" / "def456" / "today.zip"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"y")
    liveness.mark(live.parents[1], ws.owners_dir)
    code = f"import app, yolov11; app._own_uploads(yolov11.Workspace.at({str(ws.root)!r})); import os; print(os.environ['GRADIO_TEMP_DIR'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mine = Path(out.stdout.strip().splitlines()[-1])
    assert mine.parent == ws.root / ".uploads"
    assert not dead.exists()
    assert live.exists()
