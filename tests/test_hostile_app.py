"""Hostile input through the app's API (gradio_client against one real server): each bad upload
or absurd setting comes back as one clear error naming the file or field, with no traceback,
registers no dataset or run, writes nothing outside the workspace, and the app answers the
next request at once.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

import yolov11
from pages.upload_limits import KB, MB, NOUNS, UploadLimits, human

import hostile as hc
from helpers import serving, write_yolo_folder, zip_folder

pytestmark = pytest.mark.timeout(300)

# Tight upload caps, so that each kind is tried just past its cap in little time; every upload
# of the other cases fits (bad zips under 100 KB, a yolov11n best.pt about 5.5 MB).
CAPS = UploadLimits(image=64 * KB, video=96 * KB, weights=8 * MB, zip=512 * KB, other=32 * KB, quota=2048 * MB)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, tiny_zip):
    base = tmp_path_factory.mktemp("hostile-app")
    ws = yolov11.Workspace.at(base / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    done = yolov11.train("hardhat-tiny", "yolov11n", epochs=1, imgsz=32, batch=4, workspace=ws, plots=False)
    with serving(ws, upload_limits=CAPS) as url:
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


# dataset, model, epochs, imgsz, batch, device, weights, optimizer, lr0
START = ["hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", None, "auto", 0.01]


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


def _uploads() -> Path:
    return Path(os.environ["GRADIO_TEMP_DIR"])  # this process's upload folder (app._own_uploads)


def test_a_pickle_that_runs_code_is_refused_by_every_upload(app_server):
    client, ws, run, base = app_server
    pwned = base / "pwned-by-app"
    evil = hc.evil_pt(base / "evil.pt", pwned)
    photo = next((ws.datasets_dir / "hardhat-tiny" / "images" / "val").glob("*.jpg"))
    runs = [(r["id"], r["status"]) for r in ws.runs()]
    _refused(client, "'posix.system'", "hardhat-tiny", "yolov11n", 1, 64, 8, "cpu", handle_file(str(evil)), api_name="/start_training")
    assert not list(_uploads().rglob("evil.pt")), "a refused upload stayed in the upload folder"
    _refused(client, "'posix.system'", None, "val", handle_file(str(evil)), "hardhat-tiny", api_name="/evaluate")
    assert not list(_uploads().rglob("evil.pt")), "a refused upload stayed in the upload folder"
    assert not list((ws.root / "weights").rglob("evil.pt")), "a refused file was kept"
    _refused(client, "'posix.system'", None, handle_file(str(photo)), 0.25, handle_file(str(evil)), api_name="/predict")
    assert not list(_uploads().rglob("evil.pt")) and not list(_uploads().rglob(photo.name)), "a refused upload stayed in the upload folder"
    _refused(client, "'posix.system'", None, handle_file(str(evil)), "x", api_name="/publish_model")
    assert not list(_uploads().rglob("evil.pt")), "a refused upload stayed in the upload folder"
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


def test_uploaded_weights_are_kept_for_the_next_press_and_the_upload_goes(app_server):
    """Evaluate with uploaded weights, pressed again: the browser sends the same upload path,
    whose file is gone from the upload folder by then; the weights kept by the first press
    answer the second."""
    client, ws, run, base = app_server
    weights = base / "from-elsewhere.pt"
    weights.write_bytes(Path(ws.run(run)["dir"], "weights", "best.pt").read_bytes())
    _, _, _, _, first, *_ = client.predict(None, "val", handle_file(str(weights)), "hardhat-tiny", api_name="/evaluate")
    assert not list(_uploads().rglob(weights.name)), "the used upload stayed in the upload folder"
    kept = list((ws.root / "weights").rglob(weights.name))
    assert len(kept) == 1 and kept[0].read_bytes() == weights.read_bytes()
    upload = httpx.post(f"{client.src}gradio_api/upload", files=[("files", (weights.name, weights.read_bytes()))]).json()[0]
    Path(upload).unlink()  # the path the browser holds (the same bytes get the same path), of an upload already used
    answer = _raw_call(client, "evaluate", [None, "val", {"path": upload, "meta": {"_type": "gradio.FileData"}}, "hardhat-tiny"],
                       (4, "false"))
    assert "event: complete" in answer and first in answer, answer


def _send_upload(url: str, name: str, declared: int, data: bytes) -> socket.socket:
    """An upload over a raw socket: headers declaring ``declared`` bytes of body, the part's
    headers for ``name``, then ``data``; the socket, still open, with the rest unsent."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    part = f'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
    head = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {declared}\r\n\r\n")
    sock.sendall(head.encode() + part + data)
    return sock


