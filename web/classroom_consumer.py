"""The instructor's live roster: /ws/classes/<code>/.

Open only to the class's instructor (and staff): anyone else is accepted, then closed with
4403 before any message, whether or not the class exists (as the cluster stream does).

It sends {"type": "roster", ...} — what GET /classes/<code>/roster answers — on connect, then
again whenever the class changes: a learner's lab progress saved (a check passed), a join,
a raised hand, an instructor action (group `class.<id>`, web/classroom.py), at most every
COALESCE_SECONDS; and every REFRESH_SECONDS, for the times and last activity.
"""
from __future__ import annotations

import asyncio

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from web import classroom
from web.models import Classroom

CLOSE_FORBIDDEN = 4403
CLOSE_GONE = 4404
REFRESH_SECONDS = 5.0
COALESCE_SECONDS = 0.2


def _class_of(scope: dict, code: str) -> int | None:
    found = classroom.class_for_instructor(scope.get("user"), code)
    return found.pk if found is not None else None


def _roster(classroom_id: int) -> dict | None:
    found = Classroom.objects.filter(pk=classroom_id).select_related("instructor").first()
    return None if found is None else classroom.roster(found)


class ClassConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.group = None
        self.refresher: asyncio.Task | None = None
        self.pending: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        await self.accept()
        classroom_id = await database_sync_to_async(_class_of)(self.scope, self.scope["url_route"]["kwargs"]["code"])
        if classroom_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.classroom_id = classroom_id
        self.group = classroom.group_name(classroom_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_roster()
        self.refresher = asyncio.create_task(self._refresh())

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        for task in (getattr(self, "refresher", None), getattr(self, "pending", None)):
            if task:
                task.cancel()
        group = getattr(self, "group", None)
        if group and self.channel_layer is not None:
            self.group = None
            await self.channel_layer.group_discard(group, self.channel_name)

    async def send_json(self, content, close: bool = False) -> None:
        try:
            await super().send_json(content, close=close)
        except Disconnected as exc:
            raise StopConsumer() from exc

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def class_changed(self, message: dict) -> None:
        """Something changed: read the roster again soon (a burst of saves is one read)."""
        if self.pending is None or self.pending.done():
            self.pending = asyncio.create_task(self._soon())

    async def _soon(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        try:
            await self._send_roster()
        except StopConsumer:
            pass  # the instructor's page has gone: __call__ leaves the group

    async def _refresh(self) -> None:
        try:
            while True:
                await asyncio.sleep(REFRESH_SECONDS)
                await self._send_roster()
        except StopConsumer:
            pass

    async def _send_roster(self) -> None:
        async with self.lock:
            data = await database_sync_to_async(_roster, thread_sensitive=False)(self.classroom_id)
            if data is None:
                await self.close(code=CLOSE_GONE)
                return
            await self.send_json({"type": "roster", **data})
