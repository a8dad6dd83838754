"""Security tests: the known attacks on SAML service providers, one test each, against a running
server. Each attack must be refused with a 4xx AWS error in well under a second, and leave the
server healthy. The role used trusts the provider and the assertions name it: a bypass would
return credentials.
"""

from __future__ import annotations

import base64
import copy
import time
from datetime import datetime, timedelta, timezone

import botocore.exceptions
import httpx
import pytest
from lxml import etree

from opensts.federation import saml as saml_module
from opensts.federation.saml import verify_saml_response
from opensts.federation.saml_metadata import parse_idp_metadata
from tests.conftest import ServerInfo
from tests.federation.saml_idp import DS, SAML, SAMLP, SamlIdp, encode
from tests.federation.test_saml import IDP, Provider, assume, create_provider, make_role

TIME_LIMIT = 1.0  # seconds; in practice these take a few milliseconds
ATTACKER = SamlIdp(entity_id=IDP.entity_id, label="attacker")  # same entity id, its own key


@pytest.fixture(scope="module")
def target(server: ServerInfo) -> tuple[Provider, str]:
    provider = create_provider(server)
    return provider, make_role(server, provider.arn)


def pairs(target: tuple[Provider, str]) -> list[tuple[str, str]]:
    provider, role_arn = target
    return [(role_arn, provider.arn)]


def refused(server: ServerInfo, target: tuple[Provider, str], assertion: str, code: str | None = "InvalidIdentityToken",
            role_arn: str | None = None) -> dict:
    """Send the attack; check it is refused with a 4xx AWS error, quickly, and the server is fine."""
    provider, default_role = target
    started = time.perf_counter()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        assume(server, role_arn or default_role, provider, assertion)
    elapsed = time.perf_counter() - started
    error = info.value.response["Error"]
    status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert 400 <= status < 500, (status, error)
    if code is not None:
        assert error["Code"] == code, error
    assert elapsed < TIME_LIMIT, elapsed
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    return {**error, "Status": status, "Elapsed": elapsed}


def signed_assertion(target: tuple[Provider, str], **args: object) -> etree._Element:
    return IDP.sign(IDP.assertion_element(roles=pairs(target), **args))  # type: ignore[arg-type]


def unsigned_assertion(target: tuple[Provider, str], **args: object) -> etree._Element:
    element = IDP.assertion_element(roles=pairs(target), **args)  # type: ignore[arg-type]
    for placeholder in element.findall(f"{{{DS}}}Signature"):
        element.remove(placeholder)
    return element


def extensions(response: etree._Element) -> etree._Element:
    """A samlp:Extensions element placed where the schema allows it (after Issuer)."""
    element = etree.Element(f"{{{SAMLP}}}Extensions")
    response.insert(1, element)
    return element


