"""Every page is served with a strict policy (own scripts only, no framing) and still works under it."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from api.demo.staff import DEMO_STAFF
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}
PAGES = ["/", "/agent", "/crew", "/supervisor", "/dispatch", "/forecast"]


def test_pages_and_api_answers_carry_the_security_headers(api_server):
    # /audit and /charging are exercised under the policy by their own page tests
    for path in [*PAGES, "/audit", "/charging", "/docs", "/redoc", "/healthz", "/api/kb/status", "/static/chat.js"]:
        headers = httpx.get(api_server.url + path, timeout=20).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp, path
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # plain http here; sent when PUBLIC_BASE_URL is https


@pytest.fixture
def strict(browser):
    """A browser that obeys the pages' Content-Security-Policy (the other tests bypass it)."""
    context = new_context(browser, strict_csp=True, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.mark.parametrize("path", PAGES[1:])
def test_staff_pages_work_under_the_policy(strict, api_server, path):
    violations = []
    page = open_staff_page(strict, api_server.url, path)
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    sign_in(page, "admin", PASSWORDS["admin"])
    # Not "networkidle": the agent console and the dispatch screen keep polling and sockets open.
    expect(page.locator("#login-view")).to_be_hidden(timeout=15_000)
    expect(page.locator("#who")).not_to_have_text("请先登录")
    page.wait_for_timeout(1_000)  # let the signed-in view load its data under the policy
    assert violations == [] and page.errors == []


def test_the_chat_page_works_under_the_policy(strict, api_server):
    violations = []
    page = strict.new_page()
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(api_server.url + "/")
    page.wait_for_load_state("networkidle")
    assert violations == [] and errors == []
