"""Grammar and validation: every element, every policy kind, AWS's messages."""
from __future__ import annotations

import json

import pytest

from opensts.policy import (
    MANAGED_POLICY_MAX_SIZE,
    Effect,
    PolicyKind,
    PolicyValidationError,
    parse_policy,
    policy_size,
    validate_policy,
)

from .helpers import ACCT, allow, deny, doc


def bad(document, kind="identity", **kw) -> PolicyValidationError:
    with pytest.raises(PolicyValidationError) as info:
        parse_policy(document, kind, **kw)
    return info.value


def test_parses_json_text_and_dict_to_the_same_immutable_policy():
    d = doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Read"))
    p1 = parse_policy(json.dumps(d))
    p2 = parse_policy(d)
    assert p1.statements == p2.statements
    st = p1.statements[0]
    assert st.sid == "Read" and st.effect is Effect.ALLOW
    assert st.action == ("s3:GetObject",) and st.resource == ("arn:aws:s3:::b/*",)
    with pytest.raises(Exception):
        st.sid = "x"  # frozen


def test_statement_may_be_single_object_or_list():
    p = parse_policy({"Version": "2012-10-17", "Statement": allow()})
    assert len(p.statements) == 1


def test_parse_is_cached_by_content():
    d = doc(allow("s3:*"))
    assert parse_policy(d) is parse_policy(json.loads(json.dumps(d)))
    assert parse_policy(d, name="x").name == "x"
    assert parse_policy(d, name="x").compiled is parse_policy(d).compiled


def test_invalid_json_and_shapes():
    assert "Syntax errors in policy" in bad("{not json").message
    assert "Syntax errors" in bad("[]").message
    assert "Duplicate key" in bad('{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}').message
    assert "Unknown field" in bad({"Version": "2012-10-17", "Statement": [], "Extra": 1}).message
    assert "Missing required field Statement" in bad({"Version": "2012-10-17"}).message
    assert "Unknown field" in bad(doc({**allow(), "Actions": "x"})).message


def test_version_rules():
    assert parse_policy({"Statement": [allow()]}).version == "2008-10-17"  # absent = legacy
    assert "Version" in bad({"Version": "2012-10-18", "Statement": [allow()]}).message
    e = bad(doc(allow(), version="2008-10-17"), require_current_version=True)
    assert "2012-10-17" in e.message
    parse_policy(doc(allow()), require_current_version=True)


def test_effect_action_resource_required_and_exclusive():
    assert "Missing required field Effect" in bad(doc({"Action": "*", "Resource": "*"})).message
    assert "Invalid effect" in bad(doc({**allow(), "Effect": "allow"})).message
    assert "must contain actions" in bad(doc({"Effect": "Allow", "Resource": "*"})).message
    assert "both Action and NotAction" in bad(doc({**allow(), "NotAction": "s3:*"})).message
    assert "must contain resources" in bad(doc({"Effect": "Allow", "Action": "*"})).message
    assert "both Resource and NotResource" in bad(doc({**allow(), "NotResource": "*"})).message
    assert "empty list" in bad(doc(allow(action=[]))).message
    assert "string or a list of strings" in bad(doc(allow(action=5))).message


def test_action_needs_a_vendor_prefix_and_resource_an_arn():
    assert "prefaced by a vendor" in bad(doc(allow("GetObject"))).message
    assert 'must be in ARN format or "*"' in bad(doc(allow("s3:*", "bucket"))).message
    parse_policy(doc(allow("s3:*", "arn:aws:s3:::b")))
    parse_policy(doc(allow("s3:*", "${aws:username}")))


def test_error_names_the_statement_and_sid():
    e = bad(doc(allow(Sid="First"), {"Sid": "Second", "Effect": "Allow", "Action": "*"}))
    assert e.statement_index == 1 and e.sid == "Second"
    assert 'Statement 2 (Sid "Second")' in e.message
    assert e.aws_message == "Policy statement must contain resources."


def test_sid_rules():
    assert "unique" in bad(doc(allow(Sid="A"), deny(Sid="A"))).message
    assert "alpha-numeric" in bad(doc(allow(Sid="has space"))).message
    # Resource policies (S3 and friends) accept free-form Sids.
    parse_policy(doc(allow(Sid="has space", Principal="*")), "resource")


def test_identity_policies_take_no_principal():
    assert "should not specify a principal" in bad(doc(allow(Principal="*"))).message
    assert "should not specify a principal" in bad(doc(deny(NotPrincipal={"AWS": "*"}))).message


