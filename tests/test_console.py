"""The app's console. Gradio's route for a custom component's files prints a debug line for each
file it serves, five a page load (the box editor, gradio_image_annotation, is one): the console of
a day's use was hundreds of `id=..., environment=client, ...` lines. pages.console drops exactly
those (app.py installs it on stdout)."""

from __future__ import annotations

import contextlib
import io

import gradio as gr
from fastapi.testclient import TestClient
from gradio_image_annotation import image_annotator

from pages.console import QuietConsole


def test_gradios_custom_component_lines_are_dropped_and_the_rest_kept():
    with gr.Blocks(analytics_enabled=False) as demo:  # Gradio's analytics would phone home
        image_annotator()
    client = TestClient(gr.routes.App.create_app(demo))
    asset = f"/gradio_api/custom_component/{image_annotator.get_component_class_id()}/client/component/index.js"
    raw = io.StringIO()
    with contextlib.redirect_stdout(raw):
        assert client.get(asset).status_code == 200
    assert "environment=client, type=component, file_name=index.js" in raw.getvalue()  # what Gradio prints, unfiltered

    kept = io.StringIO()
    with contextlib.redirect_stdout(QuietConsole(kept)):
        assert client.get(asset).status_code == 200
        print("error: what the console is for")
        print("id=7, environment=client")  # not Gradio's whole line: kept
    assert kept.getvalue() == "error: what the console is for\nid=7, environment=client\n"
