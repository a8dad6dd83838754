"""The ``policy`` click group (registered as ``opensts policy`` by the CLI)."""
from __future__ import annotations

import json
import subprocess
import sys

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
    assert r.exit_code == 1 and "Syntax errors in policy. Line 1, column 2:" in r.output
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
    r = invoke("evaluate", "-", input=json.dumps(body))
    out = json.loads(r.output)
    assert out["decision"] == "ExplicitDeny" and out["blockedBy"] == ["resource"]
    assert r.exit_code == 1


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
    assert r.exit_code == 2 and "identityPolicies[0]: MalformedPolicyDocument" in r.output
    assert invoke("evaluate", "-", input="[]").exit_code == 2
    assert invoke("evaluate", "-", input='{"request": {}}').exit_code == 2


# --- exit status, error lines and unreadable input ------------------------------------------------------
def opensts_policy(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "opensts", "policy", *args], input=stdin, capture_output=True, timeout=60)


def one_error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    err = done.stderr.decode()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_unreadable_inputs_are_one_line_errors_with_status_2(tmp_path):
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"Version": "2012-10-17", "Id": "caf\xe9"}'.encode("latin-1"))
    cases = [
        (str(binary), "not UTF-8"),
        (str(latin1), "not UTF-8"),
        (str(tmp_path), "Is a directory"),
        (str(tmp_path / "missing.json"), "No such file"),
    ]
    for command in ("validate", "evaluate"):
        for path, text in cases:
            done = opensts_policy(command, path)
            assert done.returncode == 2, (command, path, done.stderr)
            assert text in one_error_line(done)
        done = opensts_policy(command, "-", stdin=b"\xff\xfe\x00\x01")
        assert done.returncode == 2 and "not UTF-8" in one_error_line(done)


def test_validate_exit_status_and_syntax_error_position(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc(allow("s3:*")), indent=2))
    done = opensts_policy("validate", str(good))
    assert (done.returncode, done.stdout.strip()) == (0, b"OK")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow" "Action": "*"}\n  ]\n}\n')
    done = opensts_policy("validate", str(bad))
    assert done.returncode == 1
    assert one_error_line(done) == (
        "MalformedPolicyDocument: Syntax errors in policy. Line 4, column 24: Expecting ',' delimiter."
    )
    done = opensts_policy("validate", "-", stdin=b"[" * 100_000)
    assert done.returncode == 1 and "Syntax errors in policy" in one_error_line(done)
    done = opensts_policy("validate", "--kind", "nope", str(good))
    assert done.returncode == 2


def test_evaluate_exit_status_is_the_decision():
    user = f"arn:aws:iam::{ACCT}:user/alice"
    allowed = {"request": {"principal": user, "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"},
               "identityPolicies": [doc(allow("s3:GetObject"))]}
    done = opensts_policy("evaluate", "-", stdin=json.dumps(allowed).encode())
    assert done.returncode == 0 and json.loads(done.stdout)["decision"] == "Allow"
    implicit = {**allowed, "identityPolicies": [doc(allow("s3:PutObject"))]}
    done = opensts_policy("evaluate", "-", stdin=json.dumps(implicit).encode())
    assert done.returncode == 1 and json.loads(done.stdout)["decision"] == "ImplicitDeny"
    explicit = {**allowed, "identityPolicies": [doc(allow("s3:GetObject"), {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})]}
    done = opensts_policy("evaluate", "-", stdin=json.dumps(explicit).encode())
    assert done.returncode == 1 and json.loads(done.stdout)["decision"] == "ExplicitDeny"
    for bad in (b"{nope", b"[]", b'{"request": {"principal": 5, "action": "s3:x"}}',
                b'{"request": {"principal": "*", "action": ["s3:x"]}}', b'{"request": {"principal": "*", "action": "s3:x"}, "scps": 5}'):
        done = opensts_policy("evaluate", "-", stdin=bad)
        assert done.returncode == 2, (bad, done.stderr)
        one_error_line(done)
    done = opensts_policy("evaluate", "-", stdin=b"{\n  nope")
    assert "line 2, column 3" in one_error_line(done)


def test_evaluate_without_a_resource_policy_says_so():
    """The resource side can only block because no resource policy was given: the reason says that."""
    cross = {"request": {"principal": f"arn:aws:iam::{ACCT}:user/alice", "action": "s3:GetObject",
                         "resource": "arn:aws:s3:::b/k", "resourceAccount": "111122223333"},
             "identityPolicies": [doc(allow("s3:GetObject"))]}
    r = invoke("evaluate", "-", input=json.dumps(cross))
    out = json.loads(r.output)
    assert r.exit_code == 1 and out["blockedBy"] == ["resource"]
    assert out["reasons"] == ["no resource-based policy was given: cross-account access (resource account "
                              "111122223333) needs one that allows the principal"]
    role = {"request": {"principal": f"arn:aws:iam::{ACCT}:user/alice", "action": "sts:AssumeRole",
                        "resource": f"arn:aws:iam::{ACCT}:role/R"},
            "identityPolicies": [doc(allow("sts:AssumeRole"))]}
    out = json.loads(invoke("evaluate", "-", input=json.dumps(role)).output)
    assert out["reasons"] == ["no resource-based policy was given, and this resource's own policy must allow the principal"]
    anonymous = {"request": {"principal": "*", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}}
    out = json.loads(invoke("evaluate", "-", input=json.dumps(anonymous)).output)
    assert out["reasons"] == ["no resource-based policy was given, and only one can grant this principal"]
    # With a resource policy that does not name the caller, the engine's own reason stays.
    cross["resourcePolicy"] = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                                   "Action": "s3:GetObject", "Resource": "*"})
    out = json.loads(invoke("evaluate", "-", input=json.dumps(cross)).output)
    assert out["reasons"] == ["the resource-based policy does not allow the principal"]


def test_help_documents_the_exit_status():
    for command in ("validate", "evaluate"):
        text = invoke(command, "--help").output
        assert "Exit status: 0" in text and "2 the input" in " ".join(text.split())
