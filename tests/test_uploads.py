"""Uploads cannot fill the disk: sizes as the app's flags take them, the upload folder's quota
(all app processes, while the upload arrives, on a real server), and each upload's life in the
pages (pages.uploads: deleted once its event used or refused it, kept once where a later event
needs it again). The caps per route are hostile input: tests/test_hostile_app.py."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

import yolov11
from pages.common import AppContext
from pages.text import md_text
from pages.upload_limits import KB, FolderUsage, UploadLimits, human, parse_size

from helpers import free_port

QUOTA = 256 * KB


def test_sizes_read_as_the_flags_write_them_and_a_bad_one_names_its_flag(capsys, monkeypatch):
    import app

    monkeypatch.setattr(sys, "setswitchinterval", lambda _: None)  # app.main's, not for this test process
    assert ([parse_size(t) for t in ("50MB", "1GB", "1.5 GB", "20gb", "512KiB", "1000")]
            == [50 << 20, 1 << 30, 3 << 29, 20 << 30, 512 << 10, 1000])
    for bad in ("20XB", "-1MB", "1.5", "lots"):
        with pytest.raises(yolov11.UserError, match=f"^--max-upload-zip {bad}: "):
            parse_size(bad, "--max-upload-zip")
    limits = app.upload_limits(app.parse_args(["--max-upload-image", "10KB", "--upload-quota", "2GB"]))
    assert (limits.image, limits.quota, limits.video) == (10 * KB, 2 << 30, UploadLimits().video)
    with pytest.raises(SystemExit) as exit_:
        app.main(["--max-upload-video", "1 GiGa"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --max-upload-video 1 GiGa: not a size (a number and a unit, e.g. 50MB, 1GB, 512KB)"


@pytest.fixture(scope="module")
def small_quota(tmp_path_factory):
    """An app whose upload folder has room for QUOTA more bytes: {url, own folder, quota}."""
    import app

    blocks = app.build_app(yolov11.Workspace.at(tmp_path_factory.mktemp("quota") / "ws"))  # the process's upload folder is set from here on
    own = Path(os.environ["GRADIO_TEMP_DIR"])
    quota = FolderUsage(own.parent, own).measure() + QUOTA  # what other tests' apps left in this process's folder counts too
    _, url, _ = app.serve(blocks, port=free_port(), prevent_thread_lock=True, upload_limits=UploadLimits(zip=QUOTA, quota=quota))
    try:
        yield url, own, quota
    finally:
        blocks.close()


def _upload(url: str, name: str, size: int) -> httpx.Response:
    return httpx.post(f"{url}gradio_api/upload", files=[("files", (name, os.urandom(size)))], timeout=30)


def test_the_quota_counts_every_app_process_and_frees_when_files_go(small_quota):
    """Another app's uploads (a second process on the workspace) fill the folder: an upload that
    would pass the quota is refused while it arrives (507, one line) and leaves nothing; the app
    keeps answering its ordinary calls; once the other files are gone, uploads are taken again."""
    url, own, quota = small_quota
    other = own.parent / "99999-another-app" / "0123abcd" / "big.zip"
    other.parent.mkdir(parents=True)
    other.write_bytes(bytes(QUOTA - 64 * KB))
    files = lambda: {p for p in own.rglob("*") if p.is_file()}  # noqa: E731
    before = files()
    try:
        refused = _upload(url, "site.zip", 100 * KB)
        assert refused.status_code == 507, refused.text
        assert refused.text.strip() == (f"upload refused: the server's upload space is full ({human(quota)}, --upload-quota); "
                                         "try again later")
        assert files() == before, "the refused upload left a file"
        assert Client(url, verbose=False).predict("", api_name="/training_status")["status"] == "none"  # small calls still pass
        fits = _upload(url, "small.zip", 32 * KB)  # what fits is taken
        assert fits.status_code == 200, fits.text
    finally:
        shutil.rmtree(other.parent.parent)
    deadline = time.monotonic() + 10
    while (answer := _upload(url, "site.zip", 100 * KB)).status_code != 200 and time.monotonic() < deadline:  # the folder is walked again
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text
    for path in fits.json() + answer.json():
        Path(path).unlink()


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    """An app context whose upload folder is a fresh folder (as app._own_uploads sets it)."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "ws" / ".uploads" / "123-app"))
    context = AppContext(workspace=yolov11.Workspace.at(tmp_path / "ws"), jobs=None, blocks=None)
    context.uploads.mkdir(parents=True)
    return context


def _uploaded(ctx: AppContext, name: str, data: bytes = b"photo bytes") -> str:
    """A file as Gradio's upload route stores it: <upload folder>/<hash>/<name>."""
    path = ctx.uploads / os.urandom(8).hex() / name
    path.parent.mkdir()
    path.write_bytes(data)
    return str(path)


