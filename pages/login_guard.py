"""With --auth, the login page reveals nothing about the app behind it.

Gradio serves / and /demo to a visitor who has not logged in as its login page, but that page
still embeds the whole API description (``window.gradio_api_info``: every endpoint, its
parameters, and dropdown choices such as the workspace's dataset names). This ASGI middleware
(passed to Gradio's FastAPI app through ``launch(app_kwargs=...)``) blanks that script on any
HTML page whose embedded config says ``auth_required``; logged-in pages pass unchanged.
"""

from __future__ import annotations

import re

_API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.S)  # toorjson escapes "<" inside
_LOGIN = b'"auth_required":true'


class LoginPageGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        held: dict = {}
        body: list[bytes] = []

        async def relay(message):
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                if not ctype.startswith(b"text/html"):
                    await send(message)
                    return
                held["start"] = message
                return
            if "start" not in held or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            if _LOGIN in page:
                page = _API_INFO.sub(b"window.gradio_api_info = null;</script>", page)
            start = held["start"]
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, relay)
