"""End-to-end: the demo report opens in headless Chromium, in English and Swedish.

Every page reached from the index loads over HTTP (a local server on
127.0.0.1), every image has a non-zero natural width, the browser logs no
SEVERE console message, and every link on the index resolves.  Skipped, with
the reason, only when Chromium or chromedriver is not installed (Debian
packages ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

_HAVE_BROWSER = CHROMIUM.exists() and CHROMEDRIVER.exists()
# CI sets KUREVAL_REQUIRE_BROWSER=1 (.ci/run installs the packages): there a missing browser fails.
_REQUIRED = os.environ.get("KUREVAL_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not _HAVE_BROWSER and not _REQUIRED,
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (apt install chromium chromium-driver)",
    ),
]


def test_browser_is_installed_when_required():
    assert _HAVE_BROWSER, (
        "KUREVAL_REQUIRE_BROWSER=1 but /usr/bin/chromium or /usr/bin/chromedriver is missing"
    )


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # the browser may drop a connection it no longer needs (BrokenPipe): not a report error
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module", params=["en", "sv"])
def served(request) -> Iterator[tuple[str, Path]]:
    """The demo report in one language, served on 127.0.0.1 at a free port."""
    from test_report_build import demo_report

    index = demo_report(request.param)
    handler = functools.partial(_QuietHandler, directory=str(index.parent))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", index
    finally:
        server.shutdown()
        server.server_close()


def _severe(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_every_link_on_the_index_resolves(driver, served):
    base, _ = served
    driver.get(base + "index.html")
    hrefs = [a.get_attribute("href") for a in driver.find_elements("css selector", "a[href]")]
    assert hrefs, "the index has no links"
    for href in hrefs:
        assert href.startswith(base), f"link leaves the report: {href}"
        with urllib.request.urlopen(href, timeout=30) as resp:
            assert resp.status == 200, href


def test_every_page_loads_with_images_and_no_console_errors(driver, served):
    base, index = served
    driver.get(base + "index.html")
    assert _severe(driver) == []
    lang = index.read_text("utf-8").split('<html lang="', 1)[1][:2]
    assert driver.find_element("css selector", "html").get_attribute("lang") == lang
    pages = [
        a.get_attribute("href") for a in driver.find_elements("css selector", "ol.kv-sections a")
    ]
    assert pages
    n_images = 0
    for url in pages:
        driver.get(url)
        assert driver.execute_script("return document.readyState") == "complete"
        assert driver.title.strip(), f"{url} has no title"
        assert driver.find_elements("css selector", "h1"), f"{url} has no heading"
        widths = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0);"
        )
        assert all(w > 0 for w in widths), f"{url}: an image did not load ({widths})"
        n_images += len(widths)
        assert _severe(driver) == [], url
    assert n_images >= 1  # the overview has at least one figure
