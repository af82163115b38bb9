"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), in headless Chromium on the real API
with every host but the test server blocked: both render from the files in api/web/static/vendor/ alone, under
the pages' Content-Security-Policy (no CDN, no inline script, nothing refused by the policy)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from api.core.headers import CONTENT_SECURITY_POLICY, REDOC_CONTENT_SECURITY_POLICY
from tests.conftest import new_context

pytestmark = pytest.mark.browser
TITLE = "智电 Zhidian API"
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture
def offline(browser):
    """A desktop browser that obeys the pages' CSP and reaches no host but the test server (as offline).

    Requests to any other host are aborted and kept in context.outside."""
    context = new_context(browser, strict_csp=True, viewport={"width": 1280, "height": 900})
    context.outside = []  # type: ignore[attr-defined]

    def only_the_test_server(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            context.outside.append(route.request.url)  # type: ignore[attr-defined]
            route.abort()

    context.route("**/*", only_the_test_server)
    yield context
    context.close()


def open_docs(context, url: str):
    """Open a page, keeping every request it makes and every console error and script error it has."""
    page = context.new_page()
    page.requests, page.problems = [], []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(msg.text))
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.response = page.goto(url)  # type: ignore[attr-defined]
    return page


def elsewhere(page) -> list[str]:
    """The page's requests to a host other than the test server (blob: and data: URLs are the page's own)."""
    return [url for url in page.requests
            if urlsplit(url).scheme not in ("blob", "data") and urlsplit(url).hostname != "127.0.0.1"]


def test_the_pages_name_only_files_of_this_server(api_server):
    """No CDN, no font service, no inline script in what the server sends; every file it names is served."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = httpx.get(api_server.url + path, timeout=20)
        assert response.status_code == 200, path
        assert "://" not in response.text, path  # every URL is a path on this server
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), f"inline script in {path}"
        for name in re.findall(r'(?:src|href)="(/static/[^"?]+)', response.text):
            asset = httpx.get(api_server.url + name, timeout=20)
            assert asset.status_code == 200 and asset.content, name
    def policy(path: str) -> str:
        return httpx.get(api_server.url + path, timeout=20).headers["content-security-policy"]

    assert policy("/docs") == CONTENT_SECURITY_POLICY
    assert policy("/redoc") == REDOC_CONTENT_SECURITY_POLICY
    assert policy("/") == CONTENT_SECURITY_POLICY  # the other pages keep the strict policy


def test_swagger_ui_renders_the_api_offline(offline, api_server, screenshots):
    spec = httpx.get(api_server.url + "/openapi.json", timeout=20).json()
    operations = sum(1 for item in spec["paths"].values() for method in item if method in METHODS)

    page = open_docs(offline, api_server.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(TITLE, timeout=20_000)
    tickets = page.locator(".opblock-get:has(.opblock-summary-path[data-path='/api/tickets'])")
    expect(tickets).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(operations)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / "api-docs.png"))

    tickets.locator(".opblock-summary").click()  # the operation opens: its parameters and "Try it out"
    expect(tickets.locator(".opblock-body")).to_be_visible()
    expect(tickets.locator(".parameters")).to_contain_text("status")
    expect(tickets.get_by_role("button", name="Try it out")).to_be_visible()

    page.wait_for_load_state("networkidle")
    assert page.response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert offline.outside == [] and elsewhere(page) == []
    assert page.problems == []


def test_redoc_renders_the_api_offline_and_its_search_works(offline, api_server, screenshots):
    page = open_docs(offline, api_server.url + "/redoc")
    expect(page.locator(".api-content h1").first).to_contain_text(TITLE, timeout=20_000)
    expect(page.locator(".menu-content")).to_contain_text("tickets")
    expect(page.locator(".api-content")).to_contain_text("/api/tickets")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / "api-redoc.png"))

    # ReDoc searches in a web worker from a blob: URL, which /redoc's policy (and only it) allows
    page.get_by_placeholder("Search...").fill("tickets")
    # the worker indexes the whole API (~300 operations) first: seconds on a busy 2-core machine
    expect(page.get_by_role("search").get_by_role("menuitem", name="List Tickets")).to_be_visible(timeout=30_000)

    page.wait_for_load_state("networkidle")
    assert page.response.headers["content-security-policy"] == REDOC_CONTENT_SECURITY_POLICY
    assert offline.outside == [] and elsewhere(page) == []
    assert page.problems == []
