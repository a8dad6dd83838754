"""SAML IdP metadata parsing: what is accepted, and XML attacks (DOCTYPE, XXE, entity expansion)
that are refused before anything is resolved."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from opensts.federation.saml_metadata import MetadataError, parse_idp_metadata

ENTITY_ID = "https://idp.example.test/saml"


def self_signed_certificate(common_name: str = "idp.example.test", key=None) -> x509.Certificate:  # type: ignore[no-untyped-def]
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def cert_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def metadata_xml(
    certs: list[tuple[x509.Certificate, str | None]] | None = None,
    *,
    entity_id: str = ENTITY_ID,
    valid_until: str | None = None,
    idp: bool = True,
    prolog: str = '<?xml version="1.0" encoding="UTF-8"?>\n',
) -> str:
    """IdP metadata with the given (certificate, use) KeyDescriptors; at least 1,000 characters."""
    if certs is None:
        certs = [(self_signed_certificate(), "signing")]
    keys = "".join(
        f'<md:KeyDescriptor{f" use={chr(34)}{use}{chr(34)}" if use else ""}><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>\n{cert_b64(cert)}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for cert, use in certs
    )
    descriptor = (
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://idp.example.test/saml/sso"/>'
        "</md:IDPSSODescriptor>"
        if idp
        else '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
    )
    until = f' validUntil="{valid_until}"' if valid_until else ""
    return (
        f"{prolog}<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}"{until}>'
        f"{descriptor}"
        "<md:Organization><md:OrganizationName xml:lang=\"en\">Example IdP</md:OrganizationName>"
        '<md:OrganizationDisplayName xml:lang="en">Example IdP</md:OrganizationDisplayName>'
        '<md:OrganizationURL xml:lang="en">https://idp.example.test/</md:OrganizationURL></md:Organization>'
        "</md:EntityDescriptor>"
    )


def test_accepts_signing_certificates() -> None:
    signing = self_signed_certificate("signing")
    unspecified = self_signed_certificate("both", ec.generate_private_key(ec.SECP256R1()))
    encryption = self_signed_certificate("encryption")
    meta = parse_idp_metadata(metadata_xml([(signing, "signing"), (unspecified, None), (encryption, "encryption")]))
    assert meta.entity_id == ENTITY_ID
    assert [c.subject.rfc4514_string() for c in meta.signing_certificates] == ["CN=signing", "CN=both"]
    assert meta.valid_until is None


def test_bytes_and_no_prolog() -> None:
    assert parse_idp_metadata(metadata_xml(prolog="").encode()).entity_id == ENTITY_ID
    assert parse_idp_metadata(metadata_xml().encode()).entity_id == ENTITY_ID


def test_valid_until() -> None:
    meta = parse_idp_metadata(metadata_xml(valid_until="2099-01-02T03:04:05.123456789Z"))
    assert meta.valid_until == datetime(2099, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    with pytest.raises(MetadataError, match="expired"):
        parse_idp_metadata(metadata_xml(valid_until="2001-01-01T00:00:00Z"), now=datetime.now(timezone.utc))
    with pytest.raises(MetadataError, match="validUntil"):
        parse_idp_metadata(metadata_xml(valid_until="soon"))


def test_duplicate_certificates_are_listed_once() -> None:
    cert = self_signed_certificate()
    assert len(parse_idp_metadata(metadata_xml([(cert, "signing"), (cert, None)])).signing_certificates) == 1


@pytest.mark.parametrize(
    "document, message",
    [
        ("not xml at all", "well-formed"),
        ("<a><b></a>", "well-formed"),
        ('<x:EntityDescriptor xmlns:x="urn:other" entityID="e"/>', "EntityDescriptor root"),
        ('<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>', "EntityDescriptor root"),
        ('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>', "entityID"),
    ],
)
def test_rejects_non_metadata(document: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_idp_metadata(document)


def test_rejects_service_provider_metadata() -> None:
    with pytest.raises(MetadataError, match="IDPSSODescriptor"):
        parse_idp_metadata(metadata_xml(idp=False))


def test_rejects_metadata_without_signing_certificate() -> None:
    with pytest.raises(MetadataError, match="signing certificate"):
        parse_idp_metadata(metadata_xml([(self_signed_certificate(), "encryption")]))
    with pytest.raises(MetadataError, match="signing certificate"):
        parse_idp_metadata(metadata_xml([]))


def test_rejects_bad_certificates() -> None:
    good = metadata_xml()
    start = good.index("<ds:X509Certificate>") + len("<ds:X509Certificate>")
    end = good.index("</ds:X509Certificate>")
    with pytest.raises(MetadataError, match="base64"):
        parse_idp_metadata(good[:start] + "!!!not base64!!!" + good[end:])
    with pytest.raises(MetadataError, match="X.509"):
        parse_idp_metadata(good[:start] + base64.b64encode(b"x" * 300).decode() + good[end:])


XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE md [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&xxe;"/>"""

XXE_NETWORK = """<?xml version="1.0"?>
<!DOCTYPE md SYSTEM "http://127.0.0.1:9/evil.dtd">
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol9;"/>"""


@pytest.mark.parametrize("payload", [XXE_FILE, XXE_NETWORK, BILLION_LAUGHS, "<!doctype x><x/>"])
def test_rejects_doctype_and_entities(payload: str) -> None:
    with pytest.raises(MetadataError, match="DOCTYPE"):
        parse_idp_metadata(payload)
    with pytest.raises(MetadataError, match="DOCTYPE"):
        parse_idp_metadata(payload.encode())


def test_rejects_doctype_in_utf16() -> None:
    """A DOCTYPE the byte scan cannot see (UTF-16) is still refused after parsing."""
    payload = BILLION_LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(MetadataError):
        parse_idp_metadata(payload.encode("utf-16"))


def test_entity_ids_are_taken_literally() -> None:
    meta = parse_idp_metadata(metadata_xml(entity_id="urn:idp:&amp;literal"))
    assert meta.entity_id == "urn:idp:&literal"
