"""Access control and the audit log in a real browser: from the tenant's page to its audit log
(chain intact), a role created from a template, a department created and opened. Screenshots
land in test-artifacts/admin/ beside the other pages'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.admin.stage import ADMIN_EMAIL
from tests.support.wiring import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture(scope="module")
def page() -> Page:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        console_errors: list[str] = []
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        yield page
        browser.close()
        assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_access_and_audit_walkthrough(page: Page, stage) -> None:
    page.goto(f"{stage.url}/admin/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{stage.url}/admin/tenants/{stage.tenant}")

    page.get_by_role("link", name="Audit log", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    page.screenshot(path=str(ARTIFACTS / "20-audit-log.png"), full_page=True)

    page.goto(f"{stage.url}/admin/tenants/{stage.tenant}")
    page.get_by_role("link", name="Roles and assignments").click()
    page.get_by_label("Key").fill("browsers")
    page.get_by_label("Name").fill("Browsers")
    page.get_by_label("From template").select_option("viewer")
    page.get_by_role("button", name="Create role").click()
    expect(page.get_by_text("role browsers created")).to_be_visible()
    expect(page.locator("#roles")).to_contain_text("Browsers")
    page.screenshot(path=str(ARTIFACTS / "21-roles.png"), full_page=True)

    page.goto(f"{stage.url}/admin/tenants/{stage.tenant}/departments")
    page.locator("#d-name").fill("Engineering")
    page.get_by_role("button", name="Create department").click()
    page.get_by_role("link", name="Engineering").click()
    expect(page).to_have_url(re.compile(r"department="))
    expect(page.get_by_role("heading", name="Engineering")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "22-departments.png"), full_page=True)
