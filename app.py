"""yolov11 workbench, the browser app: ``python app.py`` serves it on http://127.0.0.1:7860.

    python app.py [--host 127.0.0.1] [--port 7860] [--workspace ./workspace] [--share]
                  [--auth user:pass | --auth users.txt]
                  [--max-upload-image 50MB] [--max-upload-video 1GB] [--max-upload-weights 1GB]
                  [--max-upload-zip 20GB] [--max-upload-other 50MB] [--upload-quota 25GB]

The workbench is at /, the published model's page for people who don't write code at /demo;
--auth protects both and the API. No ML here: the tabs in pages/ call the yolov11 API. The
workspace is applied before yolov11 prepares Ultralytics (whose config dir lives in it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """``--auth``: ``user:pass``, or a file of ``user:pass`` lines (blank lines and ``#`` comments
    skipped) -> Gradio's auth list. A bad entry raises UserError naming it (file:line)."""
    from yolov11.errors import UserError

    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        lines = [(f"{value}:{n}", line.strip()) for n, line in enumerate(path.read_text().splitlines(), 1)]
        lines = [(where, line) for where, line in lines if line and not line.startswith("#")]
    elif ":" in value:
        lines = [("--auth", value)]
    else:
        raise UserError(f"--auth {value}: no such file (expected user:password or a file of such lines)")
    pairs = []
    for where, line in lines:
        user, _, password = line.partition(":")
        if not user.strip() or not password:
            raise UserError(f"{where}: expected user:password, both non-empty")  # the line itself may hold a password
        pairs.append((user.strip(), password))
    if not pairs:
        raise UserError(f"--auth {value}: no user:password lines in the file")
    return pairs


EXPOSED_WARNING = (
    "warning: serving beyond this machine without --auth. Anyone who reaches the app can use it, "
    "including uploading .pt weights, which run Python code when loaded (pickle): add --auth user:pass"
)


def share_note(share_url: str | None, local_url: str, protected: bool) -> str:
    """What to tell the person who asked for --share, once Gradio has tried to open a tunnel
    (it swallows the failure and keeps serving: offline, share_url is just None)."""
    if not share_url:
        return f"--share needs internet: could not get a public link from Gradio, serving locally at {local_url}"
    return f"public link: {share_url}" + ("" if protected else " (anyone with it can use the app: consider --auth)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="yolov11 workbench: train custom object detectors in the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 in containers)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--workspace", help="workspace folder (default: $YOLOV11_WORKSPACE or ./workspace)")
    p.add_argument("--share", action="store_true", help="ask Gradio for a public link (needs internet)")
    p.add_argument("--auth", help="user:password, or a file of user:password lines")
    from pages.upload_limits import FLAGS, HELP  # no gradio, no yolov11 yet: the workspace is not set

    sizes = p.add_argument_group("upload limits (sizes such as 50MB, 1GB; an upload is refused while it arrives)")
    for field, flag in FLAGS.items():
        sizes.add_argument(flag, dest=f"upload_{field}", metavar="SIZE", help=HELP[field])
    return p.parse_args(argv)


def upload_limits(args: argparse.Namespace):
    """The UploadLimits the flags ask for; a UserError naming the flag for a bad size."""
    from pages.upload_limits import FLAGS, limits_from

    return limits_from({field: getattr(args, f"upload_{field}") for field in FLAGS})


_UPLOADS = None  # this process's upload folder, once the first app is built
GIL_SWITCH_S = 0.001  # see main()
# Every 5 min, Gradio deletes files of the upload folder older than 1 h. An upload an event used
# or refused is gone at once (pages.uploads); the sweep takes uploads no event used and Gradio's
# copies of the outputs it served, which count toward --upload-quota meanwhile: within the hour,
# so a visitor who fills the quota with files no event uses blocks uploads for an hour at most
# (an event that names such a file later is told to drop it again).
UPLOAD_CLEANUP = (300, 3600)


def _own_uploads(ws) -> None:
    """Uploads go to <workspace>/.uploads/<this process>/, a folder this app owns, instead of the
    host-wide Gradio temp folder where they piled up, readable by path; at start the folders of
    apps that are gone are removed (another app serving the same workspace keeps its own). Set
    before the Blocks exist: Gradio reads GRADIO_TEMP_DIR when it builds them, launches and
    checks a file. One folder per process (Gradio reads it from the environment), so a second
    app built in the same process (tests do) shares the first one's."""
    import shutil
    import tempfile

    from pages.common import upload_dir
    from yolov11 import liveness

    global _UPLOADS
    if _UPLOADS:
        return
    root = upload_dir(ws)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():  # leftovers of apps that have stopped (or crashed)
        if not old.is_dir():
            old.unlink(missing_ok=True)
        elif not liveness.owned_by_the_living(old, ws.owners_dir, unmarked_grace_s=0):
            shutil.rmtree(old, ignore_errors=True)
    _UPLOADS = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    liveness.mark(_UPLOADS, ws.owners_dir)
    os.environ["GRADIO_TEMP_DIR"] = str(_UPLOADS)


