"""``hsctsim app`` in a real browser: Debian's headless Chromium driven by Selenium.

Covers the page loading, a slider moving the curves and the table, a download and
a message beside a control.  Skips, saying why, where Selenium, Chromium or its
driver is missing (``.ci/run`` installs Chromium; ``pip install '.[test]'``
Selenium).  Set ``HSCTSIM_APP_SCREENSHOTS=DIR`` to keep a screenshot of each view.
"""

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="Selenium is not installed (pip install '.[test]')")

from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from hsctsim.apps.app.server import make_server, url_of  # noqa: E402

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(BROWSER is None or DRIVER is None,
                       reason="no headless Chromium with its driver (Debian: apt-get "
                              "install chromium chromium-driver; .ci/run installs them)"),
    # one page, loaded by the first test and used by the next: one worker, in order
    pytest.mark.xdist_group("browser"),
]
# the first view compiles the numba kernels when the disk cache is cold
FIRST_VIEW_S = 240
VIEW_S = 60


@pytest.fixture(scope="module")
def page_url():
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    options = Options()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1500,1100"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def shot(driver, name):
    folder = os.environ.get("HSCTSIM_APP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def status(driver):
    return driver.find_element(By.ID, "status").text


def views(driver):
    """How many views the page has drawn."""
    return driver.execute_script("return document.body.dataset.views || '0'")


def wait_updated(driver, before="0", seconds=VIEW_S):
    """Until the page draws a view after the ``before``-th (or refuses); the status."""
    WebDriverWait(driver, seconds).until(
        lambda d: (status(d).startswith("updated") and views(d) != before)
        or status(d).startswith("not updated"))
    return status(driver)


def table(driver):
    head = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#landmarks thead th")]
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#landmarks tbody tr")]
    return head, rows


def value(head, rows, endpoint, day, column):
    row = next(r for r in rows if r[0] == endpoint and r[1] == str(day))
    return float(row[head.index(column)].split("%")[0]) / 100


def type_into(driver, box, text):
    """Type into a text box and leave it, as a person does: one change event."""
    box.clear()
    box.send_keys(text)
    driver.execute_script("arguments[0].blur();", box)


def whatif_box(driver, arm, key):
    return driver.find_element(By.CSS_SELECTOR, f'[data-control-text="{arm}:{key}"]')


def on_the_page(driver, url):
    """The page loaded (and ric's what-if open) in this worker's browser: the tests may
    run on different workers (pytest-xdist), each with its own browser."""
    if driver.current_url != url:
        driver.get(url)
        assert wait_updated(driver, seconds=FIRST_VIEW_S).startswith("updated in")
    driver.execute_script(
        "const d = document.querySelector('details[data-arm=\"ric\"]'); if (d) d.open = true;")


def test_the_page_loads_with_curves_and_table(browser, page_url):
    browser.get(page_url)
    assert wait_updated(browser, seconds=FIRST_VIEW_S).startswith("updated in")
    width = browser.execute_script("return document.getElementById('figure').naturalWidth")
    assert width > 500
    head, rows = table(browser)
    assert head == ["endpoint", "day", "mac", "ric"]
    # known answer: RIC relapses far more than MAC (48.3% against 13.5% by 18 months)
    assert value(head, rows, "Relapse", 730, "ric") > value(head, rows, "Relapse", 730,
                                                              "mac") + 0.2
    published = browser.find_element(By.ID, "published").text
    assert "48.3%" in published and "Scott et al." in published
    shot(browser, "app-arms")


def test_a_slider_moves_the_curve_and_the_table(browser, page_url):
    on_the_page(browser, page_url)
    before, figure = views(browser), browser.find_element(By.ID, "figure").get_attribute("src")
    # the range input as a hand drags it: its value, then the input event
    slider = browser.find_element(By.CSS_SELECTOR, '[data-control="ric:agvhd.incidence"]')
    browser.execute_script("arguments[0].value = 0.438; "
                           "arguments[0].dispatchEvent(new Event('input'));", slider)
    assert status(browser) == "updating…"
    assert wait_updated(browser, before).startswith("updated in")
    assert browser.find_element(By.ID, "figure").get_attribute("src") != figure
    head, rows = table(browser)
    assert head == ["endpoint", "day", "mac", "ric", "ric what-if"]
    assert abs(value(head, rows, "Acute GVHD grade II-IV", 100, "ric what-if") - 0.438) < 0.01
    assert abs(value(head, rows, "Acute GVHD grade II-IV", 100, "ric") - 0.323) < 0.01
    assert whatif_box(browser, "ric", "agvhd.incidence").get_attribute("value") == "0.438"
    commands = browser.find_element(By.ID, "commands").text
    assert "hsctsim run ric --set agvhd.incidence=0.438 -n 100000" in commands
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, "app-what-if")