def test_an_upload_is_deleted_once_used_or_refused(ctx):
    from pages.uploads import used_upload

    used, refused = _uploaded(ctx, "a.jpg"), _uploaded(ctx, "b.jpg")
    with used_upload(ctx, used) as upload:
        assert upload.path.read_bytes() == b"photo bytes"
    # Gradio's raw value too
    with pytest.raises(yolov11.UserError), used_upload(ctx, {"path": refused, "meta": {"_type": "gradio.FileData"}}):
        raise yolov11.UserError("b.jpg: not a photo")
    assert [p for p in ctx.uploads.rglob("*")] == []  # the files and their folders
    with pytest.raises(yolov11.UserError, match=r"^a\.jpg: this upload is no longer on the server: drop the file again$"):
        with used_upload(ctx, used):
            pass


def test_a_kept_upload_is_found_by_the_next_event_until_its_copy_is_pruned(ctx):
    """The /demo photo: kept beside its drawing, then moved beside the next one when the slider
    re-runs it; pruned with the predictions, the next event says to drop it again."""
    from pages.uploads import used_upload

    given = _uploaded(ctx, "photo.jpg")
    first, second = (ctx.workspace.predictions_dir / call / "upload" for call in ("call-1", "call-2"))
    with used_upload(ctx, given) as upload:
        upload.keep(first / upload.name)
    assert not Path(given).exists() and (first / "photo.jpg").read_bytes() == b"photo bytes"
    with used_upload(ctx, given) as upload:
        assert upload.path == first / "photo.jpg"
        upload.keep(second / upload.name)
    assert not (first / "photo.jpg").exists() and (second / "photo.jpg").is_file()
    shutil.rmtree(second.parent)  # the predictions' pruning
    with pytest.raises(yolov11.UserError, match="photo.jpg: this upload is no longer on the server"):
        with used_upload(ctx, given):
            pass


def test_weights_are_kept_by_content_once_and_a_refused_keep_is_forgotten(ctx):
    """Predict's Detect, Publish and Track, and Train's Start pressed twice, name one upload:
    the first keeps it in weights/<hash>/, the others find that copy. A file refused after it
    was kept goes (a copy kept by an earlier event, which a run may use, stays)."""
    from pages.uploads import used_upload

    def keep(given):
        with used_upload(ctx, given) as upload:
            return upload.keep_by_content("weights")

    given = _uploaded(ctx, "best.pt", b"weights")
    kept = keep(given)
    assert kept.parent.parent == ctx.workspace.root / "weights" and kept.read_bytes() == b"weights"
    assert not Path(given).exists()
    assert keep(given) == kept  # pressed again: the same copy
    again = _uploaded(ctx, "best.pt", b"weights")  # the same file uploaded anew
    with used_upload(ctx, again) as upload:
        assert upload.keep_by_content("weights") == kept
        upload.forget()
    assert kept.is_file(), "a copy another event kept was removed"
    evil = _uploaded(ctx, "evil.pt", b"pickle")
    with used_upload(ctx, evil) as upload:
        refused = upload.keep_by_content("weights")
        upload.forget()
    assert not refused.exists() and not refused.parent.exists() and not Path(evil).exists()


def test_a_raw_value_is_refused_unless_it_is_this_apps_upload(ctx, tmp_path):
    """With preprocess=False Gradio no longer checks that a path is an upload: strict refuses
    any other file of the server, and never moves or deletes it; a direct Python call may name
    a file anywhere, used in place and left alone."""
    from pages.uploads import used_upload

    secret = tmp_path / "secret.pt"
    secret.write_bytes(b"server file")
    for value in (str(secret), {"path": str(secret)}, {"path": str(ctx.uploads / ".." / ".." / ".." / "secret.pt")}):
        with pytest.raises(yolov11.UserError, match="secret.pt: this upload is no longer on the server"):
            with used_upload(ctx, value, strict=True):
                pass
    with used_upload(ctx, str(secret)) as upload:
        assert upload.keep_by_content("weights").read_bytes() == b"server file"
    assert secret.read_bytes() == b"server file"


def test_a_video_refused_on_arrival_is_deleted_and_the_control_emptied(ctx, shapes_clip):
    """Predict's video control checks the caps as the file lands (the check: what
    yolov11.predict_video runs first), instead of when Track is pressed."""
    from pages.uploads import refused_on_arrival
    from yolov11.serve.video_file import probe

    check = refused_on_arrival(ctx, probe)
    bad = _uploaded(ctx, "[clip](http:x).mp4", b"not a video at all")
    control, note = check(bad)
    assert control is None and not Path(bad).exists()
    assert note.startswith("**Refused:** " + md_text("[clip](http:x).mp4: not a readable video")), note  # the name as text, not a link
    good = _uploaded(ctx, "shapes.mp4", shapes_clip.read_bytes())
    assert check(good)[1] == "" and Path(good).is_file()  # taken: it stays for Track
