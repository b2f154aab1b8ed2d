"""Hostile input through the app's API (gradio_client against one real server): each bad upload
or absurd setting comes back as one clear error naming the file or field, with no traceback,
registers no dataset or run, writes nothing outside the workspace, and the app answers the
next request at once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import yolov11

import hostile as hc
from helpers import serving, write_yolo_folder, zip_folder

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, tiny_zip):
    base = tmp_path_factory.mktemp("hostile-app")
    ws = yolov11.Workspace.at(base / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    done = yolov11.train("hardhat-tiny", "yolov11n", epochs=1, imgsz=32, batch=4, workspace=ws)
    with serving(ws) as url:
        yield Client(url, verbose=False), ws, done["run"], base


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _encrypted(path: Path) -> Path:
    _zip(path, {"hats/a.jpg": b"ciphertext"})
    hc.patch_member(path, "hats/a.jpg", 6, 8, lambda v: v | 0x1)  # the "encrypted" flag bit, in both headers
    return path


def _raw_call(client: Client, api: str, given: list, literal: tuple[int, str]) -> str:
    """Call an endpoint with a raw JSON body (as any HTTP client can) in which input ``literal[0]``
    is the bare token ``literal[1]`` (NaN, Infinity: gradio_client refuses to encode them), the
    other inputs ``given`` then the endpoint's defaults; returns what the event stream answered."""
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"][f"/{api}"]["parameters"]
    values = [json.dumps(given[i] if i < len(given) else p.get("parameter_default")) for i, p in enumerate(params)]
    values[literal[0]] = literal[1]
    body = '{"data": [' + ", ".join(values) + "]}"
    url = client.src
    request = urllib.request.Request(f"{url}gradio_api/call/{api}", data=body.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            event_id = json.loads(r.read())["event_id"]
    except urllib.error.HTTPError as err:  # refused before it reached the handler: the field validator (422) or Gradio (400)
        return f"http {err.code}: {err.read().decode()}"
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=120) as r:
        return r.read().decode()


def _is_refusal(answer: str) -> bool:
    return answer.startswith(("http 400", "http 422")) or "event: error" in answer


def _bad_zips(tmp: Path, outside: Path) -> dict[str, tuple[Path, str]]:
    """name -> (zip, a fragment the error must hold)."""
    bomb = {f"hats/z{i:03d}.bin": bytes(1 << 20) for i in range(70)}
    good = zip_folder(write_yolo_folder(tmp / "hats", n_images=4, size=64), tmp / "good.zip")
    yaml_bomb = tmp / "yaml-bomb.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(yaml_bomb, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("hardhat-tiny/data.yaml", hc.alias_bomb())
    return {
        "zip-slip": (_zip(tmp / "slip.zip", {f"../{outside.name}/pwned": b"x"}), "points outside the archive"),
        "bomb": (_zip(tmp / "bomb.zip", bomb), "zip bomb"),
        "encrypted": (_encrypted(tmp / "locked.zip"), "encrypted"),
        "not-a-zip": (tmp.joinpath("fake.zip"), "not a readable zip archive"),
        "yaml-bomb": (yaml_bomb, "alias"),
    }


def _unchanged(ws: yolov11.Workspace, datasets: list, runs: list) -> None:
    assert [d["name"] for d in ws.datasets()] == datasets
    assert [(r["id"], r["status"]) for r in ws.runs()] == runs


def _refused(client: Client, fragment: str, *args, api_name: str) -> float:
    t0 = time.perf_counter()
    with pytest.raises(Exception) as err:
        client.predict(*args, api_name=api_name)
    message = str(err.value)
    assert fragment in message, message
    assert "Traceback" not in message, message
    return time.perf_counter() - t0


def _still_serving(client: Client) -> None:
    t0 = time.perf_counter()
    assert client.predict("", api_name="/training_status")["status"] in ("done", "none")
    assert time.perf_counter() - t0 < 10


