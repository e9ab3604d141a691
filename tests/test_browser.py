"""The HTML report in a real browser: headless Chromium driven by Selenium and Debian's chromedriver.

What a person sees: the promise summary on the first screen, filters that
hide what does not match and say how many results are shown, a print layout
with every piece of evidence open, a page that still works without
JavaScript, and no console error or network request of any kind.

The browser and its driver are Debian packages (``chromium``,
``chromium-driver``), installed by the harness when missing; Selenium is
pointed at both, so Selenium Manager never downloads anything. The
screenshots of the example run's first screen are saved to
``reports/examples/report-first-screen-{sv,en}.png``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from selenium import webdriver  # a missing selenium fails the module (pip install -e '.[test]'), never skips it
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from harness import ensure_packages

from auditor.report.html import render_html
from auditor.report.i18n import Translator


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "reports" / "examples"
WIDTH, HEIGHT = 1280, 900


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLES / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the module, quit (with its chromedriver) at the end."""
    ensure_packages("chromium", "chromium-driver", "fonts-dejavu-core", programs=["chromium", "chromedriver"])
    profile = tempfile.mkdtemp(prefix="auditor-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
        # A fixed viewport, whatever the window decorations of this Chromium build: screenshots are WIDTH×HEIGHT.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        if driver is not None:
            driver.quit()  # ends chromedriver and every chromium process it started
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: webdriver.Chrome, path: Path) -> str:
    """Load ``path`` with clean logs and media; returns its file:// URL."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    url = path.resolve().as_uri()
    driver.get(url)
    return url


def write_report(tmp_path: Path, lang: str, doc: dict[str, Any] | None = None) -> Path:
    path = tmp_path / f"report-{lang}.html"
    path.write_text(render_html(doc or EXAMPLE.build(lang)), encoding="utf-8")
    return path


def console_errors(driver: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requests_made(driver: webdriver.Chrome) -> list[str]:
    """The URL of every request the page started (from the DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def visible_findings(driver: webdriver.Chrome) -> list[dict[str, str]]:
    """Each shown finding row: its family (its control's section names it), status (its class), target and index."""
    return [
        {
            "family": el.find_element(By.XPATH, "ancestor::section[contains(@class, 'control')]").get_attribute("data-family"),
            "status": re.search(r"\bs-(\w+)", el.get_attribute("class"))[1],
            "target": el.get_attribute("data-target"),
            "finding": el.get_attribute("data-finding"),
        }
        for el in driver.find_elements(By.CSS_SELECTOR, ".finding[data-finding]") if el.is_displayed()
    ]


def rect(driver: webdriver.Chrome, selector: str) -> dict[str, float]:
    return driver.execute_script("var r = document.querySelector(arguments[0]).getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: r.height};", selector)


# --- the first screen -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_promise_summary_fills_the_first_screen(browser: webdriver.Chrome, tmp_path: Path, lang: str) -> None:
    open_page(browser, write_report(tmp_path, lang))
    t = Translator(lang)
    height = browser.execute_script("return window.innerHeight")
    assert (browser.execute_script("return [window.innerWidth, window.scrollY]"), height) == ([WIDTH, 0], HEIGHT)
    heading = browser.find_element(By.CSS_SELECTOR, "#answer h2")
    assert heading.is_displayed() and heading.text == t("answer.heading")
    cards = browser.find_elements(By.CSS_SELECTOR, "#answer .card")
    doc = EXAMPLE.build(lang)
    assert len(cards) == len(doc["promises"]) == 5
    for card, promise in zip(cards, doc["promises"]):
        assert card.is_displayed()
        box = browser.execute_script("var r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom];", card)
        assert 0 <= box[0] and box[1] <= height, f"promise {promise['id']} is not on the first screen: {box}"
        quote = card.find_element(By.TAG_NAME, "blockquote")
        assert quote.get_attribute("lang") == "sv" and " ".join(quote.text.split()) == promise["quote"]
    verdicts = [c.find_element(By.CSS_SELECTOR, ".verdict-box").text.splitlines()[0] for c in cards]
    assert verdicts == [f"{sym} {t(f'verdict.{v}')}" for sym, v in (("✗", "fail"), ("✗", "fail"), ("?", "error"), ("✓", "pass"), ("○", "none"))]
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    EXAMPLES.mkdir(exist_ok=True)
    browser.save_screenshot(str(EXAMPLES / f"report-first-screen-{lang}.png"))
    assert console_errors(browser) == []


# --- filters --------------------------------------------------------------------------------------


def test_filters_hide_what_does_not_match_and_count_what_is_shown(browser: webdriver.Chrome, tmp_path: Path) -> None:
    doc = EXAMPLE.build("sv")
    open_page(browser, write_report(tmp_path, "sv", doc))
    t = Translator("sv")
    bar = browser.find_element(By.ID, "filters")
    assert bar.is_displayed()
    shown = browser.find_element(By.ID, "shown")
    total = len(doc["findings"])
    assert shown.text == t("filters.shown", shown=total, total=total)
    assert len({f["finding"] for f in visible_findings(browser)}) == total

    Select(browser.find_element(By.ID, "filter-family")).select_by_value("data_location")
    expected = [f for f in doc["findings"] if f["family"] == "data_location"]
    visible = visible_findings(browser)
    assert visible and {f["family"] for f in visible} == {"data_location"}
    assert len(visible) == len(expected) == 5
    assert shown.text == t("filters.shown", shown=len(expected), total=total) == "5 av 24 resultat visas"
    promises = browser.find_elements(By.CSS_SELECTOR, "article.promise")
    assert [p.is_displayed() for p in promises] == [False, True, False, False, False]  # only the EU promise has data_location controls
    titles = [c.find_element(By.TAG_NAME, "h4").text for c in browser.find_elements(By.CSS_SELECTOR, "section.control") if c.is_displayed()]
    assert [title.rsplit(" ", 1)[1] for title in titles] == ["DATA-DECLARED-LOCATION", "DATA-PROCESSOR-LOCATION"]

    Select(browser.find_element(By.ID, "filter-status")).select_by_value("fail")
    visible = visible_findings(browser)
    assert [(f["status"], f["target"]) for f in visible] == [("fail", "processor:google"), ("fail", "processor:facebook")]
    assert shown.text == "2 av 24 resultat visas"

    Select(browser.find_element(By.ID, "filter-family")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("fail error")  # "problems"
    visible = visible_findings(browser)
    problems = [f for f in doc["findings"] if f["status"] in ("fail", "error")]
    assert {f["status"] for f in visible} == {"fail", "error"} and len(visible) == len(problems) == 5

    Select(browser.find_element(By.ID, "filter-target")).select_by_value("mail:mx1")
    assert visible_findings(browser) == []
    nothing = browser.find_element(By.ID, "nothing")
    assert nothing.is_displayed() and nothing.text == t("filters.nothing")
    assert shown.text == "0 av 24 resultat visas"

    browser.find_element(By.ID, "filter-reset").click()
    assert len(visible_findings(browser)) == total and not nothing.is_displayed()
    assert all(p.is_displayed() for p in browser.find_elements(By.CSS_SELECTOR, "article.promise"))
    assert shown.text == f"{total} av {total} resultat visas"
    assert console_errors(browser) == []


def test_expand_and_collapse_all_evidence(browser: webdriver.Chrome, tmp_path: Path) -> None:
    open_page(browser, write_report(tmp_path, "en"))
    count_open = "return Array.prototype.filter.call(document.querySelectorAll('details.tech'), function (d) { return d.open; }).length"
    total = len(browser.find_elements(By.CSS_SELECTOR, "details.tech"))  # a problem's technical details and the observations it rests on
    assert total > 0 and browser.execute_script(count_open) == 0  # closed: the row already says status, target and message
    browser.find_element(By.ID, "expand-all").click()
    assert browser.execute_script(count_open) == total
    browser.find_element(By.ID, "collapse-all").click()
    assert browser.execute_script(count_open) == 0


# --- print, no JS, no network ------------------------------------------------------------------------


def test_print_layout_hides_the_toolbar_and_opens_every_detail(browser: webdriver.Chrome, tmp_path: Path) -> None:
    open_page(browser, write_report(tmp_path, "sv"))
    closed = browser.execute_script("return document.querySelectorAll('details:not([open])').length")
    assert closed > 0
    excerpt_visible = "return document.querySelector('details:not([open]) pre').checkVisibility()"
    assert browser.execute_script(excerpt_visible) is False
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.ID, "filters").is_displayed()
        assert browser.execute_script(excerpt_visible) is True  # closed <details> print their content
        colour = browser.execute_script("return getComputedStyle(document.querySelector('.card.v-fail')).backgroundColor")
        assert colour == "rgb(255, 255, 255)"
        assert browser.execute_script("return getComputedStyle(document.querySelector('.finding')).breakInside") == "avoid"
        assert browser.execute_script("return getComputedStyle(document.getElementById('answer')).breakAfter") == "page"
        # A4 at 96 dpi is 1123 px tall; with 1.5 cm margins the first page holds ~1010 px: the whole summary fits.
        assert rect(browser, "#answer")["bottom"] < 1010
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
    assert len(pdf["data"]) > 10_000


def test_page_is_complete_without_javascript(browser: webdriver.Chrome, tmp_path: Path) -> None:
    path = write_report(tmp_path, "sv")
    open_page(browser, path)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(path.resolve().as_uri())
        assert not browser.find_element(By.ID, "filters").is_displayed()  # no control that would do nothing
        assert len(visible_findings(browser)) == len(EXAMPLE.build("sv")["findings"])
        assert browser.find_element(By.CSS_SELECTOR, "#answer .card").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_no_console_errors_and_no_network_requests(browser: webdriver.Chrome, tmp_path: Path, lang: str) -> None:
    url = open_page(browser, write_report(tmp_path, lang))
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("fail")
    browser.find_element(By.ID, "expand-all").click()
    browser.execute_script("window.dispatchEvent(new Event('beforeprint'))")
    browser.find_element(By.ID, "filter-reset").click()
    assert console_errors(browser) == []
    assert requests_made(browser) == [url]


def test_the_checks_above_can_fail(browser: webdriver.Chrome, tmp_path: Path) -> None:
    """A page that logs an error and loads a resource is caught by the same two detectors."""
    (tmp_path / "pixel.txt").write_text("x")
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>bad</p><iframe src="pixel.txt"></iframe><script>console.error("boom");</script></body></html>')
    url = open_page(browser, bad)
    browser.find_element(By.TAG_NAME, "iframe")
    assert any("boom" in m for m in console_errors(browser))
    assert (tmp_path / "pixel.txt").resolve().as_uri() in requests_made(browser)[1:]
    assert url
