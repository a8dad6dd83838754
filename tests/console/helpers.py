"""What the console's tests share: principals to sign in as, and signing in over HTTP or in the browser."""

from __future__ import annotations

import json
import re

import httpx

from tests.conftest import ServerInfo, random_name
from tests.console.browser import click, fill
from tests.iam.conftest import allow, make_user

PASSWORD = "Console-pass-1!"


def browser(server: ServerInfo) -> httpx.Client:
    """An HTTP client that keeps cookies like a browser (no redirects followed)."""
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)


def signin_form(client: httpx.Client) -> str:
    """Open the sign-in page; the form's CSRF token."""
    page = client.get("/console/signin")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def sign_in(client: httpx.Client, **fields: str) -> httpx.Response:
    csrf = signin_form(client)
    return client.post("/console/signin", data={"csrf": csrf, **fields})


def csrf_of(page: httpx.Response) -> str:
    """The session's CSRF token, from any signed-in page."""
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def user_with_password(server: ServerInfo, policy: dict | None = None) -> str:
    """A new IAM user with the console password PASSWORD (and this inline policy)."""
    name, _ = make_user(server, policy)
    server.client("iam").create_login_profile(UserName=name, Password=PASSWORD)
    return name


def signed_in(server: ServerInfo, policy: dict | None = None) -> tuple[httpx.Client, str]:
    """(a client signed in to the console as a new user with this policy, the user's name)."""
    name = user_with_password(server, policy)
    client = browser(server)
    answer = sign_in(client, kind="user", account=server.account_id, username=name, password=PASSWORD)
    assert answer.status_code == 303, answer.text
    return client, name


def signed_in_as_root(server: ServerInfo) -> httpx.Client:
    client = browser(server)
    answer = sign_in(client, kind="root", access_key_id=server.root.access_key_id,
                     secret_access_key=server.root.secret_access_key)
    assert answer.status_code == 303, answer.text
    return client


def role_session(server: ServerInfo, policy: dict | None = None) -> tuple[str, dict]:
    """(role ARN, AssumeRole credentials) for a new role (with this inline policy) that a new user assumes."""
    iam = server.client("iam")
    _, user_creds = make_user(server, allow("sts:AssumeRole"))
    role = random_name("role")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(policy))
    creds = server.client("sts", user_creds).assume_role(RoleArn=arn, RoleSessionName="console-test")["Credentials"]
    return arn, creds


def session_json(creds: dict) -> str:
    return json.dumps({"sessionId": creds["AccessKeyId"], "sessionKey": creds["SecretAccessKey"],
                       "sessionToken": creds["SessionToken"]})


def signin_token(client: httpx.Client, creds: dict, **extra: str) -> httpx.Response:
    return client.get("/federation", params={"Action": "getSigninToken", "Session": session_json(creds), **extra})


def browser_sign_in(driver, server: ServerInfo, name: str, password: str = PASSWORD, mfa: str = "") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the sign-in page in the browser."""
    driver.get(f"{server.url}/console/signin")
    fill(driver, account=server.account_id, username=name, password=password, **({"mfa": mfa} if mfa else {}))
    click(driver, "signin-user-submit")


def browser_sign_in_as_root(driver, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    driver.get(f"{server.url}/console/signin")
    fill(driver, access_key_id=server.root.access_key_id, secret_access_key=server.root.secret_access_key)
    click(driver, "signin-root-submit")


def federation_login(client: httpx.Client, token: str, destination: str | None = None) -> httpx.Response:
    """Follow a broker's login link: the federation endpoint's page, then its "Continue" (a POST)."""
    params = {"Action": "login", "SigninToken": token, **({"Destination": destination} if destination else {})}
    page = client.get("/federation", params=params)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(csrf|token|destination)" value="([^"]*)"', page.text))
    return client.post("/console/signin/federation", data=fields)