def test_bad_zips_through_the_data_tab(app_server):
    client, ws, _, base = app_server
    tmp = base / "zips"
    tmp.mkdir()
    outside = base / "outside"
    outside.mkdir()
    (tmp / "fake.zip").write_bytes(b"this is not a zip archive at all")
    datasets, runs = [d["name"] for d in ws.datasets()], [(r["id"], r["status"]) for r in ws.runs()]
    for name, (path, fragment) in _bad_zips(tmp, outside).items():
        took = _refused(client, fragment, handle_file(str(path)), "", 0.2, False, api_name="/import_dataset")
        assert took < 30, (name, took)
        _still_serving(client)
    _unchanged(ws, datasets, runs)
    assert list(outside.iterdir()) == []
    assert not list(ws.datasets_dir.glob(".import-*"))


START = ["hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, "auto", 0.01]  # dataset, model, epochs, imgsz, batch, device, weights, optimizer, lr0


@pytest.mark.parametrize(
    "index, value, fragment",
    [
        (3, 100_000, "--imgsz 100000: at most 4,096"),
        (4, 5000, "--batch 5000: at most 1,024"),
        (8, 50.0, "--lr0 50.0: must be between 0 and 10"),
        (5, "gpu", "--device gpu"),
        (1, "yolov12q", "--model yolov12q: not a zoo model"),
        (0, "no-such-dataset", "--data no-such-dataset: not a dataset"),
    ],
)
def test_absurd_settings_queue_nothing(app_server, index, value, fragment):
    client, ws, _, _ = app_server
    runs = [(r["id"], r["status"]) for r in ws.runs()]
    args = list(START)
    args[index] = value
    _refused(client, fragment, *args, api_name="/start_training")
    assert [(r["id"], r["status"]) for r in ws.runs()] == runs
    _still_serving(client)


@pytest.mark.parametrize(
    "index, literal, fragment",
    [
        (8, "NaN", "--lr0 nan: must be a finite number"),  # our field check (HTTP 422, the message by the field)
        (8, "Infinity", "--lr0 inf: must be a finite number"),
        (2, "NaN", "cannot convert float NaN to integer"),  # Gradio's own: an integer Number cannot hold NaN (HTTP 400)
    ],
)
def test_raw_json_nan_queues_nothing(app_server, index, literal, fragment):
    """A raw HTTP client may send NaN (gradio_client cannot): it used to queue a run."""
    client, ws, _, _ = app_server
    runs = [(r["id"], r["status"]) for r in ws.runs()]
    answer = _raw_call(client, "start_training", START, (index, literal))
    assert _is_refusal(answer), answer
    assert fragment in answer, answer
    assert "Traceback" not in answer, answer
    assert [(r["id"], r["status"]) for r in ws.runs()] == runs
    _still_serving(client)


def test_a_pickle_that_runs_code_is_refused_by_every_upload(app_server):
    client, ws, run, base = app_server
    pwned = base / "pwned-by-app"
    evil = hc.evil_pt(base / "evil.pt", pwned)
    photo = next((ws.datasets_dir / "hardhat-tiny" / "images" / "val").glob("*.jpg"))
    runs = [(r["id"], r["status"]) for r in ws.runs()]
    _refused(client, "'posix.system'", "hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", handle_file(str(evil)), api_name="/start_training")
    _refused(client, "'posix.system'", None, "val", handle_file(str(evil)), "hardhat-tiny", api_name="/evaluate")
    _refused(client, "'posix.system'", None, handle_file(str(photo)), 0.25, handle_file(str(evil)), api_name="/predict")
    _refused(client, "'posix.system'", None, handle_file(str(evil)), "x", api_name="/publish_model")
    assert not pwned.exists()
    assert [(r["id"], r["status"]) for r in ws.runs()] == runs
    _still_serving(client)


def test_a_resume_that_cannot_run_is_refused_and_leaves_the_run_as_it_was(app_server):
    client, ws, run, _ = app_server
    _refused(client, "has done 1 of 1 epochs", run, 1, api_name="/resume_training")
    answer = _raw_call(client, "resume_training", [run], (1, "NaN"))
    assert _is_refusal(answer), answer
    assert "NaN" in answer, answer
    assert "Traceback" not in answer, answer
    assert ws.run(run)["status"] == "done"
    assert client.predict("", api_name="/training_status")["queue"] == []
    _refused(client, "no-such-run", "no-such-run", api_name="/training_status")
    _still_serving(client)
