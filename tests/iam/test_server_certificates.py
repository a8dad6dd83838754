"""Server certificates over HTTP with boto3: upload (key checked against the certificate, chain
checked issuer by issuer), get without the key, list with paths and paging, rename, tags, delete;
the private key never leaves the server and is stored sealed."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, create_engine, inspect, select, text

from opensts.store.db import normalise_url

from tests.conftest import ServerInfo, random_name
from tests.iam.conftest import allow, make_user
from tests.iam.test_users import error_of

NOW = datetime.now(timezone.utc)


# --- Certificates made by the test -----------------------------------------------------------------
def make_key(kind: str = "ec") -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def make_cert(
    key,  # type: ignore[no-untyped-def]
    common_name: str = "example.test",
    *,
    issuer: tuple[x509.Certificate, object] | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=2))
        .not_valid_after(not_after or NOW + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL) -> str:  # type: ignore[no-untyped-def]
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def key_fragments(key) -> list[str]:  # type: ignore[no-untyped-def]
    """Distinctive pieces of the key's PEM forms (PKCS#1/SEC1 and PKCS#8), to search answers for."""
    out = []
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        lines = key_pem(key, fmt).splitlines()[1:-1]
        out.append(lines[len(lines) // 2][8:48])
    return out


def chain_of_two() -> tuple[str, str, str]:
    """(leaf PEM, leaf key PEM, chain PEM: intermediate then root)."""
    root_key, mid_key, leaf_key = make_key(), make_key(), make_key()
    root = make_cert(root_key, "Test Root", ca=True)
    mid = make_cert(mid_key, "Test Intermediate", issuer=(root, root_key), ca=True)
    leaf = make_cert(leaf_key, "www.example.test", issuer=(mid, mid_key))
    return pem(leaf), key_pem(leaf_key), pem(mid) + pem(root)


def upload(iam, name: str, key=None, **extra):  # type: ignore[no-untyped-def]
    key = key or make_key()
    cert = make_cert(key)
    return iam.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=pem(cert), PrivateKey=key_pem(key), **extra
    )


# --- Tests -----------------------------------------------------------------------------------------
def test_upload_get_list_update_delete(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("web")
    leaf, leaf_key, chain = chain_of_two()
    meta = iam.upload_server_certificate(
        Path="/cloudfront/", ServerCertificateName=name, CertificateBody=leaf, PrivateKey=leaf_key,
        CertificateChain=chain, Tags=[{"Key": "env", "Value": "prod"}],
    )["ServerCertificateMetadata"]
    assert meta["ServerCertificateId"].startswith("ASCA") and meta["Path"] == "/cloudfront/"
    assert meta["Arn"] == f"arn:aws:iam::{server.account_id}:server-certificate/cloudfront/{name}"
    expected_expiry = x509.load_pem_x509_certificate(leaf.encode()).not_valid_after_utc
    assert meta["Expiration"] == expected_expiry
    got = iam.get_server_certificate(ServerCertificateName=name.upper())["ServerCertificate"]
    assert got["ServerCertificateMetadata"] == meta
    assert got["CertificateBody"] == leaf.strip() and got["CertificateChain"] == chain.strip()
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "PrivateKey" not in got
    assert iam.get_account_summary()["SummaryMap"]["ServerCertificates"] >= 1
    listed = iam.list_server_certificates(PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in listed] == [name]
    assert name not in [m["ServerCertificateName"] for m in iam.list_server_certificates(PathPrefix="/elb/")["ServerCertificateMetadataList"]]
    with pytest.raises(ClientError) as info:
        upload(iam, name.lower())
    assert error_of(info) == ("EntityAlreadyExists", f"The Server Certificate with name {name.lower()} already exists.", 409)
    renamed = name + "-v2"
    iam.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=renamed, NewPath="/elb/")
    meta2 = iam.get_server_certificate(ServerCertificateName=renamed)["ServerCertificate"]["ServerCertificateMetadata"]
    assert meta2["Arn"].endswith(f":server-certificate/elb/{renamed}")
    assert meta2["ServerCertificateId"] == meta["ServerCertificateId"]
    iam.delete_server_certificate(ServerCertificateName=renamed)
    with pytest.raises(ClientError) as info:
        iam.get_server_certificate(ServerCertificateName=renamed)
    assert error_of(info) == ("NoSuchEntity", f"The Server Certificate with name {renamed} cannot be found.", 404)


def test_paging(iam) -> None:  # type: ignore[no-untyped-def]
    prefix = f"/{random_name('page')}/"
    names = sorted(random_name("p") for _ in range(3))
    key = make_key()
    for name in names:
        upload(iam, name, key, Path=prefix)
    pages = iam.get_paginator("list_server_certificates").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
    assert [m["ServerCertificateName"] for p in pages for m in p["ServerCertificateMetadataList"]] == names
    for name in names:
        iam.delete_server_certificate(ServerCertificateName=name)


def test_tags(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("tagged")
    upload(iam, name)
    iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "1"}])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [
        {"Key": "A", "Value": "1"}, {"Key": "b", "Value": "2"},
    ]
    iam.untag_server_certificate(ServerCertificateName=name, TagKeys=["a"])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as info:
        iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(info) == ("LimitExceeded", "Cannot exceed quota for TagsPerServerCertificate: 50", 409)
    with pytest.raises(ClientError) as info:
        iam.list_server_certificate_tags(ServerCertificateName="no-such-cert")
    assert error_of(info)[0] == "NoSuchEntity"
    iam.delete_server_certificate(ServerCertificateName=name)


