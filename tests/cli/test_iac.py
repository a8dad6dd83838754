"""IAM as code over the real command line (``opensts plan|apply|export``, ``serve --bootstrap``) against
a real store, on SQLite and PostgreSQL; results checked over HTTP with boto3 where a client sees them.

Each test declares its own fresh account (``accounts: [{id: ...}]``), which apply creates, so tests
sharing the session's server do not see one another.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
import yaml
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opensts.config import Settings
from opensts.identity import ids
from opensts.runtime import open_runtime
from tests.conftest import REGION, ServerInfo, start_server, stop_server
from tests.federation.saml_idp import SamlIdp
from tests.iam.test_server_certificates import make_cert, make_key, pem

THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}]}


def opensts(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opensts", *args], env=env, capture_output=True, text=True, timeout=120)


def write(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False) if path.suffix != ".json" else json.dumps(content))
    return path


def declared(account: str, **entities: Any) -> dict[str, Any]:
    """A file declaring ``account`` with an administrator (``admin``, with a key) and ``entities``."""
    users = {"admin": {"inline_policies": {"all": ADMIN}, "access_key": True}, **entities.pop("users", {})}
    return {"version": 1, "accounts": [{"id": account, "users": users, **entities}]}


def base(account: str) -> dict[str, Any]:
    return declared(
        account,
        policies={
            "ReadArtifacts": {
                "path": "/ci/", "description": "read artifacts", "tags": {"team": "platform"},
                "document": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::artifacts/*"}]},
            },
        },
        groups={"developers": {"managed_policies": ["ReadArtifacts"]}},
        users={"bob": {"path": "/people/", "groups": ["developers"], "tags": {"team": "a"}}},
        roles={
            "deployer": {
                "description": "Deploys", "max_session_duration": 7200, "tags": {"purpose": "deploy"},
                "trust": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/token.example.com"},
                }]},
                "managed_policies": ["ReadArtifacts", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "inline_policies": {"whoami": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}},
            },
        },
        instance_profiles={"deployer-host": {"path": "/hosts/", "role": "deployer", "tags": {"tier": "ci"}}},
        alias=f"example-{account}",
        oidc_providers=[{"url": "https://token.example.com", "client_ids": ["sts.amazonaws.com"], "thumbprints": [THUMBPRINT]}],
        saml_providers={"corp": {"metadata": SamlIdp().metadata(), "tags": {"idp": "corp"}}},
    )


def apply_with_keys(env: dict[str, str], file: Path, keys: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = opensts(env, "apply", str(file), "--keys-dir", str(keys), *args)
    assert done.returncode == 0, done.stderr
    return done


def iam_client(server: ServerInfo, keys: Path, account: str, user: str = "admin") -> Any:
    key = json.loads((keys / f"{account}-{user}.json").read_text())
    return boto3.client(
        "iam", endpoint_url=server.url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"], config=Config(retries={"max_attempts": 1}),
    )


def test_plan_then_apply_makes_exactly_that_and_a_second_apply_changes_nothing(server: ServerInfo, tmp_path: Path) -> None:
    account = ids.new_account_id()
    file = write(tmp_path / "dev.yaml", base(account))
    planned = opensts(server.env(), "plan", str(file))
    assert planned.returncode == 0, planned.stderr
    for line in (f"+ account {account}", "+ role deployer", "+ user bob", "+ group developers", "+ policy ReadArtifacts",
                 "+ oidc provider https://token.example.com", "+ saml provider corp", "+ access key",
                 "+ instance profile deployer-host", f"+ alias example-{account}"):
        assert line in planned.stdout
    assert "Plan: 10 to create, 0 to update, 0 to delete." in planned.stdout

    keys = tmp_path / "keys"
    applied = apply_with_keys(server.env(), file, keys)
    assert "Applied: 10 created, 0 updated, 0 deleted." in applied.stdout
    key_file = keys / f"{account}-admin.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = json.loads(key_file.read_text())["SecretAccessKey"]
    assert secret not in applied.stdout + applied.stderr  # written once, to the file only

    iam = iam_client(server, keys, account)
    role = iam.get_role(RoleName="deployer")["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("Deploys", 7200)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"].endswith("token.example.com")
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {"purpose": "deploy"}
    policy_arn = f"arn:aws:iam::{account}:policy/ci/ReadArtifacts"
    assert sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="deployer")["AttachedPolicies"]) == [
        policy_arn, "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]
    profile = iam.get_instance_profile(InstanceProfileName="deployer-host")["InstanceProfile"]
    assert (profile["Path"], [r["RoleName"] for r in profile["Roles"]]) == ("/hosts/", ["deployer"])
    assert iam.list_instance_profile_tags(InstanceProfileName="deployer-host")["Tags"] == [{"Key": "tier", "Value": "ci"}]
    assert iam.list_account_aliases()["AccountAliases"] == [f"example-{account}"]
    assert iam.list_role_policies(RoleName="deployer")["PolicyNames"] == ["whoami"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="bob")["Groups"]] == ["developers"]
    assert iam.get_user(UserName="bob")["User"]["Path"] == "/people/"
    oidc = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=f"arn:aws:iam::{account}:oidc-provider/token.example.com")
    assert oidc["ClientIDList"] == ["sts.amazonaws.com"] and oidc["ThumbprintList"] == [THUMBPRINT]
    assert iam.list_saml_providers()["SAMLProviderList"][0]["Arn"].endswith(":saml-provider/corp")
    assert iam.list_access_keys(UserName="admin")["AccessKeyMetadata"]  # the key the file asked for
    assert iam.list_access_keys(UserName="bob")["AccessKeyMetadata"] == []

    again = opensts(server.env(), "apply", str(file))
    assert (again.returncode, again.stdout.strip()) == (0, "No changes."), again.stderr
    assert opensts(server.env(), "plan", str(file), "--detailed-exitcode").returncode == 0

    # The calls were recorded as the account's root, from the command line.
    trail = boto3.client(
        "cloudtrail", endpoint_url=server.url, region_name=REGION,
        aws_access_key_id=json.loads(key_file.read_text())["AccessKeyId"], aws_secret_access_key=secret,
    )
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateRole"}])["Events"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["userIdentity"]["type"] == "Root" and record["sourceIPAddress"] == "opensts-cli"
    assert record["requestParameters"]["roleName"] == "deployer"


def test_updates_are_planned_and_deletions_happen_only_with_prune(server: ServerInfo, tmp_path: Path) -> None:
    account = ids.new_account_id()
    content = base(account)
    file = write(tmp_path / "dev.yaml", content)
    keys = tmp_path / "keys"
    apply_with_keys(server.env(), file, keys)
    entry = content["accounts"][0]
    entry["roles"]["deployer"]["description"] = "Deploys everything"
    entry["roles"]["deployer"]["tags"] = {}
    entry["policies"]["ReadArtifacts"]["document"]["Statement"][0]["Action"] = ["s3:GetObject", "s3:ListBucket"]
    del entry["users"]["bob"]
    entry["groups"]["developers"]["managed_policies"] = []
    write(file, content)

    planned = opensts(server.env(), "plan", str(file))
    assert "~ role deployer" in planned.stdout and "description: Deploys everything" in planned.stdout
    assert "untag: purpose" in planned.stdout and "~ policy ReadArtifacts" in planned.stdout
    assert "- user bob" not in planned.stdout  # never without --prune
    assert "- user bob" in opensts(server.env(), "plan", str(file), "--prune").stdout

    apply_with_keys(server.env(), file, keys)
    iam = iam_client(server, keys, account)
    assert iam.get_role(RoleName="deployer")["Role"]["Description"] == "Deploys everything"
    assert iam.get_user(UserName="bob")  # kept
    version = iam.get_policy(PolicyArn=f"arn:aws:iam::{account}:policy/ci/ReadArtifacts")["Policy"]["DefaultVersionId"]
    assert version == "v2"

    # Bob holds credentials the file never declares, and the account a service-linked role: prune
    # deletes bob with his credentials and leaves the service's role alone.
    ssh_key = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    iam.upload_ssh_public_key(UserName="bob", SSHPublicKeyBody=ssh_key)
    iam.upload_signing_certificate(UserName="bob", CertificateBody=pem(make_cert(make_key(), "bob")))
    iam.create_service_specific_credential(UserName="bob", ServiceName="codecommit.amazonaws.com")
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9")
    linked = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")["Role"]["RoleName"]
    assert f"- role {linked}" not in opensts(server.env(), "plan", str(file), "--prune").stdout

    pruned = opensts(server.env(), "apply", str(file), "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "- user bob" in pruned.stdout
    assert iam.get_role(RoleName=linked)["Role"]["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.get_user(UserName="bob")
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    assert opensts(server.env(), "apply", str(file), "--prune").stdout.strip() == "No changes."


def test_export_then_apply_to_an_empty_store_reproduces_the_state(database_url: str, tmp_path: Path) -> None:
    def new_store(name: str, url: str) -> dict[str, str]:
        runtime = open_runtime(Settings(data_dir=tmp_path / name, database_url=url))
        runtime.close()
        return {**os.environ, "OPENSTS_DATA_DIR": str(tmp_path / name), "OPENSTS_DATABASE_URL": url}

    source = new_store("a", database_url)
    account = ids.new_account_id()
    content = base(account)
    content["accounts"][0]["users"]["admin"]["access_key"] = False
    assert opensts(source, "apply", str(write(tmp_path / "in.json", content))).returncode == 0
    exported = opensts(source, "export", "--account", account, "--to", str(tmp_path / "out.yaml"))
    assert exported.returncode == 0, exported.stderr
    text = (tmp_path / "out.yaml").read_text()
    assert "SecretAccessKey" not in text and "access_key" not in text
    assert opensts(source, "apply", str(tmp_path / "out.yaml")).stdout.strip() == "No changes."

    target_url = f"sqlite:///{tmp_path / 'b.db'}" if database_url.startswith("sqlite") else _fresh_postgres()
    target = new_store("b", target_url)
    copied = opensts(target, "apply", str(tmp_path / "out.yaml"))
    assert copied.returncode == 0, copied.stderr
    assert opensts(target, "export", "--account", account).stdout == text
    json_out = opensts(target, "export", "--to", str(tmp_path / "all.json"))
    assert json_out.returncode == 0
    assert account in [a["id"] for a in json.loads((tmp_path / "all.json").read_text())["accounts"]]


def _fresh_postgres() -> str:
    from tests.conftest import fresh_postgres_database

    return fresh_postgres_database()


def file_checks_only(server: ServerInfo) -> None:
    """The file is read and checked before the store is used: these run once, on SQLite (CI time)."""
    if server.backend != "sqlite":
        pytest.skip("file checks do not depend on the store: run once, on SQLite")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e["roles"]["deployer"]["trust"]["Statement"][0].pop("Principal"),
         "accounts[0].roles.deployer.trust.Statement[0].Principal: Missing required field Principal"),
        (lambda e: e["users"]["bob"].update(grups=["x"]), "accounts[0].users.bob: unknown field 'grups'"),
        (lambda e: e["roles"]["deployer"].update(max_session_duration=60), "accounts[0].roles.deployer.max_session_duration:"),
        (lambda e: e["users"]["bob"].update(groups=["nobody"]), "accounts[0].users.bob.groups[0]: no group 'nobody'"),
        (lambda e: e["groups"]["developers"].update(managed_policies=["Missing"]), "accounts[0].groups.developers.managed_policies[0]:"),
        (lambda e: e["policies"]["ReadArtifacts"]["document"]["Statement"][0].update(Effect="Maybe"),
         "accounts[0].policies.ReadArtifacts.document.Statement[0].Effect:"),
    ],
)
def test_an_invalid_file_is_refused_with_the_path_of_the_field(server: ServerInfo, tmp_path: Path, change: Any, where: str) -> None:
    file_checks_only(server)
    content = base(ids.new_account_id())
    change(content["accounts"][0])
    file = write(tmp_path / "bad.yaml", content)
    for command in ("plan", "apply"):
        done = opensts(server.env(), command, str(file))
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("opensts: error: ") and where in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1


def test_unreadable_files_are_one_line_errors(server: ServerInfo, tmp_path: Path) -> None:
    file_checks_only(server)
    cases = {
        "alias.yaml": "a: &x [1]\nb: *x\n",
        "dup.yaml": "users: {}\nusers: {}\n",
        "syntax.json": "{\"users\": ",
        "deep.json": "[" * 200 + "]" * 200,
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        done = opensts(server.env(), "plan", str(tmp_path / name))
        assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, (name, done.stderr)
    top = tmp_path / "single.yaml"
    top.write_text("version: 1\nroles:\n  r:\n    trust: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: sts:AssumeRole}]}\n")
    done = opensts(server.env(), "plan", str(top))
    assert "roles.r.trust.Statement[0].Principal: Missing required field Principal" in done.stderr
    # An empty (or truncated-to-nothing) file declares no version: refused, never read as "an
    # account with nothing in it" that --prune would empty.
    (tmp_path / "empty.yaml").write_text("")
    done = opensts(server.env(), "apply", str(tmp_path / "empty.yaml"), "--prune")
    assert (done.returncode, done.stderr) == (1, "opensts: error: (top level): 'version' is required\n")


def test_as_a_user_without_permission_is_denied_and_changes_nothing(server: ServerInfo, tmp_path: Path) -> None:
    account = ids.new_account_id()
    content = declared(account, users={"reader": {"inline_policies": {"read": READ_ONLY}}, "nobody": {}})
    file = write(tmp_path / "dev.yaml", content)
    keys = tmp_path / "keys"
    apply_with_keys(server.env(), file, keys)
    content["accounts"][0]["roles"] = {"new-role": {"trust": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}}}
    write(file, content)

    as_reader = opensts(server.env(), "apply", str(file), "--as", f"arn:aws:iam::{account}:user/reader")
    assert as_reader.returncode == 1 and "CreateRole: AccessDenied" in as_reader.stderr, as_reader.stderr
    as_nobody = opensts(server.env(), "plan", str(file), "--as", f"arn:aws:iam::{account}:user/nobody")
    assert as_nobody.returncode == 1 and ": AccessDenied: User: " in as_nobody.stderr
    iam = iam_client(server, keys, account)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []
    unknown = opensts(server.env(), "plan", str(file), "--as", f"arn:aws:iam::{account}:user/ghost")
    assert unknown.returncode == 1 and "no such user" in unknown.stderr
    # As the administrator user, it goes through.
    as_admin = opensts(server.env(), "apply", str(file), "--as", f"arn:aws:iam::{account}:user/admin")
    assert as_admin.returncode == 0, as_admin.stderr
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["new-role"]


def test_serve_bootstrap_applies_a_file_before_serving(tmp_path: Path) -> None:
    file = write(tmp_path / "boot.yaml", {"version": 1, "roles": {"ci": {"description": "from the bootstrap file", "trust": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}}}})
    server = start_server(tmp_path, "sqlite", {"OPENSTS_BOOTSTRAP": str(file)})
    try:
        assert server.client("iam").get_role(RoleName="ci")["Role"]["Description"] == "from the bootstrap file"
    finally:
        stop_server(server)
    # A restart applies it again: nothing changes, the server starts.
    again = start_server(tmp_path, "sqlite", {"OPENSTS_BOOTSTRAP": str(file)})
    stop_server(again)

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroles:\n  ci:\n    trust: {Version: 2012-10-17, Statement: [{Effect: Allow, Action: sts:AssumeRole}]}\n")
    with pytest.raises(RuntimeError) as refused:
        start_server(tmp_path / "other", "sqlite", {"OPENSTS_BOOTSTRAP": str(bad)})
    assert "roles.ci.trust.Statement[0].Principal" in str(refused.value)
