"""An upload's life: the event that gets it uses it (or refuses it), then it leaves the upload folder.

Gradio keeps what a visitor uploads in the app's upload folder (``<workspace>/.uploads/<app
process>/``) until its sweep, hours later, a refused file too. So every handler that gets an
upload passes it through ``used_upload``: when the block ends, with a result or an error, the
upload is deleted. Where a later event needs the same file again (weights used by Detect, then
Publish, then Track; a /demo photo re-run when the confidence slider moves), the handler keeps it
once, moved into a bounded place of the workspace (``Upload.keep_by_content``: weights/<hash>/,
as training's starting weights; ``Upload.keep``: beside a prediction's output, pruned with it),
and this process remembers upload path -> kept path, so the next event that names the upload
(the browser sends the same path again) finds the kept file.

Handlers whose event runs with ``preprocess=False`` (a gr.Image's: Gradio's preprocessing opens
the photo, which fails once it is gone) get Gradio's raw value and skip Gradio's own check that
the path is an upload: they pass ``strict=True``, which refuses any path outside this app's
upload folder that is not a kept upload.

``refused_on_arrival(ctx, check)`` is an ``.upload`` event function: the file is checked as soon
as it lands (a video's caps), and a refused one is deleted at once, the control emptied and the
reason shown beside it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from pages.common import AppContext, discard_upload
from pages.text import md_text
from yolov11 import UserError

REMEMBERED = 1024  # kept uploads this process remembers (the newest)
_KEPT: OrderedDict[tuple[str, str], Path] = OrderedDict()  # (workspace, upload path) -> where the file is kept
_USERS: dict[tuple[str, str], int] = {}  # (workspace, upload path) -> events using it now
_LOCK = threading.RLock()


def upload_path(value) -> str | None:
    """The server path in an upload value: Gradio's preprocessed path, or its raw FileData
    ({"path": ..., ...}) when the event skips preprocessing; None for no file."""
    if isinstance(value, dict):
        value = value.get("path")
    return str(value) if value else None


def _within(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _gone(name: str) -> UserError:
    return UserError(f"{name}: this upload is no longer on the server: drop the file again")


class Upload:
    """An upload an event is using: ``path`` is where to read it now (the upload, or where an
    earlier event kept it), ``name`` its file name."""

    def __init__(self, ctx: AppContext, given: str, key: tuple[str, str], path: Path, kind: str):
        self.ctx, self.given, self.key, self.path, self.kind = ctx, given, key, path, kind  # kind: fresh | kept | foreign
        self.name = Path(given).name
        self.created: Path | None = None  # the file this event's keep wrote (forget removes only that)

    def _shared(self) -> bool:
        return _USERS.get(self.key, 0) > 1

    def keep(self, dest: Path) -> Path:
        """Keep the file at ``dest`` (a file path; its folder is made) for later events: moved
        there (copied while another event still reads it; a file from outside the upload folder
        is copied), and remembered. Returns ``dest``."""
        dest = Path(dest)
        with _LOCK:
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.resolve() == self.path.resolve():
                    return dest
                if self.kind == "foreign" or self._shared():
                    shutil.copyfile(self.path, dest)
                else:
                    shutil.move(self.path, dest)
            except OSError as exc:  # a full disk, say: said in words, never with the server's paths
                dest.unlink(missing_ok=True)
                why = "the server's disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else exc.strerror or type(exc).__name__
                raise UserError(f"{self.name}: could not keep it on the server ({why})") from None
            self.created = dest
            self._remember(dest)
        return dest

    def keep_by_content(self, folder: str) -> Path:
        """Keep the file as ``<workspace>/<folder>/<sha256 prefix>/<name>`` (two files of one name
        stay apart; the same file kept twice is one copy). Returns that path."""
        if self.kind == "kept" and self.path.parent.parent == self.ctx.workspace.root / folder:
            return self.path
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        dest = self.ctx.workspace.root / folder / digest.hexdigest()[:12] / self.name
        if dest.is_file():
            with _LOCK:
                self._remember(dest)
            return dest
        return self.keep(dest)

    def _remember(self, dest: Path) -> None:
        if self.kind == "foreign":
            return
        _KEPT[self.key] = dest
        _KEPT.move_to_end(self.key)
        while len(_KEPT) > REMEMBERED:
            _KEPT.popitem(last=False)
        self.path, self.kind = dest, "kept"

    def forget(self) -> None:
        """The file was refused after it was kept: the copy this event kept goes too (it would be
        offered as if it worked; one kept earlier, which another run may use, stays), and a later
        event naming this upload is told to drop it again."""
        with _LOCK:
            _KEPT.pop(self.key, None)
            if self.created is not None:
                self.created.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.created.parent.rmdir()  # the content-hash folder, when nothing else is in it
                self.created = None


def _resolve(ctx: AppContext, given: str, strict: bool) -> Upload:
    key = (str(ctx.workspace.root), os.path.abspath(given))
    name = Path(given).name
    kept = _KEPT.get(key)
    if kept is not None:
        if kept.is_file():
            _KEPT.move_to_end(key)
            return Upload(ctx, given, key, kept, "kept")
        _KEPT.pop(key, None)  # pruned with the predictions it sat beside, or refused: unless uploaded anew, gone
    path = Path(given)
    if _within(path, ctx.uploads):
        if not path.is_file():
            raise _gone(name)
        return Upload(ctx, given, key, path, "fresh")
    if strict:  # a raw value naming any other file of the server: never read, never moved
        raise _gone(name)
    if not path.is_file():
        raise UserError(f"{name}: no such file")
    return Upload(ctx, given, key, path, "foreign")


@contextlib.contextmanager
def used_upload(ctx: AppContext, value, strict: bool = False) -> Iterator[Upload | None]:
    """The upload in ``value`` (a path, Gradio's FileData, or None: yields None) for the block;
    afterwards, with a result or an error, the upload is deleted from the upload folder (what
    the block kept stays where it was kept). A file outside the upload folder (a direct Python
    call) is used in place and never deleted, unless ``strict``, which refuses it."""
    given = upload_path(value)
    if given is None:
        yield None
        return
    with _LOCK:
        upload = _resolve(ctx, given, strict)
        _USERS[upload.key] = _USERS.get(upload.key, 0) + 1
    try:
        yield upload
    finally:
        with _LOCK:
            left = _USERS.pop(upload.key, 1) - 1
            if left:
                _USERS[upload.key] = left
            elif upload.kind != "foreign":
                discard_upload(ctx, os.path.abspath(given))  # the last event using it is done: no copy stays in the folder


@contextlib.contextmanager
def used_uploads(ctx: AppContext, values, strict: bool = False) -> Iterator[list[Upload]]:
    """``used_upload`` for each value of a list (a multi-file input); None values are skipped."""
    with contextlib.ExitStack() as stack:
        yield [u for u in (stack.enter_context(used_upload(ctx, v, strict)) for v in values or []) if u is not None]


def refused_on_arrival(ctx: AppContext, check: Callable[[Path], object]):
    """An ``.upload`` event function of one file control, with outputs (that control, a Markdown
    beside it): ``check(path)`` runs as soon as the file lands. Refused (a UserError), the upload
    is deleted, the control emptied and the reason shown in the Markdown; accepted, the file
    stays for the event that uses it and the Markdown is emptied. (Not an error: Gradio's page
    chains no event after an error shown beside a control, and the control could not be emptied.)"""

    def arrived(value):
        path = upload_path(value)
        if not path:
            return gr.skip(), ""
        try:
            check(Path(path))
        except UserError as exc:
            with _LOCK:
                if not _USERS.get((str(ctx.workspace.root), os.path.abspath(path))):
                    discard_upload(ctx, path)
            return None, f"**Refused:** {md_text(exc)}"
        return gr.skip(), ""

    return arrived
