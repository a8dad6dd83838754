"""Fixtures of the token-layer tests (pure: no database, no server)."""

from __future__ import annotations

import json

import pytest

from opensts.tokens import KeyRing, SessionClaims

ACCT = "609629065308"


def make_claims(**overrides) -> SessionClaims:
    base = dict(
        access_key_id="ASIAY34FZKBOKMUTVV7A",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        account_id=ACCT,
        kind="assumed-role",
        principal_arn=f"arn:aws:sts::{ACCT}:assumed-role/deploy/ci-run-42",
        principal_id="AROAY34FZKBOKMUTVV7AB:ci-run-42",
        source_arn=f"arn:aws:iam::{ACCT}:role/deploy",
        source_id="AROAY34FZKBOKMUTVV7AB",
        issued_at=1_795_000_000,
        expires_at=1_795_003_600,
        mfa_authenticated_at=1_794_999_000,
        source_identity="alice",
        tags=(("team", "infra"), ("Project", "x")),
        transitive_tag_keys=("team",),
        session_policy=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
        ),
        policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        role_chained=True,
        federated_provider=None,
        attributes=(("token.actions.githubusercontent.com:sub", "repo:o/r:ref:refs/heads/main"),),
    )
    base.update(overrides)
    return SessionClaims(**base)


@pytest.fixture
def claims() -> SessionClaims:
    return make_claims()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate(now=1_795_000_000)
