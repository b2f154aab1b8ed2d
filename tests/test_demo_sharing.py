"""Demo and sharing: predict from the three weight formats, publishing to /demo, the app's
--auth (users from a file, every page and the API refused without login) and --share offline."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import yolov11
from yolov11.__main__ import main as cli_main

from helpers import free_port, serving


@pytest.fixture(scope="module")
def formats(trained_run, tmp_path_factory) -> dict[str, Path]:
    """The fixture run's weights as .pt, .onnx and .torchscript (exported by Ultralytics itself)."""
    from ultralytics import YOLO

    base = tmp_path_factory.mktemp("formats")
    pt = Path(shutil.copy(trained_run["weights"], base / "best.pt"))  # the fixture is shared: export a copy
    out = {"pt": pt}
    for fmt in ("onnx", "torchscript"):
        out[fmt] = Path(YOLO(str(pt)).export(format=fmt, imgsz=128))  # the size it was trained at
    return out


@pytest.fixture(scope="module")
def val_images(trained_run) -> list[Path]:
    return sorted((trained_run["data_yaml"].parent / "images" / "val").glob("*.jpg"))


def matched(d: dict, candidates: list[dict]) -> bool:
    """A detection of the same class, box within 1 px and confidence within 2e-4 (4-decimal rounding)."""
    return any(
        c["class"] == d["class"] and max(abs(x - y) for x, y in zip(c["box"], d["box"])) <= 1.0
        and abs(c["confidence"] - d["confidence"]) <= 2e-4
        for c in candidates
    )


def test_predict_gives_the_same_detections_from_pt_onnx_and_torchscript(formats, val_images, tmp_path):
    # Keep all boxes down to 0.001 and compare, both ways, those at 0.01 or more, so that no box
    # sits on the cut-off of one format only.
    results = {fmt: yolov11.predict(w, val_images, conf=0.001, workspace=tmp_path / "ws")["images"] for fmt, w in formats.items()}
    compared = 0
    for fmt in ("onnx", "torchscript"):
        for ref, other in zip(results["pt"], results[fmt], strict=True):
            assert Path(other["annotated"]).stat().st_size > 1000
            for mine, theirs in ((ref["detections"], other["detections"]), (other["detections"], ref["detections"])):
                for d in (d for d in mine if d["confidence"] >= 0.01):
                    assert matched(d, theirs), f"{fmt} vs pt on {Path(ref['image']).name}: no match for {d} in {theirs}"
                    compared += 1
    assert compared >= 20, "the model finds too little to compare formats"


def test_predict_refuses_weights_it_cannot_use(tmp_path, val_images):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    with pytest.raises(yolov11.UserError, match=r"--weights .*notes\.txt: expected a \.onnx, \.pt, \.torchscript file"):
        yolov11.predict(notes, val_images[0], workspace=tmp_path / "ws")
    with pytest.raises(yolov11.UserError, match=r"--weights .*missing\.onnx: no such file"):
        yolov11.predict(tmp_path / "missing.onnx", val_images[0], workspace=tmp_path / "ws")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(yolov11.UserError, match=r"--weights .*broken\.pt: not a PyTorch checkpoint"):
        yolov11.predict(broken, val_images[0], workspace=tmp_path / "ws")


def test_concurrent_predictions_of_same_named_photos_do_not_overwrite_each_other(formats, val_images, tmp_path):
    photo = tmp_path / "image.jpg"  # what every webcam snapshot is called
    shutil.copy(val_images[0], photo)
    first, second = (yolov11.predict(formats["onnx"], photo, workspace=tmp_path / "ws") for _ in range(2))
    assert first["images"][0]["annotated"] != second["images"][0]["annotated"]


def add_run_with(ws: yolov11.Workspace, weights: Path, run_id: str = "20250101-000000-yolov11n") -> str:
    """A finished run of ``ws`` whose best.pt is ``weights`` (the shared fixture stays untouched)."""
    run_dir = ws.add_run(run_id, "hardhat-tiny", "yolov11n", {}, status="done")
    (run_dir / "weights").mkdir()
    shutil.copy(weights, run_dir / "weights" / "best.pt")
    return run_id


