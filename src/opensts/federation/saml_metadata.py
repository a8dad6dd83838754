"""SAML 2.0 identity-provider metadata (CreateSAMLProvider / UpdateSAMLProvider), parsed safely.

The document comes from an administrator but is still untrusted XML: it is parsed with a hardened
lxml parser (no DTD loading, no entity resolution, no network, no huge trees) and any DOCTYPE is
refused outright, which rules out XXE and entity-expansion ("billion laughs") payloads. The root
must be an ``md:EntityDescriptor`` with an ``entityID``, holding an ``md:IDPSSODescriptor`` with at
least one signing ``md:KeyDescriptor`` (``use="signing"`` or no ``use``) whose
``ds:X509Certificate`` loads with ``cryptography``. Those certificates are what
AssumeRoleWithSAML trusts for signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree

MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SAML_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
MAX_DOCUMENT_CHARS = 10_000_000

_DOCTYPE_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


class MetadataError(ValueError):
    """The document is not usable IdP metadata; the message says why (shown to the caller)."""


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    signing_certificates: list[x509.Certificate]
    valid_until: datetime | None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml_safely(document: str | bytes) -> etree._Element:
    """Parse untrusted XML with DTDs and entities refused; MetadataError if it is not XML."""
    if isinstance(document, str):
        # A str must not carry an encoding declaration for lxml; the text is already decoded.
        data = _XML_DECLARATION_RE.sub("", document, count=1).encode("utf-8")
    else:
        data = document
    if _DOCTYPE_RE.search(data):
        raise MetadataError("The metadata document must not contain a DOCTYPE or entity declarations.")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MetadataError(f"The metadata document is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise MetadataError("The metadata document is empty.")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MetadataError("The metadata document must not contain a DOCTYPE or entity declarations.")
    return root


def parse_xml_datetime(text: str) -> datetime | None:
    """``xs:dateTime`` (``2030-01-01T00:00:00Z``, fractional seconds and offsets allowed) → aware UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python < 3.11 style limits: trim fractions beyond microseconds.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _certificate(text: str) -> x509.Certificate:
    compact = "".join(text.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise MetadataError("An X509Certificate in the metadata document is not valid base64.") from None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise MetadataError("An X509Certificate in the metadata document is not a valid X.509 certificate.") from None


def parse_idp_metadata(xml: str | bytes, *, now: datetime | None = None) -> IdpMetadata:
    """Validate IdP metadata and extract what AssumeRoleWithSAML needs, or raise MetadataError.

    ``now``: if given, metadata whose ``validUntil`` has passed is refused.
    """
    if len(xml) > MAX_DOCUMENT_CHARS:
        raise MetadataError("The metadata document is too large.")
    root = parse_xml_safely(xml)
    if root.tag != f"{{{MD_NS}}}EntityDescriptor":
        raise MetadataError(
            "The metadata document must have an EntityDescriptor root element "
            f"in the namespace {MD_NS}."
        )
    entity_id = (root.get("entityID") or "").strip()
    if not entity_id:
        raise MetadataError("The EntityDescriptor has no entityID.")
    if len(entity_id) > 1024:
        raise MetadataError("The EntityDescriptor's entityID is too long.")
    idps = root.findall(f"{{{MD_NS}}}IDPSSODescriptor")
    if not idps:
        raise MetadataError("The metadata document has no IDPSSODescriptor: it does not describe an identity provider.")
    certificates: list[x509.Certificate] = []
    seen: set[bytes] = set()
    valid_until: datetime | None = None
    for element in [root, *idps]:
        raw = element.get("validUntil")
        if raw is not None:
            when = parse_xml_datetime(raw)
            if when is None:
                raise MetadataError(f"The validUntil value {raw!r} is not a valid dateTime.")
            valid_until = when if valid_until is None else min(valid_until, when)
    for idp in idps:
        protocols = (idp.get("protocolSupportEnumeration") or "").split()
        if protocols and SAML_PROTOCOL not in protocols:
            continue
        for key_descriptor in idp.findall(f"{{{MD_NS}}}KeyDescriptor"):
            if key_descriptor.get("use", "signing") != "signing":
                continue
            for cert_el in key_descriptor.iter(f"{{{DS_NS}}}X509Certificate"):
                certificate = _certificate(cert_el.text or "")
                fingerprint = certificate.fingerprint(hashes.SHA256())
                if fingerprint not in seen:
                    seen.add(fingerprint)
                    certificates.append(certificate)
    if not certificates:
        raise MetadataError(
            "The metadata document has no signing certificate: the IDPSSODescriptor needs a KeyDescriptor "
            'with use="signing" (or no use) holding a ds:X509Certificate.'
        )
    if now is not None and valid_until is not None and valid_until <= now:
        raise MetadataError(f"The metadata document expired at {valid_until.strftime('%Y-%m-%dT%H:%M:%SZ')} (validUntil).")
    return IdpMetadata(entity_id, certificates, valid_until)
