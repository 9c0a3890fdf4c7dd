"""Under ASGI a request's middleware runs in one thread (web/syncchain.py)."""
from __future__ import annotations

import pytest
from asgiref import sync
from django.conf import settings
from django.test import AsyncClient

from .test_consumers import run

pytestmark = pytest.mark.django_db(transaction=True)


@run
async def test_a_request_hops_between_the_event_loop_and_a_thread_a_few_times_not_once_per_middleware(cluster, monkeypatch):
    """Each hop is a future, a thread's wake-up and the loop's, under the GIL daphne's
    other work shares: Django's own middleware, run async, took two a piece."""
    hops = []
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    response = await AsyncClient().get("/k8s/test/api/v1/namespaces/default/pods", headers={"Authorization": f"Bearer {cluster.token}"})

    assert response.status_code == 200
    assert len(hops) < len(settings.MIDDLEWARE) / 2, hops
