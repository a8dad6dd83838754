"""Enable/Disable/GetOutboundWebIdentityFederationInfo over HTTP: the issuer URL, AWS's errors, IAM
permissions, the audit trail, the issuer's documents after the feature is turned off, and the
GetWebIdentityToken condition keys in the policy simulator.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo
from tests.sts.outbound import allow, error_of, make_user, new_account

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


def test_enable_disable_and_info(server: ServerInfo) -> None:
    account = new_account(server)
    iam = server.client("iam", account.root)
    with pytest.raises(ClientError) as exc:
        iam.get_outbound_web_identity_federation_info()
    assert error_of(exc) == ("FeatureDisabled", 404)
    with pytest.raises(ClientError) as exc:
        iam.disable_outbound_web_identity_federation()
    assert error_of(exc) == ("FeatureDisabled", 404)

    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert re.fullmatch(re.escape(server.url) + r"/oidc/[a-z2-7]{26}", issuer)
    assert account.account_id not in issuer
    with pytest.raises(ClientError) as exc:
        iam.enable_outbound_web_identity_federation()
    assert error_of(exc) == ("FeatureEnabled", 409)
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, True)

    iam.disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as exc:
        iam.disable_outbound_web_identity_federation()
    assert error_of(exc) == ("FeatureDisabled", 404)
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, False)

    # Turned on again, the account keeps its issuer URL (verifiers need no new configuration).
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer
    other = server.client("iam", new_account(server).root).enable_outbound_web_identity_federation()
    assert other["IssuerIdentifier"] != issuer


def test_iam_permissions(server: ServerInfo) -> None:
    account = new_account(server)
    _, reader = make_user(server, account, allow("iam:GetOutboundWebIdentityFederationInfo"))
    _, admin = make_user(server, account, allow([
        "iam:EnableOutboundWebIdentityFederation", "iam:DisableOutboundWebIdentityFederation",
    ]))
    for call in ("enable_outbound_web_identity_federation", "disable_outbound_web_identity_federation"):
        with pytest.raises(ClientError) as exc:
            getattr(server.client("iam", reader), call)()
        assert error_of(exc) == ("AccessDenied", 403)
        assert "iam:" + call.title().replace("_", "") in exc.value.response["Error"]["Message"]
    issuer = server.client("iam", admin).enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert server.client("iam", reader).get_outbound_web_identity_federation_info()["IssuerIdentifier"] == issuer
    with pytest.raises(ClientError) as exc:
        server.client("iam", admin).get_outbound_web_identity_federation_info()
    assert error_of(exc) == ("AccessDenied", 403)


def _eventually(fetch: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_changes_are_in_the_audit_trail(server: ServerInfo) -> None:
    account = new_account(server)
    iam = server.client("iam", account.root)
    iam.enable_outbound_web_identity_federation()
    iam.disable_outbound_web_identity_federation()
    trail = server.client("cloudtrail", account.root)

    def names() -> set[str]:
        events = trail.lookup_events(MaxResults=50)["Events"]
        return {e["EventName"] for e in events}

    found = _eventually(names, lambda n: {"EnableOutboundWebIdentityFederation",
                                          "DisableOutboundWebIdentityFederation"} <= n)
    assert {"EnableOutboundWebIdentityFederation", "DisableOutboundWebIdentityFederation"} <= found
    events = trail.lookup_events(MaxResults=50)["Events"]
    enable = next(e for e in events if e["EventName"] == "EnableOutboundWebIdentityFederation")
    assert json.loads(enable["CloudTrailEvent"])["readOnly"] is False


def test_issuer_documents_outlive_the_feature_by_the_longest_token(clock: ServerInfo) -> None:
    server = clock
    iam = server.client("iam", new_account(server).root)
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    iam.disable_outbound_web_identity_federation()
    paths = (issuer + "/.well-known/openid-configuration", issuer + "/.well-known/jwks.json")
    assert [httpx.get(p, timeout=10).status_code for p in paths] == [200, 200]
    server.set_clock_offset(3600 + 301)  # every token issued before the disable has expired
    answers = [httpx.get(p, timeout=10) for p in paths]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].headers["cache-control"] == "no-store"


def test_condition_keys_in_the_policy_simulator(server: ServerInfo) -> None:
    account = new_account(server)
    condition = {
        "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": ["https://vault.example.com"]},
        "NumericLessThanEquals": {"sts:DurationSeconds": 900},
        "StringEquals": {"sts:SigningAlgorithm": "RS256"},
    }
    user_arn, _ = make_user(server, account, allow("sts:GetWebIdentityToken", condition),
                            allow("sts:TagGetWebIdentityToken", {"Null": {"aws:RequestTag/env": "false"},
                                                                 "ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}))
    iam = server.client("iam", account.root)
    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=user_arn)["ContextKeyNames"]
    assert {"sts:IdentityTokenAudience", "sts:DurationSeconds", "sts:SigningAlgorithm", "aws:RequestTag/env",
            "aws:TagKeys"} <= set(keys)

    def decision(action: str, entries: list[dict[str, Any]]) -> str:
        result = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=[action], ContextEntries=entries)
        return result["EvaluationResults"][0]["EvalDecision"]

    def entry(name: str, kind: str, *values: str) -> dict[str, Any]:
        return {"ContextKeyName": name, "ContextKeyType": kind, "ContextKeyValues": list(values)}

    good = [entry("sts:IdentityTokenAudience", "stringList", "https://vault.example.com"),
            entry("sts:DurationSeconds", "numeric", "300"), entry("sts:SigningAlgorithm", "string", "RS256")]
    assert decision("sts:GetWebIdentityToken", good) == "allowed"
    assert decision("sts:GetWebIdentityToken", [
        entry("sts:IdentityTokenAudience", "stringList", "https://vault.example.com", "https://evil.example.com"),
        *good[1:],
    ]) == "implicitDeny"
    assert decision("sts:GetWebIdentityToken", [*good[:2], entry("sts:SigningAlgorithm", "string", "ES384")]) == "implicitDeny"
    assert decision("sts:TagGetWebIdentityToken", [entry("aws:RequestTag/env", "string", "prod"),
                                                   entry("aws:TagKeys", "stringList", "env")]) == "allowed"
    assert decision("sts:TagGetWebIdentityToken", [entry("aws:TagKeys", "stringList", "env", "owner")]) == "implicitDeny"


def test_public_url_setting_is_validated(tmp_path: Path) -> None:
    from opensts.config import Settings

    assert Settings.from_env({"OPENSTS_PUBLIC_URL": "https://sts.example.com/"}).public_base_url == "https://sts.example.com"
    assert Settings.from_env({}, host="::1", port="7443").public_base_url == "http://[::1]:7443"
    for bad in ("ftp://sts.example.com", "https://sts.example.com/?a=1", "https://sts.example.com/#x",
                "https://user@sts.example.com", "sts.example.com", "https://"):
        out = subprocess.run([sys.executable, "-m", "opensts", "serve", "--public-url", bad, "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "--public-url must be an http(s) URL" in out.stderr, bad
    assert not any(tmp_path.iterdir())  # refused before anything was created
