"""Drive the ASGI lifespan protocol of several mounted apps from one parent.

A router that dispatches to whole ASGI apps must start and stop them itself: servers
send ``lifespan`` to the top-level app only. Rules: apps start in order and stop in
reverse; if one fails to start, the ones already started are stopped and the error
propagates; an app that does not speak lifespan (raises on the scope, or returns at once)
counts as started. Each app gets its own ``state`` dict, which the router copies into
that app's requests (ASGI lifespan spec, "Lifespan State").
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup


class LifespanFailed(RuntimeError):
    """A mounted app reported ``lifespan.startup.failed``."""


class _Lifespan:
    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[dict[str, Any]](1)
        self._from_app, self._outbox = anyio.create_memory_object_stream[dict[str, Any]](1)
        self._unsupported = False

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        with self._app_inbox, self._from_app:
            try:
                await self.app(scope, self._app_inbox.receive, self._from_app.send)
            except Exception:
                # The spec lets an app refuse lifespan by raising; it then simply has none.
                self._unsupported = True

    async def _exchange(self, message: str) -> dict[str, Any] | None:
        if self._unsupported:
            return None
        try:
            await self._to_app.send({"type": message})
            return await self._outbox.receive()
        except (anyio.BrokenResourceError, anyio.EndOfStream):
            return None  # the app returned from its lifespan early: nothing more to say

    async def startup(self, tasks: TaskGroup) -> None:
        tasks.start_soon(self._run)
        reply = await self._exchange("lifespan.startup")
        if reply is not None and reply["type"] == "lifespan.startup.failed":
            self._close()
            raise LifespanFailed(reply.get("message", "startup failed"))

    async def shutdown(self) -> None:
        try:
            await self._exchange("lifespan.shutdown")
        finally:
            self._close()

    def _close(self) -> None:
        self._to_app.close()
        self._outbox.close()


@asynccontextmanager
async def lifespans(apps: Sequence[Any], states: Sequence[dict[str, Any]]) -> Any:
    """Run the lifespans of ``apps`` (with their ``states``) around the ``async with``."""
    async with anyio.create_task_group() as tasks, AsyncExitStack() as stack:
        for app, state in zip(apps, states, strict=True):
            lifespan = _Lifespan(app, state)
            await lifespan.startup(tasks)
            stack.push_async_callback(lifespan.shutdown)
        yield