def _answer(sock: socket.socket) -> tuple[int, str]:
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < int(raw.split(b"content-length: ")[1].split(b"\r\n")[0]):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _loose_files() -> set[str]:
    """Files at the top of the upload folder: where Gradio writes an upload while it arrives
    (and, a Gradio leak, an empty file each time a gr.File input is read)."""
    return {p.name for p in _uploads().iterdir() if p.is_file() and p.name != ".owner"}


def _nothing_partial_left(before: set[str]) -> None:
    """No upload half stored: no file at the top of the upload folder but those of ``before``."""
    deadline = time.monotonic() + 10
    while _loose_files() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _loose_files() - before == set()


@pytest.mark.parametrize(
    "name, kind",
    [("photo.JPG", "image"), ("clip.mp4", "video"), ("best.pt", "weights"), ("model.onnx", "weights"), ("site.zip", "zip"),
     ("model.yaml", "other"), ("no-suffix", "other")],
)
def test_each_kind_of_upload_is_refused_as_soon_as_it_passes_its_cap(app_server, name, kind):
    """Gradio's one upload route, as any HTTP client can use it: the refusal (413, one line naming
    the file, its cap and the setting) comes while the client is still sending, and nothing of
    the upload stays; the same kind at its cap is taken."""
    client, ws, _, _ = app_server
    cap = getattr(CAPS, kind)
    flag = {"other": "--max-upload-other"}.get(kind, f"--max-upload-{kind}")
    before = _loose_files()
    sock = _send_upload(client.src, name, 4 * cap, os.urandom(cap + 16 * KB))  # a quarter of the body sent
    with sock:
        assert _answer(sock) == (413, f"{name}: over the {human(cap)} limit for {NOUNS[kind]} here ({flag})\n")
    _nothing_partial_left(before)
    assert not list(_uploads().rglob(name))
    taken = httpx.post(f"{client.src}gradio_api/upload", files=[("files", (name, os.urandom(cap)))])
    assert taken.status_code == 200, taken.text
    Path(taken.json()[0]).unlink()
    _still_serving(client)


def test_an_upload_cut_off_midway_leaves_nothing(app_server):
    client, _, _, _ = app_server
    before = _loose_files()
    with _send_upload(client.src, "site.zip", 400 * KB, os.urandom(200 * KB)):
        deadline = time.monotonic() + 10
        while not _loose_files() - before and time.monotonic() < deadline:
            time.sleep(0.05)  # Gradio has begun storing it
        assert _loose_files() - before, "the upload was never stored"
    _nothing_partial_left(before)  # the client went away: the partial file is deleted at once, not hours later
    _still_serving(client)


def test_other_routes_and_bodies_are_capped(app_server):
    """A form field, an event call's JSON body and a component-server body have caps too (a JSON
    call may carry a data: URL image, which Gradio decodes into the upload folder); Gradio's
    webcam-recording route, which leaves its temporary files behind, is closed (no component
    of this app records)."""
    client, _, _, _ = app_server
    url = client.src
    before = _loose_files()
    field = httpx.post(f"{url}gradio_api/upload", files=[("files", ("a.jpg", b"x"))], data={"note": "x" * (1 * MB + 1)})
    assert (field.status_code, field.text) == (413, "form field 'note': over the 1 MB limit for a form field\n")
    call = httpx.post(f"{url}gradio_api/call/predict", json={"data": [None, {"url": "data:image/png;base64," + "A" * CAPS.other}]})
    body = f"request body over the {human(CAPS.other)} limit for a request here (--max-upload-other)\n"
    assert (call.status_code, call.text) == (413, body)
    server = httpx.post(f"{url}gradio_api/component_server", files=[("files", ("a.bin", os.urandom(CAPS.other + 1)))],
                        data={"component_id": "1", "session_hash": "x", "fn_name": "ls"})
    assert (server.status_code, server.text) == (413, body)
    recording = httpx.post(f"{url}gradio_api/process_recording", files=[("video", ("rec.mp4", b"\0" * 1000))])
    assert (recording.status_code, recording.text) == (404, "this app records no video: upload a file instead\n")
    _nothing_partial_left(before)
    _still_serving(client)


def test_gradio_client_gets_the_reason_of_a_refused_upload(app_server):
    """Through gradio_client's handle_file: the upload fails with HTTP 413 and the same line."""
    client, ws, _, base = app_server
    photo = base / "too-big.jpg"
    photo.write_bytes(os.urandom(CAPS.image + 1))
    runs, before = [(r["id"], r["status"]) for r in ws.runs()], _loose_files()
    with pytest.raises(httpx.HTTPStatusError) as err:
        client.predict(None, handle_file(str(photo)), 0.25, api_name="/predict")
    assert err.value.response.status_code == 413
    assert err.value.response.text == f"too-big.jpg: over the {human(CAPS.image)} limit for an image here (--max-upload-image)\n"
    assert [(r["id"], r["status"]) for r in ws.runs()] == runs
    _nothing_partial_left(before)
    _still_serving(client)
