"""Roles and the JSON policy editor in a real browser (Chromium): create a role with a trust policy
typed in the editor, and see a validation error appear, with its line and column, as you type."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ServerInfo, random_name
from tests.console.browser import click, fill, screenshot, text_of, wait_for_path, wait_until_gone
from tests.console.helpers import browser_sign_in_as_root

pytestmark = pytest.mark.browser


def type_policy(driver, text: str) -> None:  # type: ignore[no-untyped-def]
    """Replace the editor's text by typing ``text`` (as a user would, key by key)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    editor = driver.find_element(By.ID, "policy-document")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(text)


def wait_for_state(driver, state: str, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Wait until the editor's error list says it was checked: "valid" or "invalid"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.ID, "policy-errors").get_attribute("data-state") == state)


def test_create_a_role_with_a_trust_policy_typed_in_the_editor(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    browser_sign_in_as_root(chrome, server)
    wait_for_path(chrome, "/console/")
    chrome.get(f"{server.url}/console/roles/new")
    name = random_name("Browser")
    fill(chrome, **{"role-name": name, "role-description": "made in the browser"})
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    type_policy(chrome, json.dumps(trust, indent=1))
    wait_for_state(chrome, "valid")  # checked as typed
    assert text_of(chrome, "policy-status") == "Valid policy."
    click(chrome, "role-submit")
    wait_for_path(chrome, f"/console/roles/{name}")
    assert text_of(chrome, "role-arn") == f"arn:aws:iam::{server.account_id}:role/{name}"
    assert text_of(chrome, "role-description") == "made in the browser"
    assert json.loads(text_of(chrome, "trust-policy")) == trust
    screenshot(chrome, "role-created")
    assert server.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust

    chrome.get(f"{server.url}/console/roles?q={name.lower()}")
    assert text_of(chrome, "roles").count(name) == 1
    screenshot(chrome, "roles-list")


def test_a_validation_error_appears_with_its_line_and_column_as_you_type(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser_sign_in_as_root(chrome, server)
    wait_for_path(chrome, "/console/")
    chrome.get(f"{server.url}/console/roles/new")
    fill(chrome, **{"role-name": random_name("never")})
    type_policy(chrome, '{\n"Version": "2012-10-17",\n"Statement": [\n{"Effect": "Allow",, "Action": "sts:AssumeRole"}\n]\n}')
    wait_for_state(chrome, "invalid")
    errors = [item.text for item in chrome.find_elements(By.CSS_SELECTOR, "#policy-errors li")]
    assert errors == ["line 4, column 20: Syntax errors in policy. Expecting property name enclosed in double quotes."]
    assert chrome.current_url.endswith("/console/roles/new")  # nothing was submitted
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", chrome.find_element(By.ID, "policy-document"))
    screenshot(chrome, "role-editor-error")

    # A semantic error of the engine, located in its statement: the trust policy has no Principal.
    type_policy(chrome, '{\n"Version": "2012-10-17",\n"Statement": [\n  {"Effect": "Allow", "Action": "sts:AssumeRole"}\n]\n}')
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, 10).until(lambda d: "Principal" in d.find_element(By.ID, "policy-errors").text)
    assert text_of(chrome, "policy-errors") == "line 4, column 3: Missing required field Principal. [Statement 1]"

    # Without fixing it, a submit is refused by the server, the text and the error kept.
    before = chrome.find_element(By.ID, "policy-errors")
    click(chrome, "role-submit")
    wait_until_gone(chrome, before)  # a new page, from the server
    wait_for_path(chrome, "/console/roles/new")
    assert text_of(chrome, "policy-errors") == "line 4, column 3: Missing required field Principal. [Statement 1]"
    assert '"sts:AssumeRole"}' in chrome.find_element(By.ID, "policy-document").get_attribute("value")
