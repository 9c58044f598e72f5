"""The admin UI driven by a real browser (Debian's chromium through Playwright).

Screenshots of every page land in test-artifacts/admin/ for review.
"""

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


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_admin_walkthrough(page: Page, stage) -> None:
    page.goto(f"{stage.url}/admin")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    shot(page, "01-login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("wrong-password-entirely")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid email or password")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("img", name="Tenants by status")).to_be_visible()
    expect(page.get_by_text("no findings")).to_be_visible()
    shot(page, "02-dashboard")

    # Find the tenant.
    page.get_by_role("link", name="Tenants", exact=True).click()
    page.get_by_label("Search").fill(stage.tenant)
    page.get_by_role("button", name="Filter").click()
    shot(page, "03-tenants")
    page.get_by_role("link", name=stage.tenant).click()
    expect(page.locator("#tenant-status")).to_have_text("active")
    shot(page, "04-tenant")

    # Suspend and resume, with a reason.
    page.get_by_label("Reason for this change").fill("invoice overdue")
    page.get_by_role("button", name="Suspend").click()
    expect(page.locator("#tenant-status")).to_have_text("suspended")
    expect(page.get_by_text("invoice overdue")).to_be_visible()
    page.get_by_label("Reason for this change").fill("invoice paid")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#tenant-status")).to_have_text("active")

    # A setting: an invalid value is refused inline, a valid one saved.
    page.locator("#setting-max_users").fill("lots")
    page.locator("#form-max_users").evaluate("f => f.requestSubmit()")
    expect(page.locator("#error-max_users")).to_contain_text("max_users")
    shot(page, "05-setting-error")
    page.locator("#setting-max_users").fill("42")
    page.locator("#form-max_users").evaluate("f => f.requestSubmit()")
    expect(page.get_by_role("status")).to_contain_text("max_users saved")
    expect(page.locator("#setting-max_users")).to_have_value("42")

    # Override a flag twice, then roll back to the first version.
    for value, reason in (("true", "beta customer"), ("false", "bug found")):
        form = page.locator(f"form[action$='/flags/{stage.flag}']")
        form.locator("input[name=value]").fill(value)
        form.locator("input[name=reason]").fill(reason)
        form.get_by_role("button", name="Override").click()
    history = page.locator("#history + table")
    expect(history.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Roll back to v1").click()
    expect(history.locator("tbody tr").first).to_contain_text("rollback to v1")
    expect(history.locator("tbody tr").first).to_contain_text("true")
    shot(page, "06-flag-history")

    # The policy viewer.
    page.get_by_role("link", name="RLS policies").click()
    expect(page.locator("#audit-clean")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("tenantry.app_users"))).to_be_visible()
    expect(page.get_by_text("runtime_access").first).to_be_visible()
    shot(page, "07-policies")

    # A security event and its detail.
    page.get_by_role("link", name="Security events").click()
    page.get_by_label("Tenant").fill(stage.tenant)
    page.get_by_role("button", name="Filter").click()
    shot(page, "08-security-events")
    page.locator("table tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("app_mismatch"))).to_be_visible()
    expect(page.locator("pre")).to_contain_text("launchboard")
    shot(page, "09-security-event")

    # Cross-app users.
    page.get_by_role("link", name="Cross-app users").click()
    page.get_by_label("Tenant").fill(stage.tenant)
    page.get_by_label("Email").fill(stage.person)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("table tbody tr")).to_have_count(2)
    shot(page, "10-people")

    page.get_by_role("link", name="Apps").click()
    expect(page.get_by_role("cell", name="thinktank", exact=True)).to_be_visible()
    shot(page, "11-apps")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    page.goto(f"{stage.url}/admin/tenants")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
