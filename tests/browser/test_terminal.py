"""The page's terminal typed into as in a shell: Enter runs a command, and a manifest is
typed as a here-document — Enter adds its lines until the delimiter closes it, then runs
it with the real kubectl."""
from __future__ import annotations

import pytest

from .pages import needs_chromium, open_tab

pytestmark = [pytest.mark.browser, needs_chromium]

MANIFEST = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: typed", "spec:", "  containers:", "  - name: web", "    image: nginx:1.27"]


def test_a_manifest_typed_as_a_here_document_is_applied(page):
    from playwright.sync_api import expect

    open_tab(page, "kubectl")
    field = page.locator("#terminal-input")
    output = page.locator("#terminal-output")
    field.fill("")
    field.type("kubectl apply -f - <<EOF")
    field.press("Enter")  # the document is open: Enter adds a line, nothing runs
    expect(output).not_to_contain_text("kubectl apply")
    for line in MANIFEST:
        field.type(line)
        field.press("Enter")
    expect(field).to_have_js_property("rows", len(MANIFEST) + 2)
    field.type("EOF")
    field.press("Enter")  # closed: Enter runs it
    expect(output).to_contain_text("pod/typed created", timeout=30_000)
    expect(output).to_contain_text("[exit 0]")

    # A one-line command runs on Enter; an unclosed document can still be sent with
    # Ctrl+Enter, and the server says what is wrong with it.
    field.fill("kubectl apply -f - <<EOF\nkind: Pod")
    field.press("Control+Enter")
    expect(output).to_contain_text("the here-document is not closed", timeout=30_000)
    field.fill("kubectl get pod typed")
    field.press("Enter")
    expect(output).to_contain_text("READY", timeout=30_000)