# --- no valid signature -------------------------------------------------------------------------
def test_unsigned_assertion(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    error = refused(server, target, IDP.response(sign="none", roles=pairs(target)))
    assert "not signed" in error["Message"]


def test_signed_by_another_key(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    for sign in ("assertion", "response"):
        error = refused(server, target, ATTACKER.response(sign=sign, roles=pairs(target)))
        assert "signature is invalid" in error["Message"]


def test_modified_after_signing(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    response = IDP.response_xml(roles=pairs(target), name_id="alice@example.test")
    response.find(f".//{{{SAML}}}NameID").text = "admin@example.test"
    refused(server, target, encode(response))
    response = IDP.response_xml(sign="response", roles=pairs(target), session_name="alice")
    value = [v for v in response.iter(f"{{{SAML}}}AttributeValue") if v.text == "alice"][0]
    value.text = "admin"
    refused(server, target, encode(response))


def test_sha1_and_hmac_signatures_are_refused(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    response = IDP.response_xml(roles=pairs(target))
    method = response.find(f".//{{{DS}}}SignatureMethod")
    method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
    refused(server, target, encode(response))
    method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    refused(server, target, encode(response))


# --- signature wrapping (XSW) -------------------------------------------------------------------
def test_xsw_evil_assertion_before_the_signed_one(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    evil = unsigned_assertion(target, name_id="admin@example.test", session_name="admin")
    response = IDP.response_element([evil, signed_assertion(target)])
    refused(server, target, encode(response))


def test_xsw_signed_assertion_moved_into_extensions(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    signed = signed_assertion(target)
    evil = unsigned_assertion(target, name_id="admin@example.test", session_name="admin")
    response = IDP.response_element([evil])
    extensions(response).append(signed)
    refused(server, target, encode(response))


def test_xsw_signed_assertion_inside_evil_signature_object(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    """XSW7/8: the evil assertion carries the original's signature, the original hides in ds:Object."""
    signed = signed_assertion(target)
    evil = unsigned_assertion(target, name_id="admin@example.test", session_name="admin")
    signature = copy.deepcopy(signed.find(f"{{{DS}}}Signature"))
    signed.remove(signed.find(f"{{{DS}}}Signature"))
    etree.SubElement(signature, f"{{{DS}}}Object").append(signed)
    evil.insert(1, signature)
    refused(server, target, encode(IDP.response_element([evil])))


def test_xsw_evil_assertion_reusing_the_signed_id(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    signed = signed_assertion(target)
    evil = unsigned_assertion(target, name_id="admin@example.test", assertion_id=signed.get("ID"))
    evil.insert(1, copy.deepcopy(signed.find(f"{{{DS}}}Signature")))
    response = IDP.response_element([evil])
    extensions(response).append(signed)
    refused(server, target, encode(response))


def test_xsw_evil_response_wrapping_a_signed_response(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    original = IDP.response_xml(sign="response", roles=pairs(target))
    evil = IDP.response_element([unsigned_assertion(target, name_id="admin@example.test", session_name="admin")])
    extensions(evil).append(original)
    refused(server, target, encode(evil))


def test_xsw_response_signature_hoisted_onto_evil_response(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    """XSW1/2: the Response signature moved to an evil Response; the original hides inside it."""
    original = IDP.response_xml(sign="response", roles=pairs(target))
    signature = original.find(f"{{{DS}}}Signature")
    original.remove(signature)
    evil = IDP.response_element([unsigned_assertion(target, name_id="admin@example.test", session_name="admin")])
    evil.insert(1, signature)
    etree.SubElement(signature, f"{{{DS}}}Object").append(original)
    refused(server, target, encode(evil))


XSW_VARIANTS = [
    "before", "extensions", "object", "same-id", "wrapped-response", "hoisted",
]


def _xsw(variant: str, roles: list[tuple[str, str]]) -> etree._Element:
    target = (Provider(roles[0][1], "p", IDP), roles[0][0])
    signed = signed_assertion(target)
    evil = unsigned_assertion(target, name_id="admin@example.test", session_name="admin")
    signature = copy.deepcopy(signed.find(f"{{{DS}}}Signature"))
    if variant == "before":
        evil.insert(1, signature)
        return IDP.response_element([evil, signed])
    if variant == "extensions":
        evil.insert(1, signature)
        response = IDP.response_element([evil])
        extensions(response).append(signed)
        return response
    if variant == "object":
        signed.remove(signed.find(f"{{{DS}}}Signature"))
        etree.SubElement(signature, f"{{{DS}}}Object").append(signed)
        evil.insert(1, signature)
        return IDP.response_element([evil])
    if variant == "same-id":
        evil.set("ID", signed.get("ID"))
        evil.insert(1, signature)
        response = IDP.response_element([evil])
        extensions(response).append(signed)
        return response
    original = IDP.response_xml(sign="response", roles=roles)
    if variant == "wrapped-response":
        response = IDP.response_element([evil])
        extensions(response).append(original)
        return response
    response_signature = original.find(f"{{{DS}}}Signature")
    original.remove(response_signature)
    response = IDP.response_element([evil])
    response.insert(1, response_signature)
    extensions(response).append(original)
    return response


@pytest.mark.parametrize("variant", XSW_VARIANTS)
def test_xsw_refused_even_without_the_shape_check(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: with the one-assertion/placement check disabled, the signed-content rules
    (signature must cover its carrier; read only what signxml returns) still refuse every variant,
    and nothing from the evil assertion is ever read."""
    roles = [("arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:saml-provider/p")]

    def lax_shape(root: etree._Element) -> etree._Element:
        direct = [child for child in root if child.tag == f"{{{SAML}}}Assertion"]
        if not direct:
            raise saml_module.InvalidIdentityToken("no assertion")
        return direct[0]

    monkeypatch.setattr(saml_module, "_check_shape", lax_shape)
    metadata = parse_idp_metadata(IDP.metadata())
    try:
        result = verify_saml_response(encode(_xsw(variant, roles)), metadata, datetime.now(timezone.utc))
    except saml_module.InvalidIdentityToken:
        return
    assert result.name_id != "admin@example.test"  # at worst, the genuine signed assertion was read


# --- comment injection --------------------------------------------------------------------------
def commented_name_id(target: tuple[Provider, str]) -> str:
    """The IdP signs ``user@evil.com.victim.com``; the attacker then splits it with a comment."""
    assertion = IDP.sign(IDP.assertion_element(roles=pairs(target), name_id="user@evil.com.victim.com"))
    name_id = assertion.find(f".//{{{SAML}}}NameID")
    name_id.text = "user@evil.com"
    comment = etree.Comment("")
    comment.tail = ".victim.com"
    name_id.append(comment)
    xml = etree.tostring(IDP.response_element([assertion]))
    assert b"user@evil.com<!---->.victim.com" in xml
    return encode(xml)


def test_comment_injection_in_name_id(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    provider, _ = target
    only_evil = make_role(server, provider.arn, condition={"StringEquals": {"saml:sub": "user@evil.com"}})
    refused(server, target, commented_name_id((provider, only_evil)), code="AccessDenied", role_arn=only_evil)
    # Where the call is allowed, the subject is the whole signed value, not the part before the comment.
    _, open_role = target
    assert assume(server, open_role, provider, commented_name_id(target))["Subject"] == "user@evil.com.victim.com"


def test_comment_injection_read_in_process() -> None:
    roles = [("arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:saml-provider/p")]
    target = (Provider(roles[0][1], "p", IDP), roles[0][0])
    result = verify_saml_response(commented_name_id(target), parse_idp_metadata(IDP.metadata()), datetime.now(timezone.utc))
    assert result.name_id == "user@evil.com.victim.com"


# --- XML parser attacks -------------------------------------------------------------------------
def _with_doctype(target: tuple[Provider, str], doctype: str, entity: str) -> bytes:
    xml = etree.tostring(IDP.response_xml(roles=pairs(target), name_id="alice"))
    xml = xml.replace(b">alice<", f">{entity}<".encode(), 1)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype.encode() + b"\n" + xml


def test_xxe_external_entity(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    xml = _with_doctype(target, '<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;")
    error = refused(server, target, encode(xml))
    assert "DOCTYPE" in error["Message"]
    # The same in UTF-16, which a byte-level DOCTYPE check would miss.
    utf16 = xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    refused(server, target, encode(utf16))
    # A parameter entity fetching a remote DTD.
    remote = _with_doctype(target, '<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext;]>', "alice")
    refused(server, target, encode(remote))


def test_entity_expansion_billion_laughs(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    xml = _with_doctype(target, f"<!DOCTYPE lolz [{entities}]>", "&lol9;")
    error = refused(server, target, encode(xml))
    assert "DOCTYPE" in error["Message"]


def test_oversized_assertion(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    padding = {"https://example.test/padding": ["x" * 80_000]}
    assertion = IDP.response(roles=pairs(target), attributes=padding)
    assert len(assertion) > 100_000
    refused(server, target, assertion, code="ValidationError")


# --- assertion conditions -----------------------------------------------------------------------
def test_expired_assertion(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    issued = datetime.now(timezone.utc) - timedelta(minutes=10)
    error = refused(server, target, IDP.response(roles=pairs(target), now=issued), code="ExpiredTokenException")
    assert "expired" in error["Message"]
    # SubjectConfirmationData expired while Conditions still valid: also refused.
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    refused(server, target, IDP.response(roles=pairs(target), subject_not_on_or_after=past), code="ExpiredTokenException")


def test_not_yet_valid_assertion(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    future = datetime.now(timezone.utc) + timedelta(minutes=10)
    refused(server, target, IDP.response(roles=pairs(target), now=future))


def test_wrong_recipient(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    error = refused(server, target, IDP.response(roles=pairs(target), recipient="https://evil.example.test/acs"))
    assert "Recipient" in error["Message"]
    refused(server, target, IDP.response(roles=pairs(target), recipient=None))


def test_wrong_audience(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    error = refused(server, target, IDP.response(roles=pairs(target), audiences=["https://evil.example.test/sp"]))
    assert "Audience" in error["Message"]
    refused(server, target, IDP.response(roles=pairs(target), audiences=[]))


def test_wrong_issuer(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    error = refused(server, target, IDP.response(roles=pairs(target), issuer="https://other-idp.example.test/saml"))
    assert "Issuer" in error["Message"]


def test_replay(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    provider, role_arn = target
    assertion = IDP.response(roles=pairs(target))
    assume(server, role_arn, provider, assertion)
    error = refused(server, target, assertion)
    assert "already been used" in error["Message"]
    # Re-signing the same assertion id in a fresh Response is the same assertion.
    element = IDP.assertion_element(roles=pairs(target))
    assume(server, role_arn, provider, encode(IDP.response_element([IDP.sign(copy.deepcopy(element))])))
    refused(server, target, encode(IDP.response_element([IDP.sign(element)], signed=True)))


def test_multiple_assertions(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    response = IDP.response_element([signed_assertion(target), signed_assertion(target)])
    error = refused(server, target, encode(response))
    assert "exactly one Assertion" in error["Message"]


def test_encrypted_assertion_is_refused_clearly(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    response = IDP.response_element([])
    encrypted = etree.SubElement(response, f"{{{SAML}}}EncryptedAssertion")
    etree.SubElement(encrypted, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    error = refused(server, target, encode(response))
    assert "Encrypted" in error["Message"]


def test_idp_failure_status(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    response = IDP.response_element([signed_assertion(target)], status="urn:oasis:names:tc:SAML:2.0:status:Requester")
    refused(server, target, encode(response), code="IDPRejectedClaim")


def test_garbage(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    for junk in ("not base64 at all!", base64.b64encode(b"<unclosed").decode(), base64.b64encode(b"\xff\xfe\x00").decode(),
                 base64.b64encode(b"<a>" * 1000).decode(), encode(b"<x/>")):
        refused(server, target, junk)
    nested = b"<a>" * 5000 + b"</a>" * 5000  # deeper than the parser allows
    refused(server, target, encode(nested))


def test_server_healthy_after_attacks(server: ServerInfo, target) -> None:  # type: ignore[no-untyped-def]
    provider, role_arn = target
    assert httpx.get(f"{server.url}/health", timeout=5).json() == {"status": "ok"}
    assert assume(server, role_arn, provider, IDP.response(roles=pairs(target)))["Credentials"]["AccessKeyId"]