def test_certificate_and_key_errors(iam) -> None:  # type: ignore[no-untyped-def]
    key, other = make_key("rsa"), make_key()
    cert = make_cert(key)

    def code(**params) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
        args = {"ServerCertificateName": random_name("bad"), "CertificateBody": pem(cert), "PrivateKey": key_pem(key), **params}
        with pytest.raises(ClientError) as info:
            iam.upload_server_certificate(**args)
        return error_of(info)

    assert code(PrivateKey=key_pem(other)) == (
        "KeyPairMismatch", "The private key does not match the public key in the certificate.", 400
    )
    assert code(CertificateBody="-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----")[0] == "MalformedCertificate"
    assert code(CertificateBody=pem(cert) + pem(cert))[0] == "MalformedCertificate"
    assert code(PrivateKey="garbage")[0] == "MalformedCertificate"
    # A P-256 certificate whose curve OID (1.2.840.10045.3.1.7) is turned into one no library knows
    # (…3.1.9): it parses, but its public key cannot be read.
    p256 = bytes.fromhex("06082a8648ce3d030107")
    der = make_cert(make_key()).public_bytes(serialization.Encoding.DER)
    assert der.count(p256) == 1
    unknown_curve = x509.load_der_x509_certificate(der.replace(p256, p256[:-1] + b"\x09"))
    assert code(CertificateBody=pem(unknown_curve))[0] == "MalformedCertificate"
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    assert code(PrivateKey=encrypted)[0] == "MalformedCertificate"
    old = make_cert(key, not_after=NOW - timedelta(days=1))
    assert code(CertificateBody=pem(old)) == (
        "MalformedCertificate",
        "Certificate is no longer valid. The 'Not After' date restriction on the certificate has passed.",
        400,
    )
    # A chain that does not start with the certificate's issuer.
    stranger_key = make_key()
    assert code(CertificateChain=pem(make_cert(stranger_key, "Stranger CA", ca=True)))[0] == "MalformedCertificate"
    # PKCS#8 keys are accepted as well as PKCS#1.
    name = random_name("pkcs8")
    iam.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=pem(cert), PrivateKey=key_pem(key, serialization.PrivateFormat.PKCS8)
    )
    iam.delete_server_certificate(ServerCertificateName=name)