def test_publish_copies_the_model_and_marks_it_current(formats, workspace, trained_run):
    assert yolov11.published(workspace) is None
    card = yolov11.publish(weights=formats["onnx"], name="hardhats", workspace=workspace)
    assert card["classes"] == ["helmet", "head", "vest"]
    assert card["format"] == "onnx"
    assert card["source_run"] is None
    assert card["val_mAP50"] is None  # uploaded weights: nothing says how well they do
    assert card["warning"] is None
    assert Path(card["weights"]) == workspace.published_dir / "hardhats" / "model.onnx"
    assert Path(card["weights"]).read_bytes() == formats["onnx"].read_bytes()
    assert yolov11.published(workspace) == card

    run = add_run_with(workspace, formats["pt"])
    by_run = yolov11.publish(run=run, workspace=workspace)
    assert by_run["name"] == run
    assert by_run["source_run"] == run
    assert by_run["val_mAP50"] is None  # a run without metrics (test_useless_model.py covers weak and good ones)
    assert by_run["warning"] is None
    assert yolov11.published(workspace)["name"] == run

    again = yolov11.publish(weights=formats["torchscript"], name="hardhats", workspace=workspace)  # same name, other format
    assert sorted(p.name for p in (workspace.published_dir / "hardhats").iterdir()) == ["model.json", "model.torchscript"]
    assert yolov11.published(workspace) == again
    found = yolov11.predict(again["weights"], trained_run["data_yaml"].parent / "images" / "val", conf=0.001, workspace=workspace)
    assert any(i["detections"] for i in found["images"])


def test_publish_refuses_bad_input(formats, workspace, tmp_path):
    with pytest.raises(yolov11.UserError, match="--run or --weights: give exactly one"):
        yolov11.publish(workspace=workspace)
    with pytest.raises(yolov11.UserError, match="--run or --weights: give exactly one"):
        yolov11.publish(run="r", weights=formats["pt"], workspace=workspace)
    with pytest.raises(yolov11.UserError, match="--run nope: no such run"):
        yolov11.publish(run="nope", workspace=workspace)
    with pytest.raises(yolov11.UserError, match=r"--name \.\./escape: use up to 64 letters"):
        yolov11.publish(weights=formats["pt"], name="../escape", workspace=workspace)
    with pytest.raises(yolov11.UserError, match=r"^--name 'hardhats\\n': use up to 64 letters"):  # "$" of a pattern lets a final newline by
        yolov11.publish(weights=formats["pt"], name="hardhats\n", workspace=workspace)
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(yolov11.UserError, match=r"model\.txt: expected a"):
        yolov11.publish(weights=tmp_path / "model.txt", workspace=workspace)
    assert yolov11.published(workspace) is None


