"""No secret reaches the audit trail: not the store, not the JSON-lines stream, not the CloudTrail files.

One OpenSTS server (SQLite, ``OPENSTS_AUDIT_LOG`` and ``OPENSTS_AUDIT_DIR`` set, trusting a private
CA for a real HTTPS OIDC issuer) is driven over HTTP through every path that carries a secret, on
success and on failure. Every secret the test creates or sends is collected: secret access keys,
session tokens, JWTs, SAML assertions (base64 and decoded), TOTP seeds, QR codes, TOTP codes, a
private key. Once the trail has committed and the server has stopped (which delivers the CloudTrail
files), none of them may appear in the ``audit_events`` / ``audit_resources`` rows, in the JSON lines,
or in any gzipped CloudTrail file; random secrets not even as a 16-character piece.

Six-digit TOTP codes are the exception in how they are searched: six digits occur by chance inside
timestamps, ids and fingerprints, so codes are looked for only where a code could be copied to,
``requestParameters`` and ``errorMessage``.

Session tokens must be traceable: ``responseElements`` of the call that issued one holds its
SHA-256 fingerprint, and each call signed with it carries ``additionalEventData.sessionTokenSha256``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pyotp
import pytest
from botocore import UNSIGNED
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.authorize.conftest import call as authorize_call
from tests.authorize.conftest import inner_request, instance_arn
from tests.conftest import Credentials, ServerInfo, random_name, start_server, stop_server
from tests.federation import oidc_issuer
from tests.federation.oidc_issuer import make_role as web_role
from tests.federation.oidc_issuer import register, trust_policy
from tests.federation.saml_idp import SamlIdp
from tests.federation.test_saml import create_provider
from tests.federation.test_saml import make_role as saml_role
from tests.console.helpers import browser as console_browser
from tests.console.helpers import federation_login as console_federation_login
from tests.console.helpers import sign_in as console_sign_in
from tests.console.helpers import signin_token as console_signin_token
from tests.iam.conftest import allow, make_user
from tests.sts.test_assume_role import creds_of, make_role, trust, user_arn

oidc_pki = oidc_issuer.oidc_pki
oidc_idp = oidc_issuer.oidc_idp

IDP = SamlIdp()
WINDOW = 16  # random secrets may not appear even as a piece this long


# --- An audited server and its trail (shared with test_audit_records.py) ------------------------------
def start_audited(tmp: Path, backend: str, ca_path: Path) -> ServerInfo:
    """A server with both streams on: ``tmp/audit.jsonl`` and ``tmp/trail/``, and the writer
    process from the first call (the calls before it is ready are committed on the loop: both
    paths are exercised)."""
    return start_server(tmp, backend, extra_env={
        "SSL_CERT_FILE": str(ca_path),
        "OPENSTS_AUDIT_WRITER": "process",
        "OPENSTS_AUDIT_LOG": str(tmp / "audit.jsonl"),
        "OPENSTS_AUDIT_DIR": str(tmp / "trail"),
    })


def stored_records(server: ServerInfo) -> list[dict[str, Any]]:
    """Every account's events, from the store (SQLite or PostgreSQL), oldest first per account."""
    from opensts.store import schema
    from opensts.store.db import create_store_engine
    from sqlalchemy import select

    engine = create_store_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(schema.audit_events.c.record).order_by(
                schema.audit_events.c.account_id, schema.audit_events.c.seq)).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]) for row in rows]