def test_a_download_gives_the_table(browser, page_url, downloads):
    on_the_page(browser, page_url)
    if whatif_box(browser, "ric", "agvhd.incidence").get_attribute("value") != "0.438":
        # this worker's browser has not run the slider test: the same what-if
        before = views(browser)
        type_into(browser, whatif_box(browser, "ric", "agvhd.incidence"), "0.438")
        assert wait_updated(browser, before).startswith("updated in")
    browser.find_element(By.ID, "download-table-csv").click()
    deadline = time.monotonic() + VIEW_S
    while time.monotonic() < deadline:
        done = [p for p in downloads.glob("*.csv")]
        if done:
            break
        time.sleep(0.2)
    assert [p.name for p in done] == ["hsctsim-mac-ric.csv"]
    text = done[0].read_text()
    assert text.startswith("table,arm,cohort,what_if,endpoint,day,estimate")
    assert "ric what-if,agvhd.incidence=0.438,agvhd,100," in text


def test_a_value_out_of_range_gets_a_message_beside_its_slider(browser, page_url):
    on_the_page(browser, page_url)
    box = whatif_box(browser, "ric", "agvhd.incidence")
    type_into(browser, box, "0.9")
    WebDriverWait(browser, VIEW_S).until(lambda d: status(d).startswith("not updated"))
    message = browser.find_element(By.CSS_SELECTOR,
                                   '[data-error-for="ric:agvhd.incidence"]').text
    assert message.startswith("0.9 is outside the reported range 0.208 to 0.438")
    assert "invalid" in box.get_attribute("class")
    assert "Traceback" not in browser.page_source
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    shot(browser, "app-error")
    # back in range: the message goes, the page updates again
    before = views(browser)
    type_into(browser, box, "0.4")
    assert wait_updated(browser, before).startswith("updated in")
    assert browser.find_element(By.CSS_SELECTOR,
                                '[data-error-for="ric:agvhd.incidence"]').text == ""


def test_the_pilot_view_follows_its_size(browser, page_url):
    on_the_page(browser, page_url)
    before = views(browser)
    type_into(browser, browser.find_element(By.ID, "pilot"), "10")
    assert wait_updated(browser, before).startswith("updated in")
    assert browser.find_element(By.ID, "pilot-heading").text == (
        "What a pilot of 10 patients would see")
    width = browser.execute_script(
        "return document.getElementById('pilot-figure').naturalWidth")
    assert width > 300
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#pilot-table tbody tr")]
    # known answer: RIC relapse about 50% by two years, so about 5 of 10
    relapse = next(r for r in rows if r[0] == "relapse")
    assert relapse[2].startswith(("4 (", "5 (", "6 ("))
    commands = browser.find_element(By.ID, "commands").text
    # the what-if the earlier tests left, if this worker's browser ran them
    assert re.search(r"hsctsim trial ric (--set agvhd\.incidence=0\.\d+ )?--size 10 "
                     r"--trials 2000", commands), commands
    browser.execute_script(
        "document.getElementById('pilot-heading').scrollIntoView({block: 'start'})")
    shot(browser, "app-pilot")


def test_the_cost_effectiveness_view_opens_on_demand(browser, page_url):
    on_the_page(browser, page_url)
    assert browser.find_element(By.ID, "cea-body").get_attribute("hidden") == "true"
    browser.find_element(By.CSS_SELECTOR, "#cea-section summary").click()
    WebDriverWait(browser, VIEW_S).until(
        lambda d: d.find_element(By.ID, "cea-status").text.startswith("USD"))
    comparisons = browser.find_element(By.ID, "cea-comparisons").text
    assert "ric vs mac" in comparisons and "ric what-if vs ric" in comparisons
    width = browser.execute_script("return document.getElementById('cea-figure').naturalWidth")
    assert width > 300
    assert browser.find_element(By.ID, "download-cea-csv").get_attribute("href")
    assert "updating" not in browser.find_element(By.ID, "cea-body").get_attribute("class")
    browser.execute_script(
        "document.getElementById('cea-section').scrollIntoView({block: 'start'})")
    time.sleep(0.3)  # the figure decoded and drawn
    shot(browser, "app-cea")
