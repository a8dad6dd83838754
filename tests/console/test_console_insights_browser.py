"""The simulator, the decoder, sessions and the audit trail in a real browser (Chromium)."""

from __future__ import annotations

import json
import time

import pytest

from tests.authorize.conftest import authorize
from tests.conftest import ServerInfo
from tests.console.browser import click, fill, screenshot, text_of, wait_for_path, wait_until_gone
from tests.console.helpers import browser_sign_in_as_root, role_session
from tests.iam.conftest import allow, make_user

pytestmark = pytest.mark.browser


def signed_in(chrome, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    browser_sign_in_as_root(chrome, server)
    wait_for_path(chrome, "/console/")


def test_run_the_simulator_and_read_the_decision(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    statement = {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}
    name, _ = make_user(server)
    iam = server.client("iam")
    iam.put_user_policy(UserName=name, PolicyName="reports",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2))
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    signed_in(chrome, server)
    click(chrome, "nav-simulator")
    wait_for_path(chrome, "/console/simulator")
    fill(chrome, principal=user_arn, actions="s3:GetObject\ns3:PutObject", resources="arn:aws:s3:::reports/q1.csv")
    click(chrome, "simulate")
    assert text_of(chrome, "decision-1") == "allowed"
    assert text_of(chrome, "decision-2") == "implicitDeny"
    chrome.execute_script("document.getElementById('results').scrollIntoView()")
    highlighted = chrome.find_element(By.CSS_SELECTOR, "#policy-text-1-1 mark").text
    assert json.loads(highlighted) == statement
    screenshot(chrome, "simulator")


def test_decode_a_message(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server, allow("ec2:DescribeInstances"))
    encoded = authorize(server, creds)["encodedMessage"]
    signed_in(chrome, server)
    chrome.get(f"{server.url}/console/decode")
    chrome.execute_script("document.getElementById('message').value = arguments[0];", encoded)  # typing 2 KB is slow
    click(chrome, "decode")
    assert text_of(chrome, "decoded-allowed") == "no"
    assert text_of(chrome, "decoded-action") == "ec2:StopInstances"
    screenshot(chrome, "decode")


def test_a_new_session_and_its_audit_event(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    role_arn, creds = role_session(server)
    key = creds["AccessKeyId"]
    signed_in(chrome, server)
    click(chrome, "nav-sessions")
    wait_for_path(chrome, "/console/sessions")
    row = chrome.find_element(By.ID, f"session-{key}")
    assert row.find_element(By.CLASS_NAME, "session-role").text == role_arn
    assert row.find_element(By.CLASS_NAME, "session-name").text == "console-test"
    screenshot(chrome, "sessions")
    click(chrome, f"session-event-{key}")
    wait_for_path(chrome, "/console/audit")
    rows = chrome.find_elements(By.CSS_SELECTOR, "#events tr.event")
    assert len(rows) == 1 and rows[0].find_element(By.CLASS_NAME, "event-name").text.startswith("AssumeRole")
    rows[0].find_element(By.TAG_NAME, "summary").click()  # the full record
    record = json.loads(rows[0].find_element(By.TAG_NAME, "pre").text)
    assert record["responseElements"]["credentials"]["accessKeyId"] == key
    assert record["requestParameters"]["roleArn"] == role_arn


def test_the_audit_chart_shows_denials(server: ServerInfo, chrome) -> None:  # type: ignore[no-untyped-def]
    from botocore.exceptions import ClientError
    from selenium.webdriver.common.by import By

    name, creds = make_user(server)
    for _ in range(3):
        with pytest.raises(ClientError):
            server.client("iam", creds).list_users()
    signed_in(chrome, server)
    click(chrome, "nav-audit")
    wait_for_path(chrome, "/console/audit")
    fill(chrome, value=name)
    chrome.find_element(By.CSS_SELECTOR, "#attribute option[value='Username']").click()
    unfiltered = chrome.find_element(By.TAG_NAME, "html")
    click(chrome, "filter")
    wait_until_gone(chrome, unfiltered)  # else the rows counted below may be the unfiltered page's
    deadline = time.monotonic() + 15
    while len(chrome.find_elements(By.CSS_SELECTOR, "#events tr.event")) != 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        chrome.refresh()
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#events tr.event")) == 3
    assert chrome.find_elements(By.CSS_SELECTOR, "#audit-chart rect.bar.denied")
    assert {e.text for e in chrome.find_elements(By.CSS_SELECTOR, "#events .event-error")} == {"AccessDenied"}
    screenshot(chrome, "audit")
