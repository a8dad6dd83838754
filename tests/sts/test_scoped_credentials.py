"""GetScopedCredentials over HTTP with boto3 and the AWS CLI: the identity is kept, every scope-down
layer holds on every later call (STS, IAM, AssumeRole's trust decision, /v1/authorize), at most 3
layers, the session is never extended, long-term credentials are refused."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.authorize.conftest import authorize, instance_arn
from tests.conftest import Credentials, ServerInfo
from tests.iam.conftest import allow, make_user
from tests.server.test_audit_secrets import stored_records
from tests.sts.test_assume_role import creds_of, error_of, make_role, trust, user_arn


def role_session(server: ServerInfo, policy: dict[str, Any], *, source_identity: str | None = None,
                 duration: int = 3600) -> tuple[str, dict[str, Any]]:
    """A user, a role it may assume (with ``policy``) and the AssumeRole answer: (role ARN, answer)."""
    name, creds = make_user(server)
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}, actions=actions), policy,
                         MaxSessionDuration=max(3600, duration))
    extra = {"SourceIdentity": source_identity} if source_identity else {}
    answer = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="agent", DurationSeconds=duration,
                                                     **extra)
    return role_arn, answer


def scoped(server: ServerInfo, creds: Credentials, **params: Any) -> dict[str, Any]:
    return server.client("sts", creds).get_scoped_credentials(**params)


def test_identity_is_kept_and_permissions_narrowed(server: ServerInfo) -> None:
    role_arn, session = role_session(server, allow(["iam:ListUsers", "iam:ListRoles", "sts:AssumeRole"]),
                                     source_identity="alice")
    base = creds_of(session)
    answer = scoped(server, base, Policy=json.dumps(allow("iam:ListUsers")), ScopedSessionDescription="agent run 42")
    narrow = creds_of(answer)
    assert narrow.access_key_id != base.access_key_id and narrow.access_key_id.startswith("ASIA")
    assert answer["SessionInfo"] == {"ScopedSessionId": session["AssumedRoleUser"]["AssumedRoleId"],
                                     "Arn": session["AssumedRoleUser"]["Arn"]}
    assert answer["ScopedPoliciesCount"] == 1
    assert answer["SourceIdentity"] == "alice"
    assert answer["SessionTokenSize"] == len(narrow.session_token)
    assert 0 < answer["SessionTokenUtilization"] <= 100
    assert answer["Credentials"]["Expiration"] == session["Credentials"]["Expiration"]  # inherited
    # The same identity: same ARN, same principal id.
    def identity(creds: Credentials) -> tuple[str, str, str]:
        answer = server.client("sts", creds).get_caller_identity()
        return answer["Arn"], answer["UserId"], answer["Account"]

    assert identity(narrow) == identity(base)
    # Allowed by both: works. Allowed by the session only: denied, on IAM and on STS (trust decision).
    server.client("iam", narrow).list_users()
    denied = error_of(server.client("iam", narrow).list_roles)
    assert denied["Code"] == "AccessDenied" and "iam:ListRoles" in denied["Message"]
    other_role = make_role(server, trust({"AWS": role_arn}))
    server.client("sts", base).assume_role(RoleArn=other_role, RoleSessionName="chained")
    refused = error_of(lambda: server.client("sts", narrow).assume_role(RoleArn=other_role, RoleSessionName="chained"))
    assert refused["Code"] == "AccessDenied"
    # The calling session keeps its own permissions.
    server.client("iam", base).list_roles()


def test_every_layer_holds_and_a_fourth_is_refused(server: ServerInfo) -> None:
    _, session = role_session(server, allow("iam:List*"))
    first = creds_of(scoped(server, creds_of(session),
                            Policy=json.dumps(allow(["iam:ListUsers", "iam:ListRoles", "iam:ListGroups"]))))
    second = creds_of(scoped(server, first, Policy=json.dumps(allow(["iam:ListUsers", "iam:ListRoles"]))))
    answer = scoped(server, second, Policy=json.dumps(allow("iam:List*")))  # broader than layer 2: no matter
    assert answer["ScopedPoliciesCount"] == 3
    third = creds_of(answer)
    server.client("iam", third).list_users()
    server.client("iam", third).list_roles()
    assert error_of(server.client("iam", third).list_groups)["Code"] == "AccessDenied"  # layer 2
    assert error_of(server.client("iam", third).list_policies)["Code"] == "AccessDenied"  # layers 1 and 2
    fourth = error_of(lambda: scoped(server, third, Policy=json.dumps(allow("iam:ListUsers"))))
    assert fourth["Code"] == "AccessDenied" and "3 scope down policies" in fourth["Message"]
    # Shortening only adds no layer: allowed, and the layers are carried on.
    shorter = scoped(server, third, DurationSeconds=600)
    assert shorter["ScopedPoliciesCount"] == 3
    assert error_of(server.client("iam", creds_of(shorter)).list_groups)["Code"] == "AccessDenied"


def test_an_explicit_deny_in_a_layer_denies(server: ServerInfo) -> None:
    _, session = role_session(server, allow("iam:List*"))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:List*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]}
    narrow = creds_of(scoped(server, creds_of(session), Policy=json.dumps(policy)))
    server.client("iam", narrow).list_users()
    denied = error_of(server.client("iam", narrow).list_roles)
    assert denied["Code"] == "AccessDenied" and "explicit deny" in denied["Message"]


def test_duration_shortens_but_never_extends(server: ServerInfo) -> None:
    _, session = role_session(server, allow("iam:ListUsers"), duration=3600)
    base = creds_of(session)
    short = scoped(server, base, DurationSeconds=900)
    assert short["ScopedPoliciesCount"] == 0 and "SourceIdentity" not in short
    assert session["Credentials"]["Expiration"] - short["Credentials"]["Expiration"] >= timedelta(seconds=2600)
    server.client("iam", creds_of(short)).list_users()  # no policy: the session's permissions
    error = error_of(lambda: scoped(server, base, DurationSeconds=7200))
    assert error["Code"] == "InsufficientSessionLifetime"
    assert "cannot extend" in error["Message"]
    # The shortened session cannot be stretched back either.
    assert error_of(lambda: scoped(server, creds_of(short), DurationSeconds=1800))["Code"] == "InsufficientSessionLifetime"


def test_long_term_credentials_are_refused(server: ServerInfo) -> None:
    _, user = make_user(server, allow("*"))
    for creds in (user, server.root):
        error = error_of(lambda: scoped(server, creds, DurationSeconds=900))
        assert error["Code"] == "InvalidSubjectCredentials"
        assert "temporary security credentials" in error["Message"]


def test_parameters_are_validated(server: ServerInfo) -> None:
    _, session = role_session(server, allow("iam:ListUsers"))
    base = creds_of(session)
    assert error_of(lambda: scoped(server, base))["Code"] == "ValidationError"
    assert error_of(lambda: scoped(server, base, Policy="{not json"))["Code"] == "MalformedPolicyDocument"
    lax = server.client("sts", base, parameter_validation=False)  # let the server judge the limits
    for params in ({"DurationSeconds": 0}, {"DurationSeconds": 129601}, {"Policy": "x" * 2049},
                   {"DurationSeconds": 900, "ScopedSessionDescription": "x"},
                   {"DurationSeconds": 900, "MinimumSessionTokenSize": 4097}):
        error = error_of(lambda: lax.get_scoped_credentials(**params))
        assert error["Code"] == "ValidationError", params


def test_federated_users_and_session_token_sessions_may_scope_down(server: ServerInfo) -> None:
    name, user = make_user(server, allow(["sts:GetFederationToken", "iam:ListUsers", "iam:ListRoles"]))
    federated = creds_of(server.client("sts", user).get_federation_token(
        Name="fed", Policy=json.dumps(allow("iam:*"))))
    answer = scoped(server, federated, Policy=json.dumps(allow("sts:GetCallerIdentity")))
    assert answer["SessionInfo"]["Arn"] == f"arn:aws:sts::{server.account_id}:federated-user/fed"
    session = creds_of(server.client("sts", user).get_session_token(DurationSeconds=900))
    answer = scoped(server, session, DurationSeconds=60)
    assert answer["SessionInfo"]["Arn"] == user_arn(server, name)
    assert server.client("sts", creds_of(answer)).get_caller_identity()["Arn"] == user_arn(server, name)


def test_authorize_endpoint_applies_the_layers(server: ServerInfo) -> None:
    _, session = role_session(server, allow(["ec2:StopInstances", "ec2:StartInstances"]))
    base = creds_of(session)
    narrow = creds_of(scoped(server, base, Policy=json.dumps(allow("ec2:StartInstances"))))
    assert authorize(server, base)["decision"] == "Allow"
    assert authorize(server, narrow, action="ec2:StartInstances")["decision"] == "Allow"
    denied = authorize(server, narrow)  # ec2:StopInstances: the session allows it, the layer does not
    assert denied["decision"] == "Deny"
    message = server.client("sts").decode_authorization_message(EncodedMessage=denied["encodedMessage"])
    document = json.loads(message["DecodedMessage"])
    assert any("scope-down" in f["reason"] for f in document["failures"]["items"])
    assert denied["principal"]["arn"] == session["AssumedRoleUser"]["Arn"]


def test_policy_simulator_is_reached_through_the_layers(server: ServerInfo) -> None:
    role_arn, session = role_session(server, allow(["iam:SimulatePrincipalPolicy", "iam:ListUsers"]))
    base = creds_of(session)
    narrow = creds_of(scoped(server, base, Policy=json.dumps(allow("iam:ListUsers"))))
    server.client("iam", base).simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["iam:ListUsers"])
    error = error_of(lambda: server.client("iam", narrow).simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["iam:ListUsers"]))
    assert error["Code"] == "AccessDenied"


def test_description_is_in_the_audit_trail(server: ServerInfo) -> None:
    _, session = role_session(server, allow("iam:ListUsers"))
    answer = scoped(server, creds_of(session), DurationSeconds=900, ScopedSessionDescription="nightly report job")
    rid = answer["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 20
    while True:
        found = [r for r in stored_records(server) if r["requestID"] == rid]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found, "GetScopedCredentials not recorded"
    record = found[0]
    assert record["eventName"] == "GetScopedCredentials"
    assert record["requestParameters"]["scopedSessionDescription"] == "nightly report job"
    assert record["responseElements"]["credentials"]["sessionToken"] != answer["Credentials"]["SessionToken"]


def aws_cli(server: ServerInfo, creds: Credentials, tmp_path: Path, *args: str) -> dict[str, Any]:
    """``aws sts ARGS --output json`` with ``creds``, its JSON answer.

    The AWS CLI installed here vendors an older botocore whose STS model predates
    GetScopedCredentials and the token-size fields: it is given the STS model of the botocore that
    boto3 uses (1.44.8), through AWS_DATA_PATH, as a user with an older CLI would.
    """
    import botocore

    model_dir = tmp_path / "models" / "sts" / "2011-06-15"
    model_dir.mkdir(parents=True, exist_ok=True)
    source = Path(botocore.__file__).parent / "data" / "sts" / "2011-06-15" / "service-2.json.gz"
    (model_dir / "service-2.json").write_bytes(gzip.decompress(source.read_bytes()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=creds.access_key_id, AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
               AWS_SESSION_TOKEN=creds.session_token or "", AWS_ENDPOINT_URL=server.url, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_DATA_PATH=str(tmp_path / "models"))
    out = subprocess.run([sys.executable, "-m", "awscli", "sts", *args, "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


def test_aws_cli_get_scoped_credentials(server: ServerInfo, tmp_path: Path) -> None:
    _, session = role_session(server, allow("iam:ListUsers"))
    answer = aws_cli(server, creds_of(session), tmp_path, "get-scoped-credentials",
                     "--policy", json.dumps(allow("iam:ListUsers")), "--scoped-session-description", "from the CLI",
                     "--minimum-session-token-size", "2048")
    assert answer["ScopedPoliciesCount"] == 1
    assert answer["SessionTokenSize"] == len(answer["Credentials"]["SessionToken"]) >= 2048
    assert answer["SessionInfo"]["Arn"] == session["AssumedRoleUser"]["Arn"]


@pytest.mark.parametrize("operation, params, words", [
    ("assume_root", {"TargetPrincipal": "111122223333",
                     "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}},
     "centralized root access"),
    ("get_delegated_access_token", {"TradeInToken": "x" * 40}, "delegation request"),
])
def test_out_of_scope_actions_say_why(server: ServerInfo, operation: str, params: dict[str, Any], words: str) -> None:
    sts = server.client("sts")
    with pytest.raises(sts.exceptions.RegionDisabledException) as info:
        getattr(sts, operation)(**params)
    error = info.value.response["Error"]
    assert error["Code"] == "RegionDisabledException" and words in error["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_revoking_a_session_revokes_its_scoped_copies(server: ServerInfo) -> None:
    """The documented revocation (a Deny on aws:TokenIssueTime before now, docs/SESSION-TOKENS.md)
    also stops credentials scoped from the session before or after it: they carry the session's
    own issue time, so a stolen session cannot escape its revocation through GetScopedCredentials."""
    role_arn, session = role_session(server, allow(["iam:ListUsers"]))
    base = creds_of(session)
    before = creds_of(scoped(server, base, DurationSeconds=1800))
    server.client("iam", before).list_users()
    time.sleep(1.1)  # the revocation's cut-off must be later than the session's issue time
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    revoke = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                                                      "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}
    server.client("iam").put_role_policy(RoleName=role_arn.rsplit("/", 1)[1], PolicyName="revoke",
                                         PolicyDocument=json.dumps(revoke))
    for creds in (base, before):
        assert error_of(server.client("iam", creds).list_users)["Code"] == "AccessDenied"
    late = creds_of(scoped(server, base, DurationSeconds=1700))
    assert error_of(server.client("iam", late).list_users)["Code"] == "AccessDenied"
