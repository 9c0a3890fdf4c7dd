"""The page opens a cluster of 1,000 pods: the snapshot arrives in bounded frames.

A sandbox holds at most 300 pods, so this is a cluster made from the command line, which
staff open (as an instructor opens any cluster).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.livehelpers import http, pod_manifest

from .pages import STEPS_TIMEOUT, new_context, open_tab, wait_live

pytestmark = [pytest.mark.browser]

CLUSTER = "thousand"
PODS = 1000
STAFF, PASSWORD = "instructor", "a-Long-staff-password-7"


@pytest.fixture(scope="module")
def thousand_pods(live_stack, tmp_path_factory):
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    live_stack.manage("shell", "-c", f"from django.contrib.auth.models import User; User.objects.filter(username='{STAFF}').exists() or User.objects.create_superuser('{STAFF}', '', '{PASSWORD}')")

    def make(i: int) -> int:
        manifest = pod_manifest(f"crowd-{i}")
        # No node has this label: the pods stay Pending, so the workers have little to do.
        manifest["spec"]["nodeSelector"] = {"podflow.dev/nowhere": "true"}
        return http(live_stack.url, "POST", f"/k8s/{CLUSTER}/api/v1/namespaces/default/pods", manifest)[0]

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(make, range(PODS)))
    assert codes == [201] * PODS
    yield CLUSTER
    # The stack is shared with the other tests: leave nothing for its workers to do.
    live_stack.manage("shell", "-c", f"from cluster import sandbox; from cluster.models import Cluster; sandbox.delete(Cluster.objects.get(name='{CLUSTER}'))")


def test_the_page_opens_a_cluster_of_a_thousand_pods(browser, live_stack, thousand_pods):
    from playwright.sync_api import expect

    context, page = new_context(browser)
    try:
        frames: list[int] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(len(payload if isinstance(payload, (bytes, str)) else str(payload)))))
        page.goto(f"{live_stack.url}/accounts/login/")
        page.get_by_label("Username").fill(STAFF)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_stack.url}/clusters/{thousand_pods}/")
        wait_live(page)

        open_tab(page, "pods")
        expect(page.locator("#pod-count")).to_have_text(str(PODS), timeout=STEPS_TIMEOUT)
        expect(page.locator("#pods-body tr")).to_have_count(PODS)
        assert len(frames) > 3 and max(frames) < 1024 * 1024, (len(frames), max(frames))
        assert not page.errors
    finally:
        context.close()  # not close_page: that deletes the cluster the page shows
