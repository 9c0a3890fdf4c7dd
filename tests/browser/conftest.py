"""Fixtures of the browser tests (tests/browser/pages.py has the helpers)."""
from __future__ import annotations

import pytest

from .pages import CHROMIUM, CHROMIUM_ARGS, Learner, close_page, open_page


@pytest.fixture(scope="module")
def browser(live_stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def learner(browser, live_stack):
    context, page = open_page(browser, live_stack.url)
    yield Learner(context, page, live_stack.url)
    errors = list(page.errors)
    close_page(context, page)
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(learner):
    return learner.page

