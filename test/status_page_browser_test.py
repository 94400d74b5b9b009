"""The status page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
installed by scripts/services/start-chromium.sh), driven by Selenium: sign in through the
form, watch a job appear running and finish, a failed job's reason, the page refreshing by
itself without a reload; no console errors; the token in no URL the browser ever loaded.

Screenshots (laptop and phone sizes) are saved in the test's tmp directory;
``LWR_UPDATE_STATUS_SCREENSHOT=1`` also copies the laptop one to docs/_static/status_page.png.
"""
import importlib.util
import json
import os
import shutil
import time

import pytest

from test.support.server import REPO_ROOT
from test.support.services import require

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

CHROMIUM = os.environ.get("LWR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LWR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
TOKEN = "browser-T0ken-9f3e1"
FAILING_STAGING = json.dumps({"setup": [{"name": "absent.dat", "type": "input", "action": {
    "action_type": "remote_transfer", "path": "absent.dat", "url": "http://127.0.0.1:9/absent.dat"}}]})


@pytest.fixture
def browser():
    present = os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
    require(present, "chromium/chromedriver not installed (scripts/services/start-chromium.sh)")
    require(importlib.util.find_spec("selenium") is not None, "selenium not installed (dev-requirements.txt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, what, timeout=45):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d), message=what)


def _row_cells(driver, table_id, job_id):
    """The cells' texts of ``job_id``'s row in table ``table_id`` ([] when absent), read in one
    script: the page's refresh may replace the table between two WebDriver calls."""
    rows = driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#' + arguments[0] + ' tbody tr'),"
        " function (tr) { return Array.prototype.map.call(tr.cells, function (td) { return td.textContent; }); });",
        table_id)
    return next((row for row in rows if row and row[0] == job_id), [])


def _row_text(driver, table_id, job_id):
    return " ".join(_row_cells(driver, table_id, job_id))


def _start_job(server, job_id, command, **params):
    assert server.request("POST", "jobs", {"job_id": job_id, "tool_id": "tool_" + job_id})[0] == 200
    params["command_line"] = command
    code, body = server.request("POST", "jobs/%s/submit" % job_id, params)
    assert code == 200, body


def test_status_page_in_a_real_browser(browser, lwr_server_factory, tmp_path):
    from selenium.webdriver.common.by import By

    server = lwr_server_factory(app_conf={"private_key": TOKEN, "retry_max_attempts": "1"})  # fail at once
    browser.get(server.url + "status")
    password = browser.find_element(By.ID, "private_key")  # the sign-in form, not the page
    assert not browser.find_elements(By.ID, "managers")
    password.send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "managers"), "the status page after sign-in")
    assert "_default_" in browser.find_element(By.ID, "managers").text
    browser.execute_script("window.lwrNotReloaded = 42;")
    first_update = browser.find_element(By.ID, "updated").text

    _start_job(server, "b-run", "sleep 6; exit 4")
    _wait(browser, lambda d: "running" in _row_text(d, "active", "b-run"), "b-run listed running")
    assert "tool_b-run" in _row_text(browser, "active", "b-run")
    browser.save_screenshot(str(tmp_path / "status-running.png"))
    _wait(browser, lambda d: "complete" in _row_text(d, "recent", "b-run"), "b-run listed complete", timeout=60)
    assert _row_cells(browser, "recent", "b-run")[5] == "4"  # its exit code
    assert not _row_text(browser, "active", "b-run")

    _start_job(server, "b-fail", "true", remote_staging=FAILING_STAGING)
    _wait(browser, lambda d: "failed" in _row_text(d, "recent", "b-fail"), "b-fail listed failed")
    assert "absent.dat" in _row_text(browser, "recent", "b-fail")  # its failure reason

    # all of that arrived by the page's own refresh, never a reload
    assert browser.execute_script("return window.lwrNotReloaded;") == 42
    assert browser.find_element(By.ID, "updated").text != first_update
    assert len(browser.execute_script("return performance.getEntriesByType('navigation');")) == 1

    browser.save_screenshot(str(tmp_path / "status-laptop.png"))
    browser.set_window_size(390, 844)  # a phone
    time.sleep(0.5)
    browser.save_screenshot(str(tmp_path / "status-phone.png"))
    width = browser.execute_script("return document.documentElement.scrollWidth;")
    assert width <= browser.execute_script("return window.innerWidth;") + 1, "the page scrolls sideways on a phone"
    if os.environ.get("LWR_UPDATE_STATUS_SCREENSHOT"):
        shutil.copy(str(tmp_path / "status-laptop.png"), os.path.join(REPO_ROOT, "docs", "_static", "status_page.png"))

    urls = browser.execute_script(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(function (e) { return e.name; });")
    urls.append(browser.current_url)
    assert any(url.endswith("/status.json") for url in urls) and any(url.endswith("/status.js") for url in urls)
    assert not [url for url in urls if TOKEN in url or "private_key" in url], urls

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors

    # sign out: the cookie is gone, the next visit shows the form again
    browser.set_window_size(1280, 900)
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "private_key"), "the sign-in form after sign-out")
    assert not browser.get_cookies()