def test_cli_publish(formats, workspace, monkeypatch, capsys):
    monkeypatch.setenv("YOLOV11_WORKSPACE", str(workspace.root))  # what --workspace does, undone after the test
    assert cli_main(["publish", "--weights", str(formats["pt"]), "--name", "site-a", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "site-a"
    assert yolov11.published(workspace)["weights"] == card["weights"]
    assert cli_main(["publish", "--weights", str(formats["pt"]), "--name", "bad name"]) == 2
    assert "error: --name bad name:" in capsys.readouterr().err


# --- the app: --auth, the Predict tab's API, /demo's API, --share ------------------------------------


def test_parse_auth_reads_pairs_and_files(tmp_path):
    import app

    assert app.parse_auth(None) is None
    assert app.parse_auth("ana:s3:cret") == [("ana", "s3:cret")]  # a password may hold a colon
    users = tmp_path / "users.txt"
    users.write_text("# site team\nana:one\n\n  bo:two  \n")
    assert app.parse_auth(str(users)) == [("ana", "one"), ("bo", "two")]
    users.write_text("ana:one\n# ok\nbo\n")
    with pytest.raises(yolov11.UserError, match=r"users\.txt:3: expected user:password"):
        app.parse_auth(str(users))
    users.write_text("# nobody yet\n")
    with pytest.raises(yolov11.UserError, match="no user:password lines"):
        app.parse_auth(str(users))
    with pytest.raises(yolov11.UserError, match="--auth nosuch.txt: no such file"):
        app.parse_auth("nosuch.txt")
    with pytest.raises(yolov11.UserError, match="--auth: expected user:password"):
        app.parse_auth("ana:")


@pytest.fixture(scope="module")
def protected(tmp_path_factory, tiny_zip):
    """The app behind --auth users.txt, on a fresh workspace holding one dataset (whose name
    must not reach the login page): (url, workspace, (user, password))."""
    import app

    base = tmp_path_factory.mktemp("auth")
    (base / "users.txt").write_text("ana:s3cret\nbo:other\n")
    ws = yolov11.Workspace.at(base / "ws")
    yolov11.import_dataset(tiny_zip, name="secret-site-dataset", workspace=ws)
    with serving(ws, auth=app.parse_auth(str(base / "users.txt"))) as url:
        yield url, ws, ("bo", "other")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_auth_refuses_every_page_and_the_api_without_login(protected):
    url, _, login = protected
    with pytest.raises(ValueError, match="credentials were not provided"):
        Client(url, verbose=False)
    with pytest.raises(ValueError, match="Could not login to"):
        Client(url, auth=("bo", "wrong"), verbose=False)
    assert http_get(url + "gradio_api/info")[0] == 401
    assert http_get(url + "config")[0] == 401
    for page in ("", "demo"):  # the HTML is the login form: no component of the app in it
        status, html = http_get(url + page)
        assert status == 200
        assert '"auth_required":true' in html.replace(" ", "")
        assert "demo-image" not in html
        assert "predict-run" not in html
    req = urllib.request.Request(url + "gradio_api/call/demo_predict", data=b'{"data": [null, 0.25]}',
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(req)
    assert Client(url, auth=login, verbose=False).predict("", api_name="/training_status")["status"] == "none"


def test_the_login_page_reveals_nothing_of_the_app(protected):
    """Gradio's login page embeds the whole API description (endpoints, parameters, dropdown
    choices such as dataset names) unless the app blanks it; after login the page has it."""
    url, _, (user, password) = protected
    for page in ("", "demo"):
        status, html = http_get(url + page)
        assert status == 200
        assert "window.gradio_api_info = null;" in html
        for secret in ("secret-site-dataset", "start_training", "import_dataset", "demo_predict", "named_endpoints"):
            assert secret not in html, (page, secret)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(urllib.request.Request(url + "login", data=urllib.parse.urlencode({"username": user, "password": password}).encode()))
    with opener.open(url) as r:
        html = r.read().decode()
    assert "start_training" in html
    assert "secret-site-dataset" in html  # logged in: the app itself


def test_predict_tab_uploaded_weights_more_photos_and_publish(protected, formats, val_images):
    url, ws, login = protected
    client = Client(url, auth=login, verbose=False)
    with pytest.raises(Exception, match="pick a run or upload weights first"):
        client.predict(None, handle_file(str(val_images[0])), 0.05, api_name="/predict")
    annotated, table, code = client.predict(
        None, handle_file(str(val_images[0])), 0.05, handle_file(str(formats["torchscript"])),
        [handle_file(str(p)) for p in val_images[1:3]], api_name="/predict"
    )
    assert Path(annotated).stat().st_size > 1000
    assert table["headers"] == ["class", "confidence", "box"]
    assert "yolov11.predict(" in code
    assert "best.torchscript" in code

    with pytest.raises(Exception, match="No model is published yet"):
        client.predict(handle_file(str(val_images[0])), 0.05, api_name="/demo_predict")
    note = client.predict(None, handle_file(str(formats["onnx"])), "site-a", api_name="/publish_model")
    assert "Published **site-a** (helmet, head, vest)" in note
    assert "python -m yolov11 publish --weights" in note
    assert yolov11.published(ws)["name"] == "site-a"
    annotated, summary, table = client.predict(handle_file(str(val_images[0])), 0.05, api_name="/demo_predict")
    assert Path(annotated).stat().st_size > 1000
    assert table["headers"] == ["class", "confidence"]
    rows = len(table["data"])
    assert rows > 0
    assert summary.startswith(f"Found {rows} object")


def test_share_offline_says_so_and_keeps_serving_locally(tmp_path, monkeypatch, capfd):
    """Gradio swallows a failed tunnel and serves on. A real offline attempt would trip the test's
    network guard, so the failure comes from a share-server address Gradio cannot use (the same
    setting as $GRADIO_SHARE_SERVER_ADDRESS): it fails before any connection, down the same path."""
    import gradio.networking

    import app

    monkeypatch.setattr(gradio.networking, "GRADIO_SHARE_SERVER_ADDRESS", "no-port-given")
    blocks = app.build_app(tmp_path / "ws")
    try:
        _, url, share_url = app.serve(blocks, port=free_port(), share=True, prevent_thread_lock=True)
        assert share_url is None
        assert f"--share needs internet: could not get a public link from Gradio, serving locally at {url}" in capfd.readouterr().err
        assert http_get(url + "demo")[0] == 200
    finally:
        blocks.close()


def test_loaded_models_are_reused_until_the_file_changes(formats, tmp_path):
    from yolov11.serve.predict import load_detector

    weights = Path(shutil.copy(formats["onnx"], tmp_path / "model.onnx"))
    first = load_detector(weights)
    assert load_detector(weights) is first  # a busy /demo does not reload its model per photo
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # re-published in place
    assert load_detector(weights) is not first


def test_predictions_keep_only_the_newest_calls(formats, val_images, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setattr(importlib.import_module("yolov11.serve.predict"), "KEEP_PREDICTIONS", 3)  # (yolov11.predict is the function)
    ws = yolov11.Workspace.at(tmp_path / "ws")
    dirs = [yolov11.predict(formats["pt"], val_images[0], workspace=ws)["dir"] for _ in range(5)]
    assert sorted(p.name for p in ws.predictions_dir.iterdir()) == sorted(Path(d).name for d in dirs[-3:])
