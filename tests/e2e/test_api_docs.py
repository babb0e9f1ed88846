"""The API's reference page renders in chromium under the site's
Content-Security-Policy, from the app's own static files (no CDN)."""

import pytest

pytestmark = [pytest.mark.browser]


def test_the_api_docs_page_renders_without_csp_violations(site, page):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(f"{site.url}/api/v1/docs")

    assert response is not None and response.status == 200
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Mailshot API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector('[data-path="/api/v1/clients/bulk"]')
    assert all(url.startswith(site.url) for url in requests), requests
