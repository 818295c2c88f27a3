"""The HTML report in a real browser: headless Chromium from the distribution, driven by Selenium.

No browser is downloaded: the test uses the system's ``chromium`` and ``chromedriver`` (Debian's
``chromium`` and ``chromium-driver`` packages, which ``.ci/run`` installs) and skips, with one
line saying why, where they are missing. ``POSER_DOCS_SCREENSHOT=1`` also refreshes the
screenshot the docs show (docs/img/report-viewer.png).
"""

import os
import shutil
from pathlib import Path

import pytest

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
DRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs selenium
    webdriver = None

pytestmark = pytest.mark.skipif(
    webdriver is None or BROWSER is None or DRIVER is None,
    reason="no headless browser: install Debian's chromium and chromium-driver (.ci/run does) and selenium (the test extra)",
)
DOCS_SHOT = Path(__file__).resolve().parents[3] / "docs" / "img" / "report-viewer.png"


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try the network
    opts = webdriver.ChromeOptions()
    opts.binary_location = BROWSER
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1800,1700",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _pane(driver, which="a"):
    return driver.find_element(By.ID, f"pane-{which}")


def test_table_viewer_stepping_filters_and_console(browser, run_dir, tmp_path):
    d = browser
    d.get((run_dir / "report" / "index.html").as_uri())
    wait = WebDriverWait(d, 15)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pane-a .frame"))

    # The results table: one row per agent, every metric with its interval.
    rows = d.find_elements(By.CSS_SELECTOR, "#results-table tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows[1:]] == ["heuristic", "random"]
    assert rows[1].text.count("[") >= 6
    assert d.find_elements(By.CSS_SELECTOR, "#figure-list img")

    # Pick a heuristic episode whose checks all passed: its start and its end must differ.
    Select(d.find_element(By.ID, "filter-agent")).select_by_value("heuristic")
    Select(d.find_element(By.ID, "filter-outcome")).select_by_value("passed")
    listed = d.find_elements(By.CSS_SELECTOR, "#episode-table tr.row")
    assert listed and all(r.get_attribute("data-agent") == "heuristic" for r in listed)
    listed[0].click()
    # Side by side: the same task and reset seed, by the other agent.
    assert Select(d.find_element(By.ID, "compare-agent")).first_selected_option.text == "random"
    assert "random on" in _pane(d, "b").find_element(By.TAG_NAME, "h4").text
    assert (
        _pane(d, "a").find_element(By.TAG_NAME, "h4").text.split(" on ")[1]
        == _pane(d, "b").find_element(By.TAG_NAME, "h4").text.split(" on ")[1]
    )

    def snapshot():
        pane = _pane(d)
        frame = pane.find_element(By.CSS_SELECTOR, ".frame")
        return (
            frame.get_attribute("data-step"),
            frame.screenshot_as_png,
            pane.find_element(By.CSS_SELECTOR, "table.verdicts").text,
        )

    step0, image0, verdicts0 = snapshot()
    assert step0 == "0" and "no" in verdicts0.split()
    n = int(_pane(d).find_element(By.CSS_SELECTOR, ".step-label").text.split("/")[1])
    images = {image0}
    for k in range(1, n + 1):
        _pane(d).find_element(By.CSS_SELECTOR, "button.next").click()
        step, image, verdicts = snapshot()
        assert step == str(k)
        images.add(image)
    assert len(images) >= 2, "stepping never changed the picture"
    assert verdicts != verdicts0 and "no" not in [
        c.text for c in _pane(d).find_elements(By.CSS_SELECTOR, "table.verdicts td:nth-child(3)")
    ]
    assert "all checks passed" in _pane(d).find_element(By.CSS_SELECTOR, ".judgement").text
    assert _pane(d).find_element(By.CSS_SELECTOR, "button.next").get_attribute("disabled")

    # Filters: a category, then the failures.
    Select(d.find_element(By.ID, "filter-agent")).select_by_value("")
    Select(d.find_element(By.ID, "filter-outcome")).select_by_value("failed")
    for r in d.find_elements(By.CSS_SELECTOR, "#episode-table tr.row"):
        assert r.find_elements(By.TAG_NAME, "td")[5].text == "0"
    Select(d.find_element(By.ID, "filter-outcome")).select_by_value("")
    category = Select(d.find_element(By.ID, "filter-category")).options[1].text
    Select(d.find_element(By.ID, "filter-category")).select_by_visible_text(category)
    assert {
        r.find_elements(By.TAG_NAME, "td")[2].text for r in d.find_elements(By.CSS_SELECTOR, "#episode-table tr.row")
    } == {category}

    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors

    # The docs' picture: the longest heuristic episode beside random's, two steps in.
    Select(d.find_element(By.ID, "filter-category")).select_by_value("")
    Select(d.find_element(By.ID, "filter-agent")).select_by_value("heuristic")
    rows = d.find_elements(By.CSS_SELECTOR, "#episode-table tr.row")
    max(rows, key=lambda r: int(r.find_elements(By.TAG_NAME, "td")[7].text)).click()
    for _ in range(2):
        d.find_element(By.ID, "step-both-next").click()
    d.execute_script("document.getElementById('episodes').scrollIntoView()")
    d.find_element(By.ID, "episodes").screenshot(str(tmp_path / "report-viewer.png"))
    assert (tmp_path / "report-viewer.png").stat().st_size > 10_000
    if os.environ.get("POSER_DOCS_SCREENSHOT") == "1":
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "report-viewer.png", DOCS_SHOT)


def test_spans_not_understood_are_shown_only_when_reported(browser, run_dir, tmp_path):
    from poser_agents.report import read_traces, write_html_report, write_traces

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    name = next((run / "traces").glob("*heuristic*.jsonl"))
    agent, episodes = read_traces(name)
    episodes[0]["not_understood"] = {"spans": ["made of glass"], "coverage": 0.8}
    write_traces(name, agent, episodes)
    browser.get(write_html_report(run).as_uri())
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pane-a .frame"))
    Select(browser.find_element(By.ID, "filter-agent")).select_by_value("heuristic")
    rows = browser.find_elements(By.CSS_SELECTOR, "#episode-table tr.row")
    rows[0].click()
    unread = _pane(browser).find_element(By.CSS_SELECTOR, ".unread").text
    assert "made of glass" in unread and "coverage 0.80" in unread
    assert rows[0].find_elements(By.TAG_NAME, "td")[5].text.endswith("*")
    browser.find_elements(By.CSS_SELECTOR, "#episode-table tr.row")[1].click()
    assert not _pane(browser).find_elements(By.CSS_SELECTOR, ".unread")
    assert not [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
