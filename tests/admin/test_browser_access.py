"""Access control and the audit log in a real browser: from the tenant's page to its audit log
(chain intact), a role created from a template, a department created and opened. Screenshots
land in test-artifacts/admin/ beside the other pages'."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.admin.stage import ADMIN_EMAIL
from tests.support.browser import ARTIFACTS, browser_page
from tests.support.wiring import PASSWORD


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with browser_page() as page:
        yield page


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
