"""The console in a real browser (Chromium): sign in each way, see who you are, sign out."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.conftest import ServerInfo
from tests.console.browser import click, fill, screenshot, text_of, wait_for_path
from tests.console.helpers import browser_sign_in, role_session, signin_token, user_with_password
from tests.iam.test_mfa import enabled_device

pytestmark = pytest.mark.browser


def test_password_sign_in_then_sign_out(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    name = user_with_password(server)
    browser_sign_in(chrome, server, name)
    assert text_of(chrome, "arn") == f"arn:aws:iam::{server.account_id}:user/{name}"
    assert text_of(chrome, "signin-kind") == "password"
    assert text_of(chrome, "mfa-state") == "no"
    screenshot(chrome, "who-am-i")
    click(chrome, "signout")
    wait_for_path(chrome, "/console/signin")
    chrome.get(f"{server.url}/console/")
    wait_for_path(chrome, "/console/signin")  # the session is gone


def test_wrong_password_shows_an_error(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    name = user_with_password(server)
    browser_sign_in(chrome, server, name, password="Not-the-password-1")
    assert "Your authentication information is incorrect" in text_of(chrome, "error")
    screenshot(chrome, "signin-wrong-password")


def test_password_and_mfa_sign_in(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    name = user_with_password(server)
    _, totp = enabled_device(server, server.client("iam"), name)
    browser_sign_in(chrome, server, name)
    assert "MFA device" in text_of(chrome, "error")
    screenshot(chrome, "signin-mfa")
    browser_sign_in(chrome, server, name, mfa=totp.at(time.time() + 30))
    assert text_of(chrome, "mfa-state").startswith("yes")


def test_federation_sign_in_with_a_role_session(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    role_arn, creds = role_session(server)
    with httpx.Client(base_url=server.url) as broker:  # the identity broker's side
        token = signin_token(broker, creds).json()["SigninToken"]
    chrome.get(f"{server.url}/federation?" + urlencode({"Action": "login", "SigninToken": token,
                                                        "Destination": f"{server.url}/console/"}))
    click(chrome, "federation-continue")
    role_name = role_arn.rsplit("/", 1)[1]
    assert text_of(chrome, "arn") == f"arn:aws:sts::{server.account_id}:assumed-role/{role_name}/console-test"
    assert text_of(chrome, "signin-kind") == "federation (role session)"
    screenshot(chrome, "federation-role-session")


def test_expired_signin_token_is_refused(clock: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    _, creds = role_session(clock)
    with httpx.Client(base_url=clock.url) as broker:
        token = signin_token(broker, creds).json()["SigninToken"]
    clock.set_clock_offset(15 * 60 + 5)
    chrome.get(f"{clock.url}/federation?" + urlencode({"Action": "login", "SigninToken": token}))
    click(chrome, "federation-continue")
    assert "sign-in token is invalid, expired or already used" in text_of(chrome, "error")
    screenshot(chrome, "federation-expired-token")


def test_console_pages_cannot_be_framed(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    chrome.get(f"data:text/html,<iframe id='frame' src='{server.url}/console/signin'></iframe><p id='outer'>outer</p>")
    assert text_of(chrome, "outer") == "outer"
    chrome.switch_to.frame("frame")
    chrome.implicitly_wait(1)
    assert chrome.find_elements(By.ID, "signin-user") == []  # frame-ancestors 'none': nothing rendered
    chrome.switch_to.default_content()
    screenshot(chrome, "framing-refused")


def test_a_brokers_link_from_another_site_signs_in(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    """The identity broker's page is another site: following its link, then Continue, opens the
    console (the session cookie is SameSite=Strict, set by a same-site POST, so it is sent)."""
    from html import escape

    _, creds = role_session(server)
    with httpx.Client(base_url=server.url) as broker:
        token = signin_token(broker, creds).json()["SigninToken"]
    link = f"{server.url}/federation?" + urlencode({"Action": "login", "SigninToken": token})
    chrome.get("data:text/html," + quote(f"<a id='broker-link' href='{escape(link)}'>Open the console</a>"))
    click(chrome, "broker-link")
    click(chrome, "federation-continue")
    wait_for_path(chrome, "/console/")
    assert text_of(chrome, "signin-kind") == "federation (role session)"
