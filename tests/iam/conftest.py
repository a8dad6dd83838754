"""Fixtures for IAM tests: root IAM client, and helpers to make principals with their own keys."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Credentials, ServerInfo, random_name


@pytest.fixture
def iam(server: ServerInfo):  # type: ignore[no-untyped-def]
    return server.client("iam")


def make_user(server: ServerInfo, policy: dict | None = None, name: str | None = None) -> tuple[str, Credentials]:
    """Create a user with an access key (and an inline policy if given) via the IAM API, as root."""
    iam = server.client("iam")
    name = name or random_name("user")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def allow(actions: str | list[str], resources: str | list[str] = "*", **extra: object) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}
