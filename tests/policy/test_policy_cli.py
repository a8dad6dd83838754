"""The ``policy`` click group (registered as ``opensts policy`` by the CLI)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from opensts.commands.policy import policy

from .helpers import ACCT, allow, doc


def invoke(*args, input=None):
    return CliRunner().invoke(policy, list(args), input=input)


def test_validate_ok_and_errors(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc(allow("s3:*"))))
    r = invoke("validate", str(good))
    assert r.exit_code == 0 and r.output.strip() == "OK"
    r = invoke("validate", "-", "--kind", "resource", input=json.dumps(doc(allow("s3:*"))))
    assert r.exit_code == 1 and "MalformedPolicyDocument: Missing required field Principal." in r.output
    r = invoke("validate", "-", "--kind", "trust", input=json.dumps(doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"})))
    assert r.exit_code == 0
    r = invoke("validate", "-", input="{nope")
    assert r.exit_code == 1 and "Syntax errors in policy" in r.output
    r = invoke("validate", "-", "--managed", input=json.dumps(doc(allow(), version="2008-10-17")))
    assert r.exit_code == 1
    r = invoke("validate", str(tmp_path / "missing.json"))
    assert r.exit_code != 0 and "cannot read" in r.output


def test_evaluate_prints_the_decision():
    body = {
        "request": {"principal": f"arn:aws:iam::{ACCT}:user/alice", "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::b/k", "context": {"aws:SecureTransport": True}},
        "identityPolicies": [doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Read",
                                       Condition={"Bool": {"aws:SecureTransport": "true"}}))],
        "permissionsBoundaries": [doc(allow())],
        "sessionPolicies": [],
    }
    r = invoke("evaluate", "-", input=json.dumps(body))
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["decision"] == "Allow" and out["allowed"] is True
    assert {m["sid"] for m in out["matchedStatements"]} >= {"Read"}

    body["resourcePolicy"] = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"})
    out = json.loads(invoke("evaluate", "-", input=json.dumps(body)).output)
    assert out["decision"] == "ExplicitDeny" and out["blockedBy"] == ["resource"]


def test_evaluate_trust_and_errors():
    role = f"arn:aws:iam::{ACCT}:role/R"
    body = {
        "request": {"principal": {"arn": f"arn:aws:iam::{ACCT}:user/alice"}, "action": "sts:AssumeRole", "resource": role},
        "trustPolicy": doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"}),
        "identityPolicies": [doc(allow("sts:AssumeRole", role))],
    }
    assert json.loads(invoke("evaluate", "-", input=json.dumps(body)).output)["decision"] == "Allow"
    body["identityPolicies"] = [doc({"Effect": "Allow", "Action": "*"})]
    r = invoke("evaluate", "-", input=json.dumps(body))
    assert r.exit_code == 1 and "MalformedPolicyDocument" in r.output
    assert invoke("evaluate", "-", input="[]").exit_code != 0
    assert invoke("evaluate", "-", input='{"request": {}}').exit_code != 0