def build_app(workspace=None):
    """The Blocks app for ``workspace`` (a path or yolov11.Workspace; default: the process's)."""
    from yolov11 import Workspace
    from yolov11.compat import offline

    # before gradio: the telemetry-off variables huggingface_hub reads at import; Ultralytics waits for first use
    offline.prepare_environment()
    _own_uploads(Workspace.at(workspace))
    import gradio as gr

    # pyplot now, in one thread: Gradio switches matplotlib's backend around every event while
    # training threads plot; a pyplot half-imported by one of them breaks the other
    import matplotlib.pyplot  # noqa: F401

    from pages.common import AppContext
    from pages.data import build_data
    from pages.evaluate import build_evaluate
    from pages.export import build_export
    from pages.predict import build_predict
    from pages.public_demo import build_public_demo
    from pages.text import md_code
    from pages.train import build_train
    from yolov11.training.jobs import TrainingJobs

    ws = Workspace.at(workspace)
    with gr.Blocks(title="yolov11 workbench", analytics_enabled=False, delete_cache=UPLOAD_CLEANUP) as app:
        gr.Navbar(main_page_name="Workbench")
        header = f"# yolov11 workbench\nTrain a custom object detector: data → train → evaluate → export. Workspace: {md_code(ws.root)}"
        gr.Markdown(header, elem_id="app-header")
        ctx = AppContext(workspace=ws, jobs=TrainingJobs(ws), blocks=app)
        with gr.Tabs(elem_id="main-tabs") as ctx.tabs:
            build_data(ctx)
            build_train(ctx)
            build_evaluate(ctx)
            build_export(ctx)
            build_predict(ctx)
    with app.route("Demo", "/demo"):  # for people who don't write code: the published model only
        build_public_demo(ctx)
    app.workspace = ws
    return app


def serve(app, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None, prevent_thread_lock: bool = False,
          upload_limits=None):
    """Launch ``app`` with the limits this product needs; returns Gradio's (app, local_url, share_url).
    ``upload_limits``: a pages.upload_limits.UploadLimits (default: its defaults)."""
    ws = app.workspace
    from starlette.middleware import Middleware

    from pages.login_guard import LoginPageGuard
    from pages.upload_limits import UploadGuard, UploadLimits

    limits = upload_limits or UploadLimits()
    # Each body metered as it arrives; the quota counts the folder of all app processes (the one
    # build_app gave this process's uploads, in its first workspace: one app per process but in tests).
    guard = Middleware(UploadGuard, limits=limits, folder=_UPLOADS.parent, own=_UPLOADS)
    kwargs = dict(
        app_kwargs={"middleware": [guard, Middleware(LoginPageGuard)]},  # with --auth, the login page shows nothing of the app
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size=limits.largest(),  # the guard's caps come first (with their reasons); Gradio's page pre-checks this one
        allowed_paths=[str(ws.exports_dir), str(ws.predictions_dir), str(ws.previews_dir)],  # downloads and drawn images only
        css_paths=[ASSETS / "app.css", ASSETS / "demo.css"],
        favicon_path=ASSETS / "logo.svg",
        footer_links=["api"],
        show_error=True,
    )
    app.queue(default_concurrency_limit=4)
    if not auth and (share or host not in ("127.0.0.1", "localhost", "::1")):
        print(EXPOSED_WARNING, file=sys.stderr, flush=True)
    launched = app.launch(share=share, prevent_thread_lock=True, **kwargs)  # returns once serving (and the tunnel tried)
    if share:
        print(share_note(launched[2], launched[1], protected=bool(auth)), file=sys.stderr, flush=True)
    if not prevent_thread_lock:
        app.block_thread()  # until Ctrl+C, as launch() itself would
    return launched


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Training runs in a thread of this process and holds the GIL through its Python data loading;
    # a request waits up to the switch interval each time it needs the GIL back. 1 ms instead of
    # Python's 5 ms: bench/load_status.py measured p95 169-244 ms against 202-478 ms (3-4 runs each,
    # noisy VM) for 10 polling clients, with no measurable cost to training speed.
    sys.setswitchinterval(GIL_SWITCH_S)
    if args.workspace:
        os.environ["YOLOV11_WORKSPACE"] = os.path.abspath(os.path.expanduser(args.workspace))
    import yolov11

    try:
        auth = parse_auth(args.auth)
        limits = upload_limits(args)
    except yolov11.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)  # bad input, as in the CLI
    yolov11.ensure_demo_dataset()  # the app opens on a dataset ready to train
    from pages.console import quiet_stdout

    quiet_stdout()  # without Gradio's line for each custom component file it serves (pages/console.py)
    serve(build_app(), host=args.host, port=args.port, share=args.share, auth=auth, upload_limits=limits)


if __name__ == "__main__":
    main()
