"""The web console over HTTP against a real server: sign-in each way, the federation endpoint,
sessions, CSRF, headers. (The same flows in a real browser: test_console_browser.py.)"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.conftest import ServerInfo
from tests.console.helpers import (
    PASSWORD, browser, federation_login, role_session, sign_in, signin_form, signin_token, user_with_password,
)
from tests.iam.conftest import make_user
from tests.iam.test_mfa import enabled_device


def altered(secret: str) -> str:
    """``secret`` with its last character changed (replacing it with a fixed one was the same secret
    whenever it already ended with that character: 1 run in 64)."""
    return secret[:-1] + ("B" if secret.endswith("A") else "A")


def test_password_sign_in_shows_who_i_am_and_sign_out_ends_the_session(server: ServerInfo) -> None:
    name = user_with_password(server)
    with browser(server) as client:
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/console" in cookie
        home = client.get("/console/")
        assert home.status_code == 200
        assert f"arn:aws:iam::{server.account_id}:user/{name}" in home.text
        assert re.search(r'id="mfa-state">no<', home.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
        assert client.post("/console/signout", data={}).status_code == 403  # no CSRF token
        assert client.get("/console/").status_code == 200  # still signed in
        out = client.post("/console/signout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/console/signin"
        session_cookie = {"opensts-console": re.search(r"opensts-console=([^;]+)", cookie).group(1)}  # type: ignore[union-attr]
    with browser(server) as replay:  # the old cookie no longer opens anything
        replay.cookies.update(session_cookie)
        assert replay.get("/console/").headers["location"] == "/console/signin"


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(server: ServerInfo) -> None:
    name = user_with_password(server)
    with browser(server) as client:
        for fields in ({"username": name, "password": "wrong-Pass-1!"}, {"username": "nobody-here", "password": PASSWORD}):
            answer = sign_in(client, kind="user", account=server.account_id, **fields)
            assert answer.status_code == 401
            assert "Your authentication information is incorrect" in answer.text
            assert "opensts-console=" not in answer.headers.get("set-cookie", "")


def test_sign_in_needs_the_forms_csrf_token(server: ServerInfo) -> None:
    name = user_with_password(server)
    with browser(server) as client:
        signin_form(client)
        answer = client.post("/console/signin", data={"kind": "user", "account": server.account_id,
                                                      "username": name, "password": PASSWORD})
        assert answer.status_code == 400 and "opensts-console=" not in answer.headers.get("set-cookie", "")
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        assert answer.status_code == 303
    with browser(server) as client, browser(server) as other:  # another browser's form token does not do
        csrf = signin_form(client)
        answer = other.post("/console/signin", data={"csrf": csrf, "kind": "user", "account": server.account_id,
                                                     "username": name, "password": PASSWORD})
        assert answer.status_code == 400


def test_mfa_user_needs_a_code_and_the_session_carries_mfa(server: ServerInfo) -> None:
    name = user_with_password(server)
    iam = server.client("iam")
    _, totp = enabled_device(server, iam, name)
    with browser(server) as client:
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        assert answer.status_code == 401 and "MFA" in answer.text
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD, mfa="000000")
        assert answer.status_code == 401
        code = totp.at(time.time() + 30)  # the enabling codes are spent: the next step's
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD, mfa=code)
        assert answer.status_code == 303
        home = client.get("/console/")
        assert re.search(r'id="mfa-state">yes', home.text)


def test_root_signs_in_with_an_access_key(server: ServerInfo) -> None:
    with browser(server) as client:
        answer = sign_in(client, kind="root", access_key_id=server.root.access_key_id,
                         secret_access_key=altered(server.root.secret_access_key))
        assert answer.status_code == 401, answer.text
        answer = sign_in(client, kind="root", access_key_id=server.root.access_key_id,
                         secret_access_key=server.root.secret_access_key)
        assert answer.status_code == 303, answer.text
        assert f"arn:aws:iam::{server.account_id}:root" in client.get("/console/").text


def test_federation_sign_in_opens_the_console_for_the_role_session(server: ServerInfo) -> None:
    role_arn, creds = role_session(server)
    with browser(server) as client:
        answer = signin_token(client, creds)
        assert answer.status_code == 200, answer.text
        token = answer.json()["SigninToken"]
        login = federation_login(client, token, f"{server.url}/console/")
        assert login.status_code == 303 and login.headers["location"] == "/console/"
        home = client.get("/console/")
        assert f"assumed-role/{role_arn.rsplit('/', 1)[1]}/console-test" in home.text
        assert "federation (role session)" in home.text
    with browser(server) as again:  # single use
        login = federation_login(again, token)
        assert login.status_code == 400 and "opensts-console=" not in login.headers.get("set-cookie", "")


def test_signin_token_expires_after_15_minutes(clock: ServerInfo) -> None:
    server = clock
    _, creds = role_session(server)
    with browser(server) as client:
        token = signin_token(client, creds).json()["SigninToken"]
        server.set_clock_offset(15 * 60 + 1)
        assert federation_login(client, token).status_code == 400


def test_federation_refuses_what_is_not_a_role_or_federated_session(server: ServerInfo) -> None:
    name, user_creds = make_user(server)
    session = server.client("sts", user_creds).get_session_token()["Credentials"]
    _, role_creds = role_session(server)
    with browser(server) as client:
        assert signin_token(client, session).json()["Error"]["Code"] == "InvalidSession"
        wrong_secret = {**role_creds, "SecretAccessKey": altered(role_creds["SecretAccessKey"])}
        assert signin_token(client, wrong_secret).status_code == 400
        garbage = client.get("/federation", params={"Action": "getSigninToken", "Session": "{not json"})
        assert garbage.status_code == 400 and garbage.json()["Error"]["Code"] == "InvalidSession"
        assert client.get("/federation", params={"Action": "nothing"}).status_code == 400
        token = signin_token(client, role_creds).json()["SigninToken"]
        elsewhere = client.get("/federation", params={"Action": "login", "SigninToken": token,
                                                      "Destination": "https://evil.example/console/"})
        assert elsewhere.status_code == 400


@pytest.mark.parametrize("path", ["/console/signin", "/console/static/console.css"])
def test_console_pages_cannot_be_framed_and_allow_no_inline_script(server: ServerInfo, path: str) -> None:
    answer = httpx.get(f"{server.url}{path}")
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_console_calls_are_the_principals_own_and_audited(server: ServerInfo) -> None:
    name = user_with_password(server)
    with browser(server) as client:
        sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        client.get("/console/", headers={"user-agent": "console-test-browser"})
    trail = server.client("cloudtrail")
    deadline = time.monotonic() + 10
    while True:
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])["Events"]
        records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "GetCallerIdentity"]
        if records or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert records, "the console's GetCallerIdentity was not recorded"
    record = records[0]
    assert record["userIdentity"]["type"] == "IAMUser" and record["userIdentity"]["userName"] == name
    assert "console-test-browser" in record["userAgent"] and record["userAgent"].startswith("opensts-console/")


def _console_logins(server: ServerInfo, account: str | None = None) -> list[dict]:
    trail = server.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}], MaxResults=50,
    )["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events]


def test_sign_ins_are_recorded_as_console_login_events(server: ServerInfo) -> None:
    name = user_with_password(server)
    with browser(server) as client:
        sign_in(client, kind="user", account=server.account_id, username=name, password="Wrong-password-9")
        assert sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD).status_code == 303
    # The success is committed before the session is handed out; the failure soon after.
    deadline = time.monotonic() + 10
    while True:
        records = _console_logins(server)
        mine = [r for r in records if r["userIdentity"].get("userName") == name]
        failures = [r for r in records if r["responseElements"] == {"ConsoleLogin": "Failure"}]
        if (mine and failures) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    success = mine[0]
    assert success["eventSource"] == "signin.amazonaws.com" and success["eventType"] == "AwsConsoleSignIn"
    assert success["responseElements"] == {"ConsoleLogin": "Success"}
    assert success["additionalEventData"]["MFAUsed"] == "No"
    assert success["userIdentity"]["type"] == "IAMUser" and "accessKeyId" not in success["userIdentity"]
    failure = failures[0]
    assert failure["errorMessage"] == "Failed authentication"
    assert failure["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS"  # it may be a typed password
    assert PASSWORD not in json.dumps(records) and "Wrong-password-9" not in json.dumps(records)


def test_a_session_is_its_own_accounts_and_cannot_reach_another(server: ServerInfo) -> None:
    from tests.sts.outbound import new_account

    other = new_account(server)
    name = user_with_password(server)  # in the server's default account
    with browser(server) as client:
        # The user's name and password do not open the other account.
        answer = sign_in(client, kind="user", account=other.account_id, username=name, password=PASSWORD)
        assert answer.status_code == 401
        answer = sign_in(client, kind="root", access_key_id=other.root.access_key_id,
                         secret_access_key=other.root.secret_access_key)
        assert answer.status_code == 303
        home = client.get("/console/").text
        assert f"arn:aws:iam::{other.account_id}:root" in home and server.account_id not in home
        # Every page's data comes from calls with the other account's credentials: the default
        # account's user does not exist there.
        page = client.get(f"/console/users/{name}")
        assert page.status_code == 404 and "NoSuchEntity" in page.text


def _token_of(page: httpx.Response) -> str:
    return re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def test_a_password_that_must_be_reset_is_changed_before_the_session_opens(server: ServerInfo) -> None:
    iam = server.client("iam")
    name, _ = make_user(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}]})
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=True)
    with browser(server) as client:
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        assert answer.status_code == 200 and 'id="change-password"' in answer.text
        assert "opensts-console=" not in answer.headers.get("set-cookie", "")  # no session yet
        csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
        mismatch = client.post("/console/signin/password", data={
            "csrf": csrf, "token": _token_of(answer), "old_password": PASSWORD,
            "new_password": "New-pass-2!", "confirm_password": "Other-pass-2!"})
        assert mismatch.status_code == 400 and "do not match" in mismatch.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', mismatch.text).group(1)  # type: ignore[union-attr]
        spent = _token_of(answer)
        changed = client.post("/console/signin/password", data={
            "csrf": csrf, "token": _token_of(mismatch), "old_password": PASSWORD,
            "new_password": "New-pass-2!", "confirm_password": "New-pass-2!"})
        assert changed.status_code == 303, changed.text
        assert f"user/{name}" in client.get("/console/").text
        again = client.post("/console/signin/password", data={
            "csrf": csrf, "token": spent, "old_password": PASSWORD, "new_password": "X-pass-3!", "confirm_password": "X-pass-3!"})
        assert again.status_code == 400  # the token was single-use
    with browser(server) as client:
        assert sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD).status_code == 401
        assert sign_in(client, kind="user", account=server.account_id, username=name, password="New-pass-2!").status_code == 303


def test_changing_the_password_needs_the_users_permission(server: ServerInfo) -> None:
    name = user_with_password(server)  # no policy; the account does not let users change passwords
    server.client("iam").update_login_profile(UserName=name, PasswordResetRequired=True)
    with browser(server) as client:
        answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        csrf = re.search(r'name="csrf" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
        denied = client.post("/console/signin/password", data={
            "csrf": csrf, "token": _token_of(answer), "old_password": PASSWORD,
            "new_password": "New-pass-2!", "confirm_password": "New-pass-2!"})
        assert denied.status_code == 403 and "AccessDenied" in denied.text
        assert "opensts-console=" not in denied.headers.get("set-cookie", "")


def test_a_hard_expired_password_is_refused(clock: ServerInfo) -> None:
    server = clock
    iam = server.client("iam")
    name = user_with_password(server)
    iam.update_account_password_policy(MaxPasswordAge=1, HardExpiry=True, AllowUsersToChangePassword=True)
    try:
        server.set_clock_offset(2 * 86400)
        with browser(server) as client:
            answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
            assert answer.status_code == 403 and "Ask an administrator to reset it" in answer.text
    finally:
        server.set_clock_offset(0)
        iam.delete_account_password_policy()


def test_a_password_sign_in_records_password_last_used(server: ServerInfo) -> None:
    name = user_with_password(server)
    iam = server.client("iam")
    assert "PasswordLastUsed" not in iam.get_user(UserName=name)["User"]
    with browser(server) as client:
        assert sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD).status_code == 303
    used = iam.get_user(UserName=name)["User"]["PasswordLastUsed"]
    assert abs(used.timestamp() - time.time()) < 120


def test_the_federation_login_is_a_confirmed_post_and_tokens_keep_their_purpose(server: ServerInfo) -> None:
    """A GET never opens a session (no login CSRF); a paused password change's token does not open
    a session at the federation endpoint (it would skip the change)."""
    _, creds = role_session(server)
    name, _ = make_user(server)
    server.client("iam").create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=True)
    with browser(server) as client:
        token = signin_token(client, creds).json()["SigninToken"]
        page = client.get("/federation", params={"Action": "login", "SigninToken": token})
        assert page.status_code == 200 and "opensts-console=" not in page.headers.get("set-cookie", "")
        forged = client.post("/console/signin/federation", data={"token": token})  # no CSRF token
        assert forged.status_code == 400
        paused = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
        pending = re.search(r'name="token" value="([^"]+)"', paused.text).group(1)  # type: ignore[union-attr]
        assert federation_login(client, pending).status_code == 400
        assert client.get("/console/").status_code == 303  # still not signed in
        assert federation_login(client, token).status_code == 303  # the broker's token was not spent


def test_hostile_session_parameters_are_answered_not_crashed_on(server: ServerInfo) -> None:
    with browser(server) as client:
        for session in ("[" * 6000, '{"sessionId": 1}', "9" * 5000, "x" * 20000):
            answer = client.get("/federation", params={"Action": "getSigninToken", "Session": session})
            assert answer.status_code == 400 and answer.json()["Error"]["Code"] == "InvalidSession"


def test_failed_sign_ins_slow_down_alike_for_real_and_made_up_users(server: ServerInfo) -> None:
    """Counted per typed account and name whether or not the user exists: the answers never tell
    which users exist, and the user's own ChangePassword counter is not touched."""
    name = user_with_password(server)
    statuses: dict[str, list[int]] = {}
    with browser(server) as client:
        for who in (name, "made-up-" + name):
            statuses[who] = [
                sign_in(client, kind="user", account=server.account_id, username=who, password="Wrong-pass-1!").status_code
                for _ in range(52)
            ]
    assert statuses[name] == statuses["made-up-" + name]
    assert statuses[name][:50] == [401] * 50 and statuses[name][-1] == 429  # blocked after 50 free failures
    # The user itself can still change its password with its access key (a separate counter).
    iam = server.client("iam")
    iam.update_account_password_policy(AllowUsersToChangePassword=True)
    try:
        key = iam.create_access_key(UserName=name)["AccessKey"]
        from tests.conftest import Credentials

        server.client("iam", Credentials(key["AccessKeyId"], key["SecretAccessKey"])).change_password(
            OldPassword=PASSWORD, NewPassword="Changed-pass-2!")
    finally:
        iam.delete_account_password_policy()
