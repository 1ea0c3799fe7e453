"""The review page in a real headless Chromium (Debian's `chromium` + `chromium-driver`),
driven by Selenium: keyboard shortcuts write ratings and blind preferences to the store."""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest

from ftp.plugins.review import data as review_data
from ftp.plugins.review.server import ReviewApp, make_server, url_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver: "
           "apt-get install -y chromium chromium-driver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--disable-default-apps", "--disable-extensions")


@pytest.fixture
def browser(tmp_path, monkeypatch):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_AVOID_STATS", "true")  # Selenium Manager is never needed here
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def served(project):
    runs = []
    for name, answer in (("base", "I cannot help."), ("tuned", '{"category": "billing"}')):
        with project.run("eval", name=name) as run:
            project.store.add_samples(run.id, [
                {"task": "testset", "doc_id": str(i), "prompt": f"Email number {i}",
                 "output": f"{answer} #{i}", "reference": '{"category": "billing"}'}
                for i in range(3)])
        runs.append(str(run.id))
    review = review_data.load_review_set(project.store, runs, seed=5)
    app = ReviewApp(project.store.path, review, "carol")
    httpd = make_server(app)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield app, url_for(httpd, app), project
    httpd.shutdown()
    httpd.server_close()


def wait_for(condition, timeout: float = 10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(None, timeout, poll_frequency=0.05).until(lambda _: condition())


def press(driver, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(keys).perform()


def test_keyboard_rating_and_blind_compare_in_chromium(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    app, url, project = served
    ratings = project.store.db["ratings"]
    browser.get(url)
    wait_for(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    first = app.review.samples[0]
    assert browser.find_element(By.ID, "output").text == first["output"]

    press(browser, "p")  # pass, then the page moves to the next sample
    wait_for(lambda: ratings.count == 1)
    press(browser, "4")
    wait_for(lambda: ratings.count == 2)
    press(browser, "k")  # back to the second sample: tag it and add a note
    press(browser, "t")
    browser.switch_to.active_element.send_keys("format, too long" + Keys.ENTER)
    wait_for(lambda: any("too long" in (row["tags"] or "") for row in ratings.rows))
    press(browser, "n")
    browser.switch_to.active_element.send_keys("close but verbose" + Keys.ENTER)
    wait_for(lambda: any(row["note"] for row in ratings.rows))

    rows = {row["sample_id"]: row for row in ratings.rows}
    assert rows[first["id"]]["passed"] == 1 and rows[first["id"]]["reviewer"] == "carol"
    second = rows[app.review.samples[1]["id"]]
    assert second["score"] == 4.0 and second["note"] == "close but verbose"
    assert json.loads(second["tags"]) == ["format", "too long"]

    press(browser, "c")  # compare view: A is better, then B, then a tie
    pair_left = browser.find_element(By.ID, "pair-left").text
    assert pair_left == app.review.pairs[0].left["output"]
    for key in ("a", "b", "="):
        press(browser, key)
    preferences = project.store.db["preferences"]
    wait_for(lambda: preferences.count == 3)
    chosen = [row["chosen"] for row in preferences.rows_where(order_by="id")]
    assert chosen == ["a", "b", "tie"]
    assert "All pairs done" in browser.find_element(By.ID, "pair-counter").text
    assert os.environ.get("SE_AVOID_STATS") == "true"


def test_wrong_token_page_is_forbidden_in_chromium(browser, served):
    from selenium.webdriver.common.by import By

    _, url, _ = served
    browser.get(url.split("?")[0] + "?token=guess")
    assert "forbidden" in browser.find_element(By.TAG_NAME, "body").text
