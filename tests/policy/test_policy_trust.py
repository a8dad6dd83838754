"""Role trust policies (sts:AssumeRole*)."""
from __future__ import annotations

from opensts.policy import Outcome, Principal, PrincipalType, Request, evaluate_trust, parse_policy

from .helpers import ACCT, OTHER, allow, doc, pol, session, user

A, E, I = Outcome.ALLOW, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY
ROLE = f"arn:aws:iam::{ACCT}:role/Target"


def trust(principal, actions=("sts:AssumeRole",), **extra):
    return parse_policy(doc({"Effect": "Allow", "Principal": principal, "Action": list(actions), **extra}), "trust")


def ask(principal, action="sts:AssumeRole", **kw):
    return Request(principal, action, ROLE, **kw)


def test_same_account_naming_the_caller_suffices():
    assert evaluate_trust(ask(user()), trust({"AWS": user().arn})).outcome is A


def test_same_account_naming_the_account_delegates_to_identity_policies():
    t = trust({"AWS": ACCT})
    assert evaluate_trust(ask(user()), t).outcome is I
    assert evaluate_trust(ask(user()), t, [pol(allow("sts:AssumeRole", ROLE))]).outcome is A
    assert evaluate_trust(ask(user()), trust({"AWS": f"arn:aws:iam::{ACCT}:root"}), [pol(allow("sts:AssumeRole", "*"))]).outcome is A
    assert evaluate_trust(ask(user()), t, [pol(allow("sts:AssumeRole", f"arn:aws:iam::{ACCT}:role/Other"))]).outcome is I


def test_identity_policy_alone_never_suffices():
    other = trust({"AWS": f"arn:aws:iam::{ACCT}:user/bob"})
    assert evaluate_trust(ask(user()), other, [pol(allow())]).outcome is I


def test_cross_account_needs_both():
    outsider = user("eve", OTHER)
    t = trust({"AWS": outsider.arn})
    assert evaluate_trust(ask(outsider), t).outcome is I
    assert evaluate_trust(ask(outsider), t, [pol(allow("sts:AssumeRole", ROLE))]).outcome is A
    assert evaluate_trust(ask(outsider), trust({"AWS": OTHER}), [pol(allow("sts:AssumeRole", ROLE))]).outcome is A


def test_explicit_deny_and_conditions():
    t = parse_policy(doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "secret"}}},
    ), "trust")
    ident = [pol(allow("sts:AssumeRole"))]
    assert evaluate_trust(ask(user()), t, ident).outcome is I
    assert evaluate_trust(ask(user(), context={"sts:ExternalId": "secret"}), t, ident).outcome is A
    denying = parse_policy(doc(
        {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
    ), "trust")
    assert evaluate_trust(ask(user()), denying, ident).outcome is E
    assert evaluate_trust(ask(user(), context={"aws:MultiFactorAuthPresent": True}), denying, ident).outcome is A


def test_role_chaining_session_of_named_role():
    caller_role = f"arn:aws:iam::{ACCT}:role/app/Worker"
    assert evaluate_trust(ask(session()), trust({"AWS": caller_role})).outcome is A


def test_tag_session_and_source_identity_must_also_be_allowed():
    t = trust({"AWS": user().arn})
    d = evaluate_trust(ask(user()), t, extra_actions=["sts:TagSession"])
    assert d.outcome is I
    t2 = trust({"AWS": user().arn}, actions=("sts:AssumeRole", "sts:TagSession"))
    assert evaluate_trust(ask(user()), t2, extra_actions=["sts:TagSession"]).outcome is A


def test_web_identity_and_saml_and_service_callers():
    oidc = f"arn:aws:iam::{ACCT}:oidc-provider/token.example.com"
    caller = Principal(arn=oidc, type=PrincipalType.WEB_IDENTITY)
    t = trust({"Federated": oidc}, actions=("sts:AssumeRoleWithWebIdentity",),
              Condition={"StringEquals": {"token.example.com:aud": "my-app"}})
    rq = ask(caller, "sts:AssumeRoleWithWebIdentity", context={"token.example.com:aud": "my-app"})
    assert evaluate_trust(rq, t).outcome is A
    assert evaluate_trust(ask(caller, "sts:AssumeRoleWithWebIdentity", context={"token.example.com:aud": "x"}), t).outcome is I
    saml = f"arn:aws:iam::{ACCT}:saml-provider/idp"
    sc = Principal(arn=saml, type=PrincipalType.SAML)
    assert evaluate_trust(ask(sc, "sts:AssumeRoleWithSAML"), trust({"Federated": saml}, actions=("sts:AssumeRoleWithSAML",))).outcome is A
    svc = Principal(arn="lambda.amazonaws.com", type=PrincipalType.SERVICE)
    assert evaluate_trust(ask(svc), trust({"Service": "lambda.amazonaws.com"})).outcome is A


def test_root_may_not_assume_roles_and_non_trust_actions_are_refused():
    root = Principal(arn=f"arn:aws:iam::{ACCT}:root", type=PrincipalType.ACCOUNT)
    d = evaluate_trust(ask(root), trust({"AWS": ACCT}))
    assert d.outcome is I and "root" in d.reasons[0]
    assert evaluate_trust(Request(user(), "s3:GetObject", ROLE), trust({"AWS": user().arn})).outcome is I
