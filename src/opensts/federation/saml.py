"""SAML 2.0 Responses for AssumeRoleWithSAML: parsed safely, signature-checked, and read only from
what the signature covers.

The rules, in the order they are applied:

1. **Size and encoding.** At most 100,000 base64 characters (so at most 75,000 bytes of XML), valid
   base64, UTF-8 text without NUL characters. An XML declaration naming another encoding is refused
   (the bytes checked must be the bytes parsed).
2. **Hardened parsing.** Any ``<!DOCTYPE`` or ``<!ENTITY`` is refused before parsing; the lxml parser
   loads no DTD, resolves no entity, touches no network, refuses huge trees, and drops comments
   and processing instructions. This rules out XXE and entity expansion ("billion laughs").
3. **Shape.** The root is a ``samlp:Response`` whose status is Success; the document holds exactly
   one ``saml:Assertion`` (a direct child of the Response) and no ``EncryptedAssertion``; every
   ``ds:Signature`` is a direct child of the Response or of the Assertion.
4. **Signature.** The Response, the Assertion, or both are signed with XML-DSig by one of the
   provider's certificates (signxml; RSA or ECDSA with SHA-256 or stronger; SHA-1 and HMAC are
   refused). Each signature must cover exactly the element that contains it (enveloped, one
   reference, resolved by the ``ID`` attribute).
5. **See what is signed.** Everything below is read from the canonicalised XML that signxml returns
   for the signature (``VerifyResult.signed_xml``), never from the document as posted. That is what
   defeats signature wrapping (XSW): unsigned copies, moved elements and wrappers are never read.
   Text is read with ``itertext()`` on that tree, so a comment inside a value (``a<!---->b``) can not
   truncate it (comment injection).
6. **Assertion.** Issuer equals the provider's entity id; exactly one bearer SubjectConfirmation
   whose SubjectConfirmationData has a future NotOnOrAfter and an accepted Recipient; a NameID;
   Conditions with NotBefore/NotOnOrAfter satisfied (``CLOCK_SKEW`` leeway) and every
   AudienceRestriction naming an accepted audience.

Replay protection (assertion id used once) needs the store and lives with the action in
``sts/saml.py``. Errors are AWS errors: ``InvalidIdentityToken`` (malformed, unsigned, wrong
signer, wrong issuer/audience/recipient), ``ExpiredTokenException`` (expired assertion),
``IDPRejectedClaim`` (the IdP reported a failure status).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from cryptography import x509
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

from opensts.errors import ExpiredTokenException, IDPRejectedClaim, InvalidIdentityToken
from opensts.federation.saml_metadata import IdpMetadata, parse_xml_datetime

SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
RESPONSE = f"{{{SAMLP_NS}}}Response"
ASSERTION = f"{{{SAML_NS}}}Assertion"
ENCRYPTED_ASSERTION = f"{{{SAML_NS}}}EncryptedAssertion"
SIGNATURE = f"{{{DS_NS}}}Signature"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
NAMEID_FORMAT_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

MAX_ASSERTION_CHARS = 100_000  # base64 characters, as AWS's SAMLAssertion limit
MAX_XML_BYTES = MAX_ASSERTION_CHARS * 3 // 4
MAX_ATTRIBUTE_VALUES = 1_000
CLOCK_SKEW = timedelta(seconds=60)

AWS_AUDIENCES = ("https://signin.aws.amazon.com/saml", "urn:amazon:webservices")
_AWS_ENDPOINT_RE = re.compile(
    r"^https://(?:[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+\.)?signin\.aws\.amazon\.com/(?:static/)?saml$"
)
_DTD_RE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)
_XML_DECL_RE = re.compile(r"^<\?xml\s[^>]*\?>")
_ENCODING_RE = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

# RSA/ECDSA with SHA-2 or SHA-3 only: no SHA-1, no HMAC (a shared-secret MAC proves nothing
# about the IdP), no DSA.
_SIGNATURE_METHODS = frozenset(
    m for m in SignatureMethod
    if (m.name.startswith(("RSA_", "ECDSA_", "SHA")) and "SHA1" not in m.name and not m.name.startswith("HMAC"))
)
_DIGESTS = frozenset(d for d in DigestAlgorithm if "SHA1" not in d.name)

_local = threading.local()


def _parser() -> etree.XMLParser:
    """A hardened parser per thread (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


@dataclass(frozen=True, slots=True)
class SamlEndpoints:
    """The audiences and recipients accepted: AWS's own (so IdP apps configured for AWS work
    unchanged) and, optionally, OpenSTS's own URLs (``OPENSTS_SAML_AUDIENCE``)."""

    configured: tuple[str, ...] = ()

    def audience_ok(self, audience: str) -> bool:
        return (
            audience in AWS_AUDIENCES
            or (bool(_AWS_ENDPOINT_RE.match(audience)) and "/static/" not in audience)
            or audience in self.configured
        )

    def recipient_ok(self, recipient: str) -> bool:
        return bool(_AWS_ENDPOINT_RE.match(recipient)) or recipient in self.configured


@dataclass(frozen=True, slots=True)
class SamlAssertion:
    """What a verified assertion says. Every field comes from signed content."""

    assertion_id: str
    issuer: str
    name_id: str
    name_id_format: str
    recipient: str
    audiences: tuple[str, ...]
    not_on_or_after: datetime  # the earliest expiry (Conditions, SubjectConfirmationData)
    keep_until: datetime  # the latest time this assertion could still be accepted (for replay records)
    session_not_on_or_after: datetime | None
    attributes: dict[str, list[str]]

    @property
    def subject_type(self) -> str:
        """AWS's SubjectType: the NameID format without the SAML 2.0 prefix; other formats whole."""
        if self.name_id_format.startswith(NAMEID_FORMAT_PREFIX):
            return self.name_id_format[len(NAMEID_FORMAT_PREFIX):]
        return self.name_id_format


def _invalid(message: str) -> InvalidIdentityToken:
    return InvalidIdentityToken(message)


def text_of(element: etree._Element | None) -> str:
    """All text of an element, comments excluded and never cut short by them (itertext)."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


# --- decoding and parsing -------------------------------------------------------------------------
def decode_response(saml_response: str) -> bytes:
    """The UTF-8 XML bytes of a base64 SAMLResponse, checked for size, encoding and DTDs."""
    if len(saml_response) > MAX_ASSERTION_CHARS:
        raise _invalid(f"The SAML assertion is longer than {MAX_ASSERTION_CHARS} characters.")
    compact = "".join(saml_response.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The SAML assertion is not valid base64.") from None
    if len(data) > MAX_XML_BYTES:
        raise _invalid("The SAML assertion is too large.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("The SAML response must be UTF-8 encoded XML.") from None
    text = text.removeprefix("\ufeff").lstrip()
    if "\x00" in text:
        raise _invalid("The SAML response must be UTF-8 encoded XML.")
    declaration = _XML_DECL_RE.match(text)
    if declaration:
        encoding = _ENCODING_RE.search(declaration.group(0))
        if encoding and encoding.group(1).lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise _invalid("The SAML response must be UTF-8 encoded XML.")
        text = text[declaration.end():]
    if _DTD_RE.search(text):
        raise _invalid("The SAML response must not contain a DOCTYPE or entity declarations.")
    return text.encode("utf-8")


def parse_response(xml: bytes) -> etree._Element:
    try:
        root = etree.fromstring(xml, parser=_parser())
    except etree.XMLSyntaxError:
        raise _invalid("The SAML response is not well-formed XML.") from None
    if root is None:
        raise _invalid("The SAML response is empty.")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise _invalid("The SAML response must not contain a DOCTYPE or entity declarations.")
    if any(True for _ in root.iter(etree.Entity)):
        raise _invalid("The SAML response must not contain entity references.")
    return root


# --- signature ------------------------------------------------------------------------------------
def _check_shape(root: etree._Element) -> etree._Element:
    """The one Assertion of a well-shaped Response (rule 3)."""
    if root.tag != RESPONSE:
        raise _invalid("The SAML message is not a SAML 2.0 Response (samlp:Response).")
    if next(root.iter(ENCRYPTED_ASSERTION), None) is not None:
        raise _invalid(
            "Encrypted SAML assertions are not supported: configure the IdP to send the assertion unencrypted."
        )
    assertions = list(root.iter(ASSERTION))
    if len(assertions) != 1:
        raise _invalid(f"The SAML response must contain exactly one Assertion; it contains {len(assertions)}.")
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise _invalid("The SAML Assertion must be a direct child of the Response.")
    for signature in root.iter(SIGNATURE):
        if signature.getparent() not in (root, assertion):
            raise _invalid("The SAML response has a signature in an unexpected place.")
    for element in (root, assertion):
        if len(element.findall(SIGNATURE)) > 1:
            raise _invalid("The SAML response has more than one signature on one element.")
    return assertion


def _verify(xml: bytes, location: str, certificates: Sequence[x509.Certificate], now: datetime) -> etree._Element:
    """The signed element of the signature at ``location``, verified by one of ``certificates``."""
    config = SignatureConfiguration(
        location=location,
        expect_references=1,
        signature_methods=_SIGNATURE_METHODS,
        digest_algorithms=_DIGESTS,
        verification_time=now,
    )
    failure = "The SAML response signature is invalid."
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(
                xml, x509_cert=certificate, parser=_parser(), id_attribute="ID", expect_config=config
            )
        except InvalidCertificate:
            failure = "The SAML response is signed with a certificate that is not valid at this time."
            continue
        except (InvalidSignature, InvalidDigest):
            continue  # another of the provider's certificates may match
        except InvalidInput as exc:
            raise _invalid(f"The SAML response signature is malformed: {exc}") from None
        except Exception:  # noqa: BLE001 - signxml on hostile input (missing values, bad base64...)
            raise _invalid("The SAML response signature is malformed.") from None
        signed = result.signed_xml  # type: ignore[union-attr]
        if signed is None:
            raise _invalid("The SAML response signature does not cover an XML element.")
        return signed
    raise _invalid(failure)


def verified_assertion(xml: bytes, root: etree._Element, idp: IdpMetadata, now: datetime) -> etree._Element:
    """The signed Assertion element (from signxml's canonicalised output) of a parsed Response."""
    assertion = _check_shape(root)
    response_signed = root.find(SIGNATURE) is not None
    assertion_signed = assertion.find(SIGNATURE) is not None
    if not response_signed and not assertion_signed:
        raise _invalid("The SAML response is not signed: the Response or the Assertion must carry an XML signature.")
    assertion_id = assertion.get("ID") or ""
    if not assertion_id:
        raise _invalid("The SAML Assertion has no ID.")
    signed_assertion: etree._Element | None = None
    if response_signed:
        response_id = root.get("ID") or ""
        signed = _verify(xml, "./", idp.signing_certificates, now)
        if signed.tag != RESPONSE or not response_id or signed.get("ID") != response_id:
            raise _invalid("The Response signature does not cover the Response that carries it.")
        inner = [child for child in signed if child.tag == ASSERTION]
        if len(inner) != 1 or inner[0].get("ID") != assertion_id or len(list(signed.iter(ASSERTION))) != 1:
            raise _invalid("The signed Response must contain exactly the one Assertion.")
        issuer = signed.find(f"{{{SAML_NS}}}Issuer")
        if issuer is not None and text_of(issuer) != idp.entity_id:
            raise _invalid("The Response Issuer does not match the SAML provider's entity id.")
        signed_assertion = inner[0]
    if assertion_signed:
        signed = _verify(xml, f"./{{{SAML_NS}}}Assertion/", idp.signing_certificates, now)
        if signed.tag != ASSERTION or signed.get("ID") != assertion_id:
            raise _invalid("The Assertion signature does not cover the Assertion that carries it.")
        signed_assertion = signed
    assert signed_assertion is not None
    _check_status(root)
    return signed_assertion


def _check_status(root: etree._Element) -> None:
    code = root.find(f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode")
    value = code.get("Value") if code is not None else None
    if value != STATUS_SUCCESS:
        raise IDPRejectedClaim(
            f"The identity provider reported that authentication failed (status {value or 'missing'})."
        )


# --- the assertion's content ----------------------------------------------------------------------
def _time(element: etree._Element, attribute: str, what: str, *, required: bool) -> datetime | None:
    raw = element.get(attribute)
    if raw is None:
        if required:
            raise _invalid(f"The SAML assertion has no {what}.")
        return None
    value = parse_xml_datetime(raw)
    if value is None:
        raise _invalid(f"The SAML assertion's {what} is not a valid dateTime.")
    return value


def _only(parent: etree._Element, tag: str, what: str, *, required: bool = True) -> etree._Element | None:
    found = parent.findall(tag)
    if len(found) > 1:
        raise _invalid(f"The SAML assertion has more than one {what}.")
    if not found:
        if required:
            raise _invalid(f"The SAML assertion has no {what}.")
        return None
    return found[0]


def _plus_skew(value: datetime) -> datetime:
    try:
        return value + CLOCK_SKEW
    except OverflowError:
        return value  # year 9999: no later instant to keep it until


def _expired(what: str) -> ExpiredTokenException:
    return ExpiredTokenException(f"The SAML assertion has expired ({what} has passed).")


def read_assertion(
    assertion: etree._Element, idp: IdpMetadata, now: datetime, endpoints: SamlEndpoints
) -> SamlAssertion:
    """Check a *signed* assertion (rule 6) and extract what AssumeRoleWithSAML needs."""
    s = f"{{{SAML_NS}}}"
    if assertion.get("Version") != "2.0":
        raise _invalid("The SAML assertion is not SAML 2.0.")
    assertion_id = assertion.get("ID") or ""
    issuer = text_of(_only(assertion, f"{s}Issuer", "Issuer"))
    if issuer != idp.entity_id:
        raise _invalid("The SAML assertion's Issuer does not match the SAML provider's entity id.")
    issued = _time(assertion, "IssueInstant", "IssueInstant", required=True)
    assert issued is not None
    if issued > now + CLOCK_SKEW:
        raise _invalid("The SAML assertion was issued in the future (check the IdP's clock).")

    subject = _only(assertion, f"{s}Subject", "Subject")
    assert subject is not None
    if subject.find(f"{s}EncryptedID") is not None:
        raise _invalid("Encrypted NameIDs are not supported.")
    name_el = _only(subject, f"{s}NameID", "Subject NameID")
    assert name_el is not None
    name_id = text_of(name_el)
    if not name_id:
        raise _invalid("The SAML assertion's NameID is empty.")
    name_id_format = (name_el.get("Format") or "").strip() or NAMEID_UNSPECIFIED

    confirmations = subject.findall(f"{s}SubjectConfirmation")
    if len(confirmations) != 1:
        raise _invalid("The SAML assertion must have exactly one SubjectConfirmation.")
    confirmation = confirmations[0]
    if confirmation.get("Method") != BEARER:
        raise _invalid("The SAML SubjectConfirmation Method must be bearer.")
    data = _only(confirmation, f"{s}SubjectConfirmationData", "SubjectConfirmationData")
    assert data is not None
    subject_expiry = _time(data, "NotOnOrAfter", "SubjectConfirmationData NotOnOrAfter", required=True)
    assert subject_expiry is not None
    subject_start = _time(data, "NotBefore", "SubjectConfirmationData NotBefore", required=False)
    recipient = (data.get("Recipient") or "").strip()
    if not recipient:
        raise _invalid("The SAML SubjectConfirmationData has no Recipient.")
    if not endpoints.recipient_ok(recipient):
        raise _invalid(f"The SAML assertion's Recipient {recipient!r} is not accepted by this service.")

    conditions = _only(assertion, f"{s}Conditions", "Conditions")
    assert conditions is not None
    not_before = _time(conditions, "NotBefore", "Conditions NotBefore", required=False)
    conditions_expiry = _time(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter", required=False)
    restrictions = conditions.findall(f"{s}AudienceRestriction")
    if not restrictions:
        raise _invalid("The SAML assertion has no AudienceRestriction.")
    audiences: list[str] = []
    for restriction in restrictions:
        values = [text_of(a) for a in restriction.findall(f"{s}Audience")]
        audiences.extend(values)
        if not any(endpoints.audience_ok(a) for a in values):
            raise _invalid("The SAML assertion's Audience is not accepted by this service.")

    for start in (not_before, subject_start):
        if start is not None and now + CLOCK_SKEW < start:
            raise _invalid("The SAML assertion is not yet valid (NotBefore is in the future).")
    expiries = [t for t in (subject_expiry, conditions_expiry) if t is not None]
    if now - CLOCK_SKEW >= subject_expiry:
        raise _expired("SubjectConfirmationData NotOnOrAfter")
    if conditions_expiry is not None and now - CLOCK_SKEW >= conditions_expiry:
        raise _expired("Conditions NotOnOrAfter")

    session_not_on_or_after: datetime | None = None
    for statement in assertion.findall(f"{s}AuthnStatement"):
        value = _time(statement, "SessionNotOnOrAfter", "SessionNotOnOrAfter", required=False)
        if value is not None:
            session_not_on_or_after = value if session_not_on_or_after is None else min(session_not_on_or_after, value)
    if session_not_on_or_after is not None and session_not_on_or_after <= now:
        raise _expired("SessionNotOnOrAfter")

    attributes: dict[str, list[str]] = {}
    count = 0
    for statement in assertion.findall(f"{s}AttributeStatement"):
        for attribute in statement.findall(f"{s}Attribute"):
            attr_name = attribute.get("Name")
            if not attr_name:
                continue
            values = [text_of(v) for v in attribute.findall(f"{s}AttributeValue")]
            count += len(values)
            if count > MAX_ATTRIBUTE_VALUES:
                raise _invalid("The SAML assertion has too many attribute values.")
            attributes.setdefault(attr_name, []).extend(values)

    return SamlAssertion(
        assertion_id=assertion_id,
        issuer=issuer,
        name_id=name_id,
        name_id_format=name_id_format,
        recipient=recipient,
        audiences=tuple(audiences),
        not_on_or_after=min(expiries),
        keep_until=_plus_skew(max(expiries)),
        session_not_on_or_after=session_not_on_or_after,
        attributes=attributes,
    )


def verify_saml_response(
    saml_response: str, idp: IdpMetadata, now: datetime, endpoints: SamlEndpoints = SamlEndpoints()
) -> SamlAssertion:
    """Verify a base64 SAMLResponse against a provider's metadata; raise an AWS error otherwise."""
    xml = decode_response(saml_response)
    root = parse_response(xml)
    assertion = verified_assertion(xml, root, idp, now)
    return read_assertion(assertion, idp, now, endpoints)