def test_authorization(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("guarded")
    upload(iam, name, Path="/team/")
    _, creds = make_user(server, allow(["iam:GetServerCertificate", "iam:ListServerCertificates"],
                                       f"arn:aws:iam::{server.account_id}:server-certificate/team/*"))
    reader = server.client("iam", creds)
    assert reader.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]["CertificateBody"]
    with pytest.raises(ClientError) as info:
        reader.delete_server_certificate(ServerCertificateName=name)
    assert error_of(info)[0] == "AccessDenied"
    # Permission is checked before existence: a missing certificate is AccessDenied too.
    with pytest.raises(ClientError) as info:
        reader.delete_server_certificate(ServerCertificateName="does-not-exist")
    assert error_of(info)[0] == "AccessDenied"
    with pytest.raises(ClientError) as info:
        upload(reader, random_name("x"))
    assert error_of(info)[0] == "AccessDenied"
    # Renaming needs the permission on the new ARN too.
    _, mover = make_user(server, allow("iam:UpdateServerCertificate", f"arn:aws:iam::{server.account_id}:server-certificate/team/*"))
    with pytest.raises(ClientError) as info:
        server.client("iam", mover).update_server_certificate(ServerCertificateName=name, NewPath="/other/")
    assert error_of(info)[0] == "AccessDenied"
    iam.delete_server_certificate(ServerCertificateName=name)


def test_private_key_never_answered_and_stored_sealed(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    bodies: list[bytes] = []
    iam.meta.events.register("after-call.iam.*", lambda http_response, **_: bodies.append(http_response.content))
    key = make_key("rsa")
    name = random_name("secret")
    upload(iam, name, key, Tags=[{"Key": "k", "Value": "v"}])
    iam.get_server_certificate(ServerCertificateName=name)
    iam.list_server_certificates()
    iam.list_server_certificate_tags(ServerCertificateName=name)
    iam.get_account_authorization_details()
    with pytest.raises(ClientError):  # a failed upload echoes nothing of the key either
        iam.upload_server_certificate(
            ServerCertificateName=name, CertificateBody=pem(make_cert(key)), PrivateKey=key_pem(key) + "x"
        )
    with pytest.raises(ClientError) as info:  # nor does a validation error quote it
        iam.upload_server_certificate(
            ServerCertificateName=random_name("v"), CertificateBody=pem(make_cert(key)), PrivateKey=key_pem(key) + "\x01"
        )
    assert error_of(info)[0] == "ValidationError" and "privateKey" in error_of(info)[1]
    fragments = key_fragments(key)
    assert len(bodies) == 7
    for body in bodies:
        for fragment in fragments:
            assert fragment.encode() not in body
    # The audit trail records the call with the key redacted.
    ct = server.client("cloudtrail")
    events: list = []
    for _ in range(100):
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "UploadServerCertificate"}])["Events"]
        if any(name in e["CloudTrailEvent"] for e in events):
            break
        time.sleep(0.1)
    record = next(json.loads(e["CloudTrailEvent"]) for e in events if name in e["CloudTrailEvent"])
    assert record["requestParameters"]["privateKey"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    # Nowhere in the database (any table, any text column) is the key in clear.
    assert_nowhere_in_database(server, fragments)
    engine = db_engine(server)
    try:
        with engine.connect() as conn:
            sealed = conn.execute(text("SELECT key_sealed FROM server_certificates WHERE name = :n"), {"n": name}).scalar_one()
    finally:
        engine.dispose()
    assert b"PRIVATE KEY" not in bytes(sealed)
    iam.delete_server_certificate(ServerCertificateName=name)


def db_engine(server: ServerInfo) -> Engine:
    """A plain engine on the server's database (the test reads what the server stored)."""
    return create_engine(normalise_url(server.database_url))


def assert_nowhere_in_database(server: ServerInfo, fragments: list[str]) -> None:
    """No fragment appears in any column of any row of the server's database."""
    engine = db_engine(server)
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(select(text("*")).select_from(text(f'"{table}"'))):
                    for value in row:
                        raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                        for fragment in fragments:
                            assert fragment.encode() not in raw, f"{fragment!r} found in table {table}"
    finally:
        engine.dispose()
