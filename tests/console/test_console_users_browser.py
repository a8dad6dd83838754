"""The users and groups pages in a real browser (Chromium): create a user, find it in the list, open
it, set up an MFA device from the seed shown on the page, create an access key, manage a group."""

from __future__ import annotations

import pyotp
import pytest

from tests.conftest import ServerInfo, random_name
from tests.console.browser import click, fill, screenshot, text_of, wait_for_path, wait_until_gone
from tests.console.helpers import browser_sign_in, user_with_password
from tests.iam.conftest import allow
from tests.iam.test_mfa import consecutive_codes

pytestmark = pytest.mark.browser


def submit(chrome, button_id: str) -> None:  # type: ignore[no-untyped-def]
    """Click a form's button and wait for the next page (a POST that redirects to the same path)."""
    from selenium.webdriver.common.by import By

    old_page = chrome.find_element(By.TAG_NAME, "html")
    click(chrome, button_id)
    wait_until_gone(chrome, old_page)


def sign_in_as_admin(chrome, server: ServerInfo) -> str:  # type: ignore[no-untyped-def]
    name = user_with_password(server, allow("iam:*"))
    browser_sign_in(chrome, server, name)
    wait_for_path(chrome, "/console/")
    return name


def test_create_a_user_find_it_and_open_it(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in_as_admin(chrome, server)
    click(chrome, "nav-users")
    wait_for_path(chrome, "/console/users")
    name = random_name("alice")
    fill(chrome, **{"create-user-name": name, "create-user-path": "/engineering/"})
    submit(chrome, "create-user-submit")
    wait_for_path(chrome, f"/console/users/{name}")
    assert text_of(chrome, "user-arn") == f"arn:aws:iam::{server.account_id}:user/engineering/{name}"
    click(chrome, "back-to-users")
    wait_for_path(chrome, "/console/users")
    fill(chrome, **{"users-q": name.upper()})
    submit(chrome, "users-search-submit")
    links = chrome.find_elements(By.CSS_SELECTOR, "#users a.user-link")
    assert [link.text for link in links] == [name]
    screenshot(chrome, "users-list")
    links[0].click()
    wait_for_path(chrome, f"/console/users/{name}")
    assert text_of(chrome, "user-name") == name
    fill(chrome, **{"tag-key": "team", "tag-value": "platform"})
    submit(chrome, "tag-submit")
    wait_for_path(chrome, f"/console/users/{name}")
    assert "platform" in text_of(chrome, "tags")
    screenshot(chrome, "user-detail")


def test_set_up_an_mfa_device_from_the_seed_on_the_page(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in_as_admin(chrome, server)
    name = random_name("mfa-user")
    server.client("iam").create_user(UserName=name)
    chrome.get(f"{server.url}/console/users/{name}")
    assert text_of(chrome, "mfa-none") == "No MFA device."
    click(chrome, "mfa-setup")
    qr = chrome.find_element(By.ID, "mfa-qr")
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    assert chrome.execute_script("return arguments[0].naturalWidth", qr) > 0  # the PNG decoded under the CSP
    chrome.find_element(By.CSS_SELECTOR, "#mfa-seed-details summary").click()
    seed = text_of(chrome, "mfa-seed")
    screenshot(chrome, "user-mfa-setup")
    code1, code2 = consecutive_codes(pyotp.TOTP(seed))
    fill(chrome, **{"mfa-code1": code1, "mfa-code2": code2})
    submit(chrome, "mfa-enable")
    wait_for_path(chrome, f"/console/users/{name}")
    serial = f"arn:aws:iam::{server.account_id}:mfa/{name}"
    assert serial in text_of(chrome, "mfa-devices")
    devices = server.client("iam").list_mfa_devices(UserName=name)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    screenshot(chrome, "user-mfa-enabled")


def test_a_new_access_key_is_shown_once(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    sign_in_as_admin(chrome, server)
    name = random_name("keys")
    server.client("iam").create_user(UserName=name)
    chrome.get(f"{server.url}/console/users/{name}")
    click(chrome, "create-access-key")
    key_id, secret = text_of(chrome, "access-key-id"), text_of(chrome, "secret-access-key")
    assert key_id.startswith("AKIA") and len(secret) == 40
    screenshot(chrome, "user-access-key-created")
    click(chrome, "done")
    wait_for_path(chrome, f"/console/users/{name}")
    assert key_id in text_of(chrome, "access-keys")
    assert secret not in chrome.page_source


def test_create_a_group_and_add_a_member(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    sign_in_as_admin(chrome, server)
    member = random_name("member")
    server.client("iam").create_user(UserName=member)
    click(chrome, "nav-groups")
    wait_for_path(chrome, "/console/groups")
    group = random_name("admins")
    fill(chrome, **{"create-group-name": group})
    submit(chrome, "create-group-submit")
    wait_for_path(chrome, f"/console/groups/{group}")
    fill(chrome, **{"add-member-name": member})
    submit(chrome, "add-member-submit")
    wait_for_path(chrome, f"/console/groups/{group}")
    assert member in text_of(chrome, "members")
    fill(chrome, **{"attach-policy-arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    submit(chrome, "attach-policy-submit")
    wait_for_path(chrome, f"/console/groups/{group}")
    assert "ReadOnlyAccess" in text_of(chrome, "attached-policies")
    screenshot(chrome, "group-detail")
    chrome.get(f"{server.url}/console/groups?q={group}")
    assert group in text_of(chrome, "groups")
    screenshot(chrome, "groups-list")


def test_access_denied_is_shown_in_the_browser(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    name = user_with_password(server, allow("iam:GetUser"))
    browser_sign_in(chrome, server, name)
    wait_for_path(chrome, "/console/")
    click(chrome, "nav-users")
    assert "AccessDenied" in text_of(chrome, "error")
    chrome.get(f"{server.url}/console/users/{name}")
    assert text_of(chrome, "user-name") == name
    assert "AccessDenied" in text_of(chrome, "access-keys-error")
    screenshot(chrome, "user-access-denied")
