"""The operators' AI cost page of a tenant, on a live server and in a real browser (Debian's
chromium through Playwright): reached from the tenant's page, charts of the last 30 days and
12 months, the budget with its thresholds and the alert raised. Screenshots land in
test-artifacts/admin/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from tenantry.web import create_app
from tests.admin.stage import ADMIN_EMAIL, PLATFORM, Stage, prepare, signed_in_client
from tests.support.browser import ARTIFACTS, browser_page
from tests.support.live import live_server
from tests.support.wiring import PASSWORD, api_settings


@pytest.fixture(scope="module")
def stage(urls) -> Iterator[Stage]:
    with live_server(
        lambda url: create_app(api_settings(urls, public_url=url, platform_tenant=PLATFORM))
    ) as url:
        stage = prepare(urls, url)
        _spend(stage)
        yield stage


def _spend(stage: Stage) -> None:
    """Ten days of costs in two apps (8.50 dollars a day), and 800 dollars today: this month's
    spending passes 80 % of the business plan's 1,000 dollars whatever the day of the month."""
    now = datetime.now(UTC)
    with httpx.Client(base_url=stage.url) as client:
        for app, services in (("thinktank", ("llm", "embedding")), ("launchboard", ("speech",))):
            login = client.post(
                f"/v1/apps/{app}/auth/login",
                json={"tenant": stage.tenant, "email": stage.person, "password": PASSWORD},
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            events = [
                {
                    "service": service,
                    "cost_usd": "3.50" if app == "thinktank" else "1.50",
                    "occurred_at": (now - timedelta(days=day)).isoformat(),
                    "input_tokens": 1000 * (day + 1),
                }
                for day in range(10)
                for service in services
            ]
            if app == "thinktank":
                events.append({"service": "llm", "cost_usd": "800", "input_tokens": 9_000_000})
            recorded = client.post(
                f"/v1/apps/{app}/costs/events/batch", headers=auth, json={"events": events}
            )
            assert recorded.status_code == 201, recorded.text


def _this_months_percent() -> str:
    now = datetime.now(UTC)
    days = sum((now - timedelta(days=day)).month == now.month for day in range(10))
    return f"{(800 + Decimal('8.5') * days) / 10:.2f} %"


@pytest.fixture
def operator(stage) -> Iterator[httpx.Client]:
    client, _ = signed_in_client(stage)
    yield client
    client.close()


def test_the_page_shows_costs_budget_and_alerts(stage, operator) -> None:
    base = f"/admin/tenants/{stage.tenant}"
    assert f'href="{base}/ai-costs"' in operator.get(base).text
    page = operator.get(f"{base}/ai-costs")
    assert page.status_code == 200, page.text
    text = page.text
    assert "AI costs of" in text
    assert "$885.00 in 31 events" in text
    assert "thinktank · llm" in text
    assert "launchboard · speech" in text
    assert re.search(r"<td>80 %</td>\s*<td><span class=\"bad\">yes</span>", text)
    assert "ai.budget.threshold_crossed" in text
    assert "style=" not in text
    assert "<script" not in text
    assert "content-security-policy" in page.headers


def test_the_page_needs_an_operator(stage) -> None:
    with httpx.Client(base_url=stage.url) as anonymous:
        path = f"/admin/tenants/{stage.tenant}/ai-costs"
        browser = anonymous.get(path, headers={"accept": "text/html"})
        assert browser.status_code == 303
        assert browser.headers["location"] == "/admin/login"
        assert anonymous.get(path).status_code == 404


def test_an_unknown_tenant_is_not_found(operator) -> None:
    assert operator.get("/admin/tenants/no-such-tenant/ai-costs").status_code == 404


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with browser_page() as page:
        yield page


def test_from_the_tenant_page_to_its_ai_costs_in_a_browser(page: Page, stage) -> None:
    page.goto(f"{stage.url}/admin/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{stage.url}/admin/tenants/{stage.tenant}")
    page.get_by_role("link", name="AI costs").click()
    expect(page).to_have_url(re.compile(r"/ai-costs$"))
    expect(page.get_by_role("heading", name=re.compile("AI costs of"))).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile("Daily AI cost per app and service"))
    ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("AI cost per month"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("of the monthly budget spent"))).to_be_visible()
    expect(page.locator("#budget-percent")).to_have_text(_this_months_percent())
    expect(page.locator(".legend li")).to_have_count(3)
    # One column segment per day and series: 10 days, 3 series.
    expect(page.locator("svg[aria-labelledby=daily-title] rect.bar")).to_have_count(30)
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    expect(page.locator("#alerts tbody tr").first).to_contain_text("80 %")
    page.screenshot(path=str(ARTIFACTS / "20-ai-costs.png"), full_page=True)
