"""Long work that stops when whoever asked for it goes away: a video tracked for nobody would hold
its model (one video at a time per model) and the GPU queue until its last frame.

Gradio cannot stop the worker thread a handler runs in. What it does instead: an API cancel
(gradio_client's ``job.cancel()``, the ``/cancel`` route) cancels the asyncio task awaiting the
handler; a page closed or reloaded ends its session (its heartbeat connection drops) and runs the
app's ``unload`` listeners with that session's hash, while a handler it started runs on. So
``run_stoppable`` is awaited by an async handler: it runs the work in a thread (the request's
context copied, so ``gr.Progress`` and the error display still find their event) with a
``threading.Event`` the work looks at (``yolov11.predict_video``'s ``stop``), and sets it on
``asyncio.CancelledError`` and when the session that started the work unloads. Either way it waits
for the work to wind up (its output removed, its lock released) before it ends, so a cancel that
has been answered means the model is free again.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any, Callable

import gradio as gr

_STOPS: dict[str, set[threading.Event]] = {}  # session hash -> stop flags of the work it started, still running
_GUARD = threading.Lock()
_LISTENING: weakref.WeakSet = weakref.WeakSet()  # Blocks whose unload stops their sessions' work


def _stop_session(request: gr.Request) -> None:
    """A page was closed or reloaded: stop what it started."""
    with _GUARD:
        stops = _STOPS.pop(getattr(request, "session_hash", None) or "", set())
    for stop in stops:
        stop.set()


def stop_when_closed(blocks: gr.Blocks) -> None:
    """Have a closed page's running work stopped (once per Blocks; call while building them)."""
    if blocks not in _LISTENING:
        _LISTENING.add(blocks)
        blocks.unload(_stop_session)


async def run_stoppable(request: gr.Request | None, work: Callable[..., Any], *args, **kwargs) -> Any:
    """``work(*args, stop=<threading.Event>, **kwargs)`` in a worker thread; its result, or what
    it raised. The event is set when the caller cancels (then this raises CancelledError once
    the work has ended) or closes the page that started it."""
    stop = threading.Event()
    session = getattr(request, "session_hash", None)
    if session:
        with _GUARD:
            _STOPS.setdefault(session, set()).add(stop)
    running = asyncio.ensure_future(asyncio.to_thread(work, *args, stop=stop, **kwargs))
    try:
        return await asyncio.shield(running)  # a cancel reaches this await, not the thread
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([running])  # its clean-up done
        if not running.cancelled():
            running.exception()  # what it raised on stopping (a UserError) is for nobody: read, so asyncio does not log it
        raise
    finally:
        if session:
            with _GUARD:
                left = _STOPS.get(session)
                if left is not None:
                    left.discard(stop)
                    if not left:
                        _STOPS.pop(session, None)
