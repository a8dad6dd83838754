"""A real browser for the console's tests: Debian's Chromium, driven through its ChromeDriver by Selenium.

CI installs the ``chromium`` and ``chromium-driver`` packages (``.ci/run``) and sets
``OPENSTS_REQUIRE_BROWSER=1``: without them the browser tests fail there, and are skipped elsewhere.
Every test saves a screenshot (:func:`screenshot`) in ``OPENSTS_SCREENSHOT_DIR`` (docs/console/ when
refreshing the documentation's pictures) or the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[object]:
    if not _available():
        if os.environ.get("OPENSTS_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium, ChromeDriver or selenium is missing (CI installs them: .ci/run)")
        pytest.skip("Chromium and ChromeDriver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(5)
    driver.screenshot_dir = Path(os.environ.get("OPENSTS_SCREENSHOT_DIR") or tmp_path)  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: object, name: str) -> Path:
    directory: Path = driver.screenshot_dir  # type: ignore[attr-defined]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def fill(driver: object, **fields: str) -> None:
    """Type into the inputs with these ids (cleared first)."""
    from selenium.webdriver.common.by import By

    for element_id, value in fields.items():
        element = driver.find_element(By.ID, element_id)  # type: ignore[attr-defined]
        element.clear()
        element.send_keys(value)


def click(driver: object, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, element_id).click()  # type: ignore[attr-defined]


def text_of(driver: object, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text  # type: ignore[attr-defined]


def wait_until_gone(driver: object, element: object, timeout: float = 10) -> None:
    """Wait until ``element`` has left the document (the page it was on was replaced).

    Selenium's ``staleness_of`` waits for StaleElementReferenceException only; ChromeDriver answers
    an element whose page was just replaced with a plain WebDriverException ("Node with given id
    does not belong to the document") as often, which is the same news."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_: object) -> bool:
        try:
            element.is_enabled()  # type: ignore[attr-defined]
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, timeout).until(gone)


def wait_for_path(driver: object, path: str, timeout: float = 10) -> None:
    """Wait until the browser is on ``path`` (after a click that navigates)."""
    from urllib.parse import urlsplit

    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: urlsplit(d.current_url).path == path)  # type: ignore[arg-type]
