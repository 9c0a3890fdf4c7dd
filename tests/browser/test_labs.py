"""The lab panel: lab 2 (labs/eight-steps.yaml) done as a learner does it — the clock paused,
kubectl typed in the page's terminal, the predict question answered before the cluster is
stepped, each check turning green by itself — and the progress surviving a reload.

Each test is a new learner in a sandbox of its own (tests/browser/pages.py)."""
from __future__ import annotations

import pytest

from .pages import STEPS_TIMEOUT, needs_chromium, open_tab, wait_live

pytestmark = [pytest.mark.browser, needs_chromium]


def checks(page):
    return page.locator("#lab-root .lab-check")


def all_checks_pass(page):
    from playwright.sync_api import expect

    expect(page.locator('#lab-root .lab-check[data-ok="false"], #lab-root .lab-check[data-ok="unknown"]')).to_have_count(0, timeout=STEPS_TIMEOUT)
    expect(page.locator("#lab-root [data-lab-do=next]")).to_be_enabled(timeout=STEPS_TIMEOUT)


def test_lab_two_paused_and_stepped_with_a_prediction_survives_a_reload(page):
    from playwright.sync_api import expect

    open_tab(page, "lab")
    lab = page.locator("#lab-root .lab-item[data-lab='eight-steps']")
    expect(lab).to_contain_text("The eight steps of pod creation")
    lab.get_by_role("button", name="Start").click()
    root = page.locator("#lab-root")
    expect(root.locator(".lab-where")).to_have_text("Step 1 of 6", timeout=STEPS_TIMEOUT)

    # Step 1: the check fails until the learner pauses the clock, then passes by itself.
    expect(checks(page).first).to_have_attribute("data-ok", "false", timeout=STEPS_TIMEOUT)
    page.locator("#clock-pause").click()
    expect(checks(page).first).to_have_attribute("data-ok", "true", timeout=STEPS_TIMEOUT)
    all_checks_pass(page)
    root.get_by_role("button", name="Next step").click()
    expect(root.locator(".lab-where")).to_have_text("Step 2 of 6")

    # Step 2: the suggested command goes into the terminal; kubectl runs it for real.
    root.get_by_role("button", name="Put it in the terminal kubectl run web --image=nginx:1.27").click()
    field = page.locator("#terminal-input")
    expect(field).to_have_value("kubectl run web --image=nginx:1.27")
    expect(field).to_be_focused()
    field.press("Enter")
    expect(page.locator("#terminal-output")).to_contain_text("pod/web created", timeout=30_000)
    open_tab(page, "lab")
    all_checks_pass(page)
    root.get_by_role("button", name="Next step").click()

    # Step 3: predict before the cluster shows it; the reveal steps the scheduler.
    question = root.locator("form.lab-question")
    expect(question).to_contain_text("spec.nodeName")
    question.get_by_label("scheduler").check()
    question.get_by_role("button", name="Commit my prediction").click()
    expect(root.locator(".lab-question")).to_contain_text("You answered: scheduler — right.", timeout=STEPS_TIMEOUT)
    expect(page.locator('#steps li[data-step="4"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    all_checks_pass(page)
    root.get_by_role("button", name="Next step").click()
    expect(root.locator(".lab-where")).to_have_text("Step 4 of 6")

    # The progress is the server's: a reload opens the lab where it was.
    page.reload()
    wait_live(page)
    open_tab(page, "lab")
    expect(root.locator(".lab-where")).to_have_text("Step 4 of 6", timeout=STEPS_TIMEOUT)

    # Step 4: step the clock until web is Ready; the checks turn green by themselves.
    step = page.locator("#clock-step")
    for _ in range(30):
        if page.locator('#steps li[data-step="8"][data-state="done"]').count():
            break
        expect(step).to_be_enabled(timeout=STEPS_TIMEOUT)
        step.click()
        expect(page.locator("#clock-next .clock-released")).to_have_count(0, timeout=STEPS_TIMEOUT)
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    all_checks_pass(page)