def test_resource_policies_need_a_principal():
    assert "Missing required field Principal" in bad(doc(allow()), "resource").message
    p = parse_policy(doc(allow()), "resource", allow_missing_principal=True)
    assert p.statements[0].principal is None


def test_principal_forms_and_normalisation():
    p = parse_policy(doc(allow(Principal={
        "AWS": [ACCT, f"arn:aws:iam::{ACCT}:user/bob", f"arn:aws:sts::{ACCT}:assumed-role/R/s", "AIDAEXAMPLEEXAMPLE12"],
        "Federated": "accounts.google.com", "Service": ["ec2.amazonaws.com"], "CanonicalUser": "79a59df900b949e55d96a1e698fbaced",
    })), "resource")
    spec = p.statements[0].principal
    assert spec.aws[0] == f"arn:aws:iam::{ACCT}:root"  # bare account id = root
    assert spec.federated == ("accounts.google.com",) and spec.service == ("ec2.amazonaws.com",)
    assert parse_policy(doc(allow(Principal="*")), "resource").statements[0].principal.wildcard
    assert parse_policy(doc(allow(Principal={"AWS": "*"})), "resource").statements[0].principal.wildcard
    for wrong in ({"AWS": "bob"}, {"AWS": f"arn:aws:iam::{ACCT}:user/*"}, {"Foo": "x"}, {}, {"AWS": []}, "someone"):
        assert "Invalid principal" in bad(doc(allow(Principal=wrong)), "resource").message


def test_trust_policy_rules():
    ok = {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}
    parse_policy(doc(ok), "trust")
    parse_policy(doc({**ok, "Action": "sts:AssumeRole*"}), "trust")
    assert "prohibited field Resource" in bad(doc({**ok, "Resource": "*"}), "trust").message
    assert "prohibited field NotResource" in bad(doc({**ok, "NotResource": "*"}), "trust").message
    assert "prohibited field NotPrincipal" in bad(doc({"Effect": "Deny", "NotPrincipal": {"AWS": ACCT}, "Action": "sts:AssumeRole"}), "trust").message
    assert "Missing required field Principal" in bad(doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), "trust").message
    for action in ("s3:GetObject", "sts:*", "*", "sts:GetSessionToken"):
        assert "Trust policies may only allow" in bad(doc({**ok, "Action": action}), "trust").message


def test_condition_block_validation():
    def with_cond(c):
        return doc(allow(Condition=c))

    assert "Invalid Condition type" in bad(with_cond({"StringEqualz": {"aws:x": "a"}})).message
    assert "Invalid Condition type" in bad(with_cond({"NullIfExists": {"aws:x": "true"}})).message
    assert "Invalid Condition type" in bad(with_cond({"ForSomeValues:StringEquals": {"aws:x": "a"}})).message
    assert "prefaced by a vendor" in bad(with_cond({"StringEquals": {"nocolon": "a"}})).message
    assert "expected a number" in bad(with_cond({"NumericLessThan": {"aws:x": "ten"}})).message
    assert "ISO 8601" in bad(with_cond({"DateLessThan": {"aws:CurrentTime": "yesterday"}})).message
    assert "true" in bad(with_cond({"Bool": {"aws:SecureTransport": "yes"}})).message
    assert "CIDR" in bad(with_cond({"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})).message
    assert "base64" in bad(with_cond({"BinaryEquals": {"aws:x": "!!!"}})).message
    assert "at least one value" in bad(with_cond({"StringEquals": {"aws:x": []}})).message
    assert "Invalid value" in bad(with_cond({"StringEquals": {"aws:x": {"a": 1}}})).message
    c = parse_policy(with_cond({"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", 5, True]}})).statements[0].conditions[0]
    assert (c.base, c.set_operator, c.if_exists, c.values) == ("StringLike", "ForAnyValue", True, ("a*", "5", "true"))


def test_typed_values_with_variables_are_checked_at_evaluation_only():
    parse_policy(doc(allow(Condition={"NumericLessThan": {"aws:x": "${aws:y}"}})))


def test_size_ignores_whitespace():
    text = '{ "Version" : "2012-10-17",\n  "Statement" : [ ] }'
    assert policy_size(text) == len(text.replace(" ", "").replace("\n", ""))
    assert policy_size({"a": 1}) == len('{"a":1}')
    assert MANAGED_POLICY_MAX_SIZE == 6144


def test_validate_policy_and_kinds_as_strings():
    validate_policy(doc(allow(Principal="*")), "resource")
    with pytest.raises(ValueError):
        parse_policy(doc(allow()), "bogus")
    assert PolicyKind("trust") is PolicyKind.TRUST
