"""A test SAML 2.0 identity provider: real signed Responses (signxml + a cryptography self-signed
certificate) and the IdP metadata to register it with CreateSAMLProvider.

Not a test module. ``SamlIdp.response(...)`` gives the base64 SAMLResponse a browser would post;
``response_xml(...)`` / ``assertion_element(...)`` give the XML so attack tests can tamper with it.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NSMAP = {"samlp": SAMLP, "saml": SAML}

AWS_SAML = "https://signin.aws.amazon.com/saml"
AWS_URN = "urn:amazon:webservices"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
ROLE_ATTR = ATTR + "Role"
SESSION_NAME_ATTR = ATTR + "RoleSessionName"
SESSION_DURATION_ATTR = ATTR + "SessionDuration"
SOURCE_IDENTITY_ATTR = ATTR + "SourceIdentity"
TRANSITIVE_ATTR = ATTR + "TransitiveTagKeys"
TAG_ATTR = ATTR + "PrincipalTag:"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def xml_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@lru_cache(maxsize=8)
def _key(label: str) -> rsa.RSAPrivateKey:
    """One RSA key per label per test run (key generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def new_id() -> str:
    return "_" + secrets.token_hex(16)


@dataclass
class SamlIdp:
    """An IdP with an entity id and a signing key/certificate (``label`` picks a cached key)."""

    entity_id: str = "https://idp.example.test/saml"
    label: str = "idp"
    key: rsa.RSAPrivateKey = field(init=False)
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.key = _key(self.label)
        self.cert = _cert(self.label)

    # --- metadata ----------------------------------------------------------------------------
    def metadata(self, extra_certs: Iterable[x509.Certificate] = ()) -> str:
        """IdP metadata for CreateSAMLProvider (over 1,000 characters, as AWS requires)."""
        keys = "".join(
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            + base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            for cert in [self.cert, *extra_certs]
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{self.entity_id}">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="{SAMLP}">{keys}'
            f"<md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>"
            f"<md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{self.entity_id}/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    # --- assertions and responses --------------------------------------------------------------
    def assertion_element(
        self,
        *,
        roles: Iterable[tuple[str, str]] = (),
        session_name: str | None = "alice",
        name_id: str = "alice@example.test",
        name_id_format: str | None = PERSISTENT,
        audiences: Iterable[str] = (AWS_SAML,),
        recipient: str | None = AWS_SAML,
        now: datetime | None = None,
        lifetime: timedelta = timedelta(minutes=5),
        not_before: datetime | None = None,
        not_on_or_after: datetime | None = None,
        subject_not_on_or_after: datetime | None = None,
        session_not_on_or_after: datetime | None = None,
        attributes: dict[str, list[str]] | None = None,
        issuer: str | None = None,
        assertion_id: str | None = None,
    ) -> etree._Element:
        now = now or datetime.now(timezone.utc)
        not_before = not_before or now - timedelta(seconds=5)
        not_on_or_after = not_on_or_after or now + lifetime
        subject_not_on_or_after = subject_not_on_or_after or not_on_or_after
        a = etree.Element(_q(SAML, "Assertion"), nsmap={"saml": SAML})
        a.set("ID", assertion_id or new_id())
        a.set("Version", "2.0")
        a.set("IssueInstant", xml_time(now))
        etree.SubElement(a, _q(SAML, "Issuer")).text = issuer or self.entity_id
        etree.SubElement(a, _q(DS, "Signature"), nsmap={"ds": DS}).set("Id", "placeholder")
        subject = etree.SubElement(a, _q(SAML, "Subject"))
        name = etree.SubElement(subject, _q(SAML, "NameID"))
        if name_id_format:
            name.set("Format", name_id_format)
        name.text = name_id
        confirmation = etree.SubElement(subject, _q(SAML, "SubjectConfirmation"), Method=BEARER)
        data = etree.SubElement(confirmation, _q(SAML, "SubjectConfirmationData"))
        data.set("NotOnOrAfter", xml_time(subject_not_on_or_after))
        if recipient is not None:
            data.set("Recipient", recipient)
        conditions = etree.SubElement(a, _q(SAML, "Conditions"))
        conditions.set("NotBefore", xml_time(not_before))
        conditions.set("NotOnOrAfter", xml_time(not_on_or_after))
        restriction = etree.SubElement(conditions, _q(SAML, "AudienceRestriction"))
        for audience in audiences:
            etree.SubElement(restriction, _q(SAML, "Audience")).text = audience
        authn = etree.SubElement(a, _q(SAML, "AuthnStatement"), AuthnInstant=xml_time(now))
        if session_not_on_or_after is not None:
            authn.set("SessionNotOnOrAfter", xml_time(session_not_on_or_after))
        context = etree.SubElement(authn, _q(SAML, "AuthnContext"))
        etree.SubElement(context, _q(SAML, "AuthnContextClassRef")).text = (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        )
        attrs: dict[str, list[str]] = {}
        roles = list(roles)
        if roles:
            attrs[ROLE_ATTR] = [f"{r},{p}" for r, p in roles]
        if session_name is not None:
            attrs[SESSION_NAME_ATTR] = [session_name]
        attrs.update(attributes or {})
        if attrs:
            statement = etree.SubElement(a, _q(SAML, "AttributeStatement"))
            for attr_name, values in attrs.items():
                attribute = etree.SubElement(statement, _q(SAML, "Attribute"), Name=attr_name)
                for value in values:
                    etree.SubElement(attribute, _q(SAML, "AttributeValue")).text = value
        return a

    def sign(self, element: etree._Element, *, key: rsa.RSAPrivateKey | None = None,
             cert: x509.Certificate | None = None) -> etree._Element:
        """Enveloped RSA-SHA256 signature over ``element`` (at its ds:Signature placeholder)."""
        signer = XMLSigner(
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        signer.namespaces = {"ds": DS}
        pem = (cert or self.cert).public_bytes(serialization.Encoding.PEM).decode()
        return signer.sign(element, key=key or self.key, cert=pem, reference_uri=element.get("ID"), id_attribute="ID")

    def response_element(
        self,
        assertions: Iterable[etree._Element],
        *,
        signed: bool = False,
        status: str = SUCCESS,
        issuer: str | None = None,
        destination: str = AWS_SAML,
        response_id: str | None = None,
    ) -> etree._Element:
        r = etree.Element(_q(SAMLP, "Response"), nsmap=NSMAP)
        r.set("ID", response_id or new_id())
        r.set("Version", "2.0")
        r.set("IssueInstant", xml_time(datetime.now(timezone.utc)))
        r.set("Destination", destination)
        etree.SubElement(r, _q(SAML, "Issuer")).text = issuer or self.entity_id
        if signed:
            etree.SubElement(r, _q(DS, "Signature"), nsmap={"ds": DS}).set("Id", "placeholder")
        status_el = etree.SubElement(r, _q(SAMLP, "Status"))
        etree.SubElement(status_el, _q(SAMLP, "StatusCode"), Value=status)
        for assertion in assertions:
            r.append(assertion)
        return self.sign(r) if signed else r

    def response_xml(self, *, sign: str = "assertion", **assertion_args: object) -> etree._Element:
        """A Response with one assertion. ``sign``: "assertion", "response", "both" or "none"."""
        assertion = self.assertion_element(**assertion_args)  # type: ignore[arg-type]
        if sign in ("assertion", "both"):
            assertion = self.sign(assertion)
        else:
            _drop_placeholder(assertion)
        return self.response_element([assertion], signed=sign in ("response", "both"))

    def response(self, *, sign: str = "assertion", **assertion_args: object) -> str:
        """The base64 SAMLResponse, as posted by a browser."""
        return encode(self.response_xml(sign=sign, **assertion_args))


@lru_cache(maxsize=8)
def _cert(label: str) -> x509.Certificate:
    return self_signed(_key(label), f"{label}.example.test")


def _drop_placeholder(element: etree._Element) -> None:
    for placeholder in element.findall(_q(DS, "Signature")):
        if placeholder.get("Id") == "placeholder":
            element.remove(placeholder)


def encode(xml: etree._Element | bytes | str) -> str:
    if isinstance(xml, etree._Element):
        data = etree.tostring(xml)
    elif isinstance(xml, str):
        data = xml.encode()
    else:
        data = xml
    return base64.b64encode(data).decode()


def decode(b64: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(b64))