def request_id(response: dict[str, Any]) -> str:
    """The x-amzn-RequestId header the client saw."""
    return response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def failure(call: Callable[[], Any]) -> dict[str, Any]:
    """The error response of a call that must fail (Error and ResponseMetadata)."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value.response


def wait_for(server: ServerInfo, request_ids: set[str], deadline: float = 20.0) -> list[dict[str, Any]]:
    """The stored records once every one of ``request_ids`` is among them (polled, bounded)."""
    stop = time.monotonic() + deadline
    while True:
        records = stored_records(server)
        missing = request_ids - {r["requestID"] for r in records}
        if not missing:
            return records
        assert time.monotonic() < stop, f"never recorded: {sorted(missing)}"
        time.sleep(0.1)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- The test -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audited(oidc_pki: oidc_issuer.IssuerPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_audited(tmp_path_factory.mktemp("audited"), "sqlite", oidc_pki.ca_path)
    yield info
    stop_server(info)


class Secrets:
    """What must never be recorded: random secrets (searched whole and by pieces), exact values
    (searched whole: they contain public text), and TOTP codes (searched where a code could land)."""

    def __init__(self) -> None:
        self.random: set[str] = set()
        self.exact: set[str] = set()
        self.codes: set[str] = set()
        self.tokens: set[str] = set()  # session tokens, whose fingerprints must be recorded

    def credentials(self, creds: Credentials) -> Credentials:
        self.random.add(creds.secret_access_key)
        if creds.session_token:
            self.random.add(creds.session_token)
            self.tokens.add(creds.session_token)
        return creds

    def saml(self, assertion: str) -> str:
        # Whole: the base64 of public text (the IdP's name and certificate) is not random.
        self.exact.add(assertion)
        xml = base64.b64decode(assertion).decode()
        self.exact.add(xml)
        # The signature value is the random part of the decoded assertion.
        for part in xml.split("SignatureValue>")[1::2]:  # the text after each opening tag
            value = part.split("<", 1)[0].replace("\n", "")
            if len(value) > WINDOW:
                self.random.add(value)
        return assertion


def test_no_secret_is_recorded_or_exported(audited: ServerInfo, oidc_idp: oidc_issuer.IssuerServer) -> None:
    server, s, ids = audited, Secrets(), set()
    s.credentials(server.root)
    iam, sts = server.client("iam"), server.client("sts")

    # Access keys: CreateAccessKey's secret; a call signed with a wrong secret.
    name, user = make_user(server, allow(["sts:*", "iam:*"]))
    s.credentials(user)
    created = iam.create_access_key(UserName=name)
    s.random.add(created["AccessKey"]["SecretAccessKey"])
    ids.add(request_id(created))
    wrong = Credentials(user.access_key_id, "w" + user.secret_access_key[1:])
    s.random.add(wrong.secret_access_key)
    ids.add(request_id(failure(server.client("sts", wrong).get_caller_identity)))

    # Virtual MFA: the seed, the QR code, the two enabling codes (a wrong pair first); one device
    # per user, for GetSessionToken and AssumeRole (a code is accepted once per device).
    serial, totp = _mfa_device(server, name, s, ids)
    name2, user2 = make_user(server)
    s.credentials(user2)
    serial2, totp2 = _mfa_device(server, name2, s, ids)

    # GetSessionToken and AssumeRole, with a right, a wrong and a malformed MFA code.
    user_sts = server.client("sts", user)
    loose_sts = server.client("sts", user, parameter_validation=False)
    role_arn = make_role(server, trust({"AWS": [user_arn(server, name), user_arn(server, name2)]}),
                         allow(["sts:GetCallerIdentity", "ec2:StopInstances"]))
    plain = user_sts.get_session_token(DurationSeconds=900)
    ids.add(request_id(plain))
    plain_creds = s.credentials(creds_of(plain))
    code = totp.at(time.time() + 30)
    s.codes.add(code)
    with_mfa = user_sts.get_session_token(SerialNumber=serial, TokenCode=code)
    ids.add(request_id(with_mfa))
    mfa_creds = s.credentials(creds_of(with_mfa))
    # Malformed codes too (too short, not digits), spelt so that they cannot occur by chance in
    # another call's parameters (a SAML metadata document's base64 holds "12a" often enough).
    for bad in (f"{(int(code) + 1) % 10**6:06d}", "1!2", "9x8y7z!"):
        s.codes.add(bad)
        ids.add(request_id(failure(lambda: loose_sts.get_session_token(SerialNumber=serial, TokenCode=bad))))
        ids.add(request_id(failure(lambda: loose_sts.assume_role(
            RoleArn=role_arn, RoleSessionName="mfa", SerialNumber=serial, TokenCode=bad))))
    code = totp2.at(time.time() + 30)
    s.codes.add(code)
    assumed = server.client("sts", user2).assume_role(
        RoleArn=role_arn, RoleSessionName="mfa", SerialNumber=serial2, TokenCode=code)
    ids.add(request_id(assumed))
    role_creds = s.credentials(creds_of(assumed))
    federated = user_sts.get_federation_token(Name="fed", Policy=json.dumps(allow("sts:GetCallerIdentity")))
    ids.add(request_id(federated))
    fed_creds = s.credentials(creds_of(federated))

    # Calls signed with session tokens: signed headers, a presigned URL, a tampered token.
    signed_with: dict[str, str] = {}  # request id → the session token that signed it
    for creds in (plain_creds, mfa_creds, role_creds, fed_creds):
        signed_with[request_id(server.client("sts", creds).get_caller_identity())] = creds.session_token or ""
    signed_with[request_id(server.client("iam", mfa_creds).list_roles())] = mfa_creds.session_token or ""
    url = server.client("sts", role_creds).generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "X-Amz-Security-Token=" in url
    presigned = httpx.get(url, timeout=10)
    assert presigned.status_code == 200, presigned.text
    signed_with[presigned.headers["x-amzn-RequestId"]] = role_creds.session_token or ""
    token = role_creds.session_token or ""
    tampered = Credentials(role_creds.access_key_id, role_creds.secret_access_key, token[:40] + "A" + token[41:])
    s.random.add(tampered.session_token or "")
    ids.add(request_id(failure(server.client("sts", tampered).get_caller_identity)))
    ids.update(signed_with)

    # /v1/authorize: inner requests signed with session credentials (Allow, Deny, a bad token).
    for creds, decision in ((role_creds, "Allow"), (fed_creds, "Deny"), (tampered, "Deny")):
        payload = {"request": inner_request(creds), "action": "ec2:StopInstances",
                   "resource": instance_arn(server.account_id)}
        answer = authorize_call(server, payload)
        assert answer.status_code == 200 and answer.json()["decision"] == decision, answer.text
        ids.add(answer.headers["x-amzn-RequestId"])
        if creds is not tampered:
            signed_with[answer.headers["x-amzn-RequestId"]] = creds.session_token or ""

    # AssumeRoleWithWebIdentity: a good token, a forged one (another key), an expired one.
    issuer = oidc_idp.issuer()
    provider_arn = register(server, issuer)
    web_arn = web_role(server, trust_policy(provider_arn))
    anonymous = server.client("sts", signature_version=UNSIGNED)
    good = issuer.token(sub="web-user")
    forged = issuer.token(key=oidc_issuer.new_key(), sub="web-user")
    expired = issuer.token(sub="web-user", iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    s.exact.update({good, forged, expired})  # their claims are recorded: only the signatures are random
    s.random.update(t.rsplit(".", 1)[1] for t in (good, forged, expired))
    web = anonymous.assume_role_with_web_identity(RoleArn=web_arn, RoleSessionName="web", WebIdentityToken=good)
    ids.add(request_id(web))
    s.credentials(creds_of(web))
    # Malformed tokens: not a JWT, a JWT with whitespace around it, a JWT of another issuer.
    other = oidc_idp.issuer()
    garbage = "not-a-jwt-" + secrets.token_urlsafe(24)
    padded = "\n " + issuer.token(sub="web-user", aud="someone-else") + " \n"
    foreign = other.token(sub="web-user")
    s.exact.update({garbage, padded, padded.strip(), foreign})
    s.random.update({garbage[10:], padded.strip().rsplit(".", 1)[1], foreign.rsplit(".", 1)[1]})
    for bad_token in (forged, expired, garbage, padded, foreign, good):  # the last: a replay, or accepted again
        try:
            again = anonymous.assume_role_with_web_identity(
                RoleArn=web_arn, RoleSessionName="web", WebIdentityToken=bad_token)
            ids.add(request_id(again))
            s.credentials(creds_of(again))
        except botocore.exceptions.ClientError as error:
            ids.add(request_id(error.response))

    # AssumeRoleWithSAML: a signed assertion, then a replay, a tampered and an unsigned one.
    provider = create_provider(server, IDP)
    saml_arn = saml_role(server, provider.arn)
    assertion = s.saml(IDP.response(roles=[(saml_arn, provider.arn)]))
    saml = anonymous.assume_role_with_saml(RoleArn=saml_arn, PrincipalArn=provider.arn, SAMLAssertion=assertion)
    ids.add(request_id(saml))
    s.credentials(creds_of(saml))
    unsigned = s.saml(IDP.response(sign="none", roles=[(saml_arn, provider.arn)]))
    tampered_xml = base64.b64decode(IDP.response(roles=[(saml_arn, provider.arn)])).replace(
        b"alice@example.test", b"mallory@example.test")
    forged_saml = s.saml(base64.b64encode(tampered_xml).decode())
    not_base64 = "%%%" + secrets.token_urlsafe(24)
    not_xml = base64.b64encode(b"<saml " + secrets.token_hex(20).encode()).decode()
    s.exact.update({not_base64, not_xml})
    s.random.update({not_base64[3:]})
    for bad_assertion in (assertion, unsigned, forged_saml, not_base64, not_xml):
        ids.add(request_id(failure(lambda: anonymous.assume_role_with_saml(
            RoleArn=saml_arn, PrincipalArn=provider.arn, SAMLAssertion=bad_assertion))))

    # A SAML provider with a private key (refused: assertion encryption is not supported).
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    s.exact.add(pem)
    s.random.add("".join(pem.splitlines()[1:-1]))
    for line in pem.splitlines()[1:-1]:
        s.random.add(line)
    ids.add(request_id(failure(lambda: iam.create_saml_provider(
        Name=random_name("enc"), SAMLMetadataDocument=IDP.metadata(), AddPrivateKey=pem))))
    ids.add(request_id(failure(lambda: iam.update_saml_provider(SAMLProviderArn=provider.arn, AddPrivateKey=pem))))

    # The web console: a password sign-in with an MFA code, a failed one (with a password typed as the
    # user name, which happens), and a federation sign-in token. None of them may be recorded.
    console_user, _ = make_user(server)
    password, wrong_password = "Pw-" + secrets.token_urlsafe(24), "Pw-" + secrets.token_urlsafe(24)
    s.random.update((password, wrong_password))
    ids.add(request_id(iam.create_login_profile(UserName=console_user, Password=password)))
    _, console_totp = _mfa_device(server, console_user, s, ids)
    console_code = console_totp.at(time.time() + 30)
    s.codes.add(console_code)
    with console_browser(server) as client:
        answer = console_sign_in(client, kind="user", account=server.account_id, username=wrong_password,
                                 password=wrong_password)
        assert answer.status_code == 401
        answer = console_sign_in(client, kind="user", account=server.account_id, username=console_user,
                                 password=password, mfa=console_code)
        assert answer.status_code == 303, answer.text
        assert client.get("/console/").status_code == 200
        broker_creds = {"AccessKeyId": role_creds.access_key_id, "SecretAccessKey": role_creds.secret_access_key,
                        "SessionToken": role_creds.session_token}
        signin_token = console_signin_token(client, broker_creds).json()["SigninToken"]
        s.random.add(signin_token)
        assert console_federation_login(client, signin_token).status_code == 303

    # A durable marker: once it is stored, so is everything queued before it.
    marker = iam.create_user(UserName=random_name("marker"))
    ids.add(request_id(marker))
    records = wait_for(server, ids)
    logins = [r["responseElements"]["ConsoleLogin"] for r in records if r["eventName"] == "ConsoleLogin"]
    assert sorted(logins) == ["Failure", "Success", "Success"]  # the console's were recorded, and searched
    stop_server(server)
    assert server.process.returncode is not None

    # Session tokens are traced by their fingerprint, never shown.
    issued = {v for r in records for v in _strings(r.get("responseElements")) if v.startswith("sha256:")}
    assert {"sha256:" + sha256(t) for t in s.tokens if t != tampered.session_token} <= issued
    by_id = {r["requestID"]: r for r in records}
    for rid, session_token in signed_with.items():
        assert by_id[rid]["additionalEventData"]["sessionTokenSha256"] == sha256(session_token), rid

    # Where the trail lives: the store's rows, the JSON lines, the CloudTrail files.
    rows = _sqlite_rows(server)
    jsonl = (server.data_dir.parent / "audit.jsonl").read_text()
    files = sorted((server.data_dir.parent / "trail").rglob("*.json.gz"))
    assert files and all("/CloudTrail/" in f.as_posix() for f in files)
    delivered = [gzip.decompress(f.read_bytes()).decode() for f in files]
    delivered_records = [r for text in delivered for r in json.loads(text)["Records"]]
    assert {r["eventID"] for r in delivered_records} == {r["eventID"] for r in records}
    assert len(jsonl.splitlines()) == len(records)
    places = {"store": rows, "json lines": jsonl, **{f.name: text for f, text in zip(files, delivered)}}
    # And the records as parsed, for secrets that JSON would escape (the PEM's newlines, the XML's quotes).
    places["parsed"] = "\n".join(_strings(records))
    for where, text in places.items():
        _assert_no_secret(where, text, s)
    for record in [*records, *delivered_records]:
        searched = json.dumps([record.get("requestParameters"), record.get("errorMessage")])
        leaked = [code for code in s.codes if code in searched]
        assert not leaked, f"a TOTP code in {record['eventName']} {record['requestID']}"


def _mfa_device(server: ServerInfo, user_name: str, s: Secrets, ids: set[str]) -> tuple[str, pyotp.TOTP]:
    iam = server.client("iam")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))
    ids.add(request_id(device))
    seed = device["VirtualMFADevice"]["Base32StringSeed"].decode()
    png = device["VirtualMFADevice"]["QRCodePNG"]
    s.random.update({seed, base64.b64encode(png).decode(), png.hex()})
    serial, totp = device["VirtualMFADevice"]["SerialNumber"], pyotp.TOTP(seed)
    now = time.time()
    code1, code2 = totp.at(now - 30), totp.at(now)
    bad1, bad2 = f"{(int(code1) + 7) % 10**6:06d}", f"{(int(code2) + 7) % 10**6:06d}"
    s.codes.update({code1, code2, bad1, bad2})
    ids.add(request_id(failure(lambda: iam.enable_mfa_device(
        UserName=user_name, SerialNumber=serial, AuthenticationCode1=bad1, AuthenticationCode2=bad2))))
    ids.add(request_id(iam.enable_mfa_device(
        UserName=user_name, SerialNumber=serial, AuthenticationCode1=code1, AuthenticationCode2=code2)))
    return serial, totp


def _sqlite_rows(server: ServerInfo) -> str:
    path = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        events = conn.execute("SELECT * FROM audit_events").fetchall()
        resources = conn.execute("SELECT * FROM audit_resources").fetchall()
    assert events and resources
    return "\n".join("\t".join(str(column) for column in row) for row in [*events, *resources])


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _assert_no_secret(where: str, text: str, s: Secrets) -> None:
    for secret in s.exact | s.random:
        assert secret not in text, f"a secret in {where}: {secret[:8]}..."
    windows = {text[i:i + WINDOW] for i in range(max(0, len(text) - WINDOW + 1))}
    for secret in s.random:
        for i in range(0, len(secret) - WINDOW + 1):
            assert secret[i:i + WINDOW] not in windows, f"a piece of a secret in {where}: {secret[:8]}..."
