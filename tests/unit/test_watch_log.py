"""A watch reads the change log poll by poll: a change committed while a poll is reading
must come in that poll or the next, never be stepped over."""
from __future__ import annotations

from django.db import connection

from cluster.apiserver import store
from cluster.apiserver.handlers import watch

from .manifests import deployment, pod


def test_a_change_committed_between_a_polls_two_reads_comes_in_the_next_poll(cluster):
    after = store.current_revision(cluster)
    store.create(cluster, pod("meanwhile"))  # the log has moved on: the poll reads it
    queries = []

    def between(execute, sql, params, many, context):
        queries.append(sql)
        if len(queries) == 2:  # after the poll's first read, before its second
            store.create(cluster, deployment("late"))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(between):
        first, after = watch._changes_after(cluster.pk, "Deployment", "default", after)
    second, _ = watch._changes_after(cluster.pk, "Deployment", "default", after)
    names = [doc["metadata"]["name"] for _, _, doc in first + second]
    assert names == ["late"]
