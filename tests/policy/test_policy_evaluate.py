"""Evaluation logic (AWS §10): every rule, principal kinds, cross-account, policy types."""
from __future__ import annotations

from opensts.policy import Outcome, Principal, PrincipalType, PolicySet, Request, evaluate, parse_policy

from .helpers import ACCT, OTHER, ROLE, SESSION, USER, allow, deny, doc, pol, req, session, user

A, E, I = Outcome.ALLOW, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::bucket/key"


def rpol(*statements):
    return parse_policy(doc(*statements), "resource")


def grant(principal, **kw):
    return allow("s3:GetObject", BUCKET, Principal=principal, **kw)


def run(request, identity=(), resource_policy=None, boundaries=(), sessions=(), scps=(), **kw):
    return evaluate(request, list(identity), resource_policy, list(boundaries), list(sessions), scps, **kw)


def r(principal=None, resource_account=ACCT, **kw):
    return req(principal, resource=BUCKET, resource_account=resource_account, **kw)


def test_default_is_implicit_deny():
    d = run(r())
    assert d.outcome is I and d.blocked_by == ("identity",) and not d.allowed and not d


def test_identity_allow_and_explicit_deny_wins():
    d = run(r(), [pol(allow("s3:GetObject", BUCKET, Sid="Read"))])
    assert d.outcome is A and d.matched[0].sid == "Read" and d.matched[0].source == "identity"
    d = run(r(), [pol(allow()), pol(deny("s3:Get*", "arn:aws:s3:::bucket/*", Sid="No"))], rpol(grant("*")))
    assert d.outcome is E and d.blocked_by == ("identity",)
    assert [m.sid for m in d.matched if m.effect == "Deny"] == ["No"]


def test_explicit_deny_in_each_policy_type():
    ok = [pol(allow())]
    d_stmt = deny("s3:*", "*")
    assert run(r(), ok, rpol(deny("s3:*", "*", Principal="*"))).blocked_by == ("resource",)
    assert run(r(), ok, boundaries=[pol(allow(), d_stmt)]).blocked_by == ("boundary",)
    assert run(r(session()), ok, sessions=[pol(allow(), d_stmt)]).blocked_by == ("session",)
    assert run(r(), ok, scps=[[pol(allow(), d_stmt, kind="scp")]]).blocked_by == ("scp",)
    assert run(r(), ok, rcps=[[parse_policy(doc(deny("s3:*", "*", Principal="*")), "rcp")]]).blocked_by == ("rcp",)
    assert run(r(), ok, endpoint_policies=[parse_policy(doc(allow(), d_stmt), "endpoint")]).blocked_by == ("endpoint",)


def test_get_caller_identity_is_always_allowed():
    d = run(req(action="sts:GetCallerIdentity", resource="*"), [pol(deny())], scps=[[pol(deny(), kind="scp")]])
    assert d.outcome is A


def test_same_account_resource_policy_grants_by_principal_kind():
    boundary = [pol(allow("ec2:*"))]  # does not allow s3
    # IAM user named: not limited by identity policy or boundary
    assert run(r(user()), resource_policy=rpol(grant({"AWS": USER})), boundaries=boundary).outcome is A
    # session ARN named: not limited by boundary or session policy
    s = session()
    assert run(r(s), resource_policy=rpol(grant({"AWS": SESSION})), boundaries=boundary,
               sessions=[pol(allow("ec2:*"))]).outcome is A
    # role ARN named: a session of the role is granted, but boundary and session policies apply
    assert run(r(s), resource_policy=rpol(grant({"AWS": ROLE}))).outcome is A
    assert run(r(s), resource_policy=rpol(grant({"AWS": ROLE})), boundaries=boundary).outcome is I
    assert run(r(s), resource_policy=rpol(grant({"AWS": ROLE})), sessions=[pol(allow("ec2:*"))]).outcome is I
    # role ARN without its path still names the role (session ARNs drop the path)
    assert run(r(s), resource_policy=rpol(grant({"AWS": f"arn:aws:iam::{ACCT}:role/Worker"}))).outcome is A
    # account named: delegates to identity policies
    assert run(r(user()), resource_policy=rpol(grant({"AWS": ACCT}))).outcome is I
    assert run(r(user()), [pol(allow("s3:*"))], rpol(grant({"AWS": ACCT}))).outcome is A
    # "*": everyone, directly
    assert run(r(user()), resource_policy=rpol(grant("*")), boundaries=boundary).outcome is A
    # another principal named: nothing
    assert run(r(user()), resource_policy=rpol(grant({"AWS": f"arn:aws:iam::{ACCT}:user/bob"}))).outcome is I


def test_federated_user_needs_a_session_policy():
    fed = Principal(arn=f"arn:aws:sts::{ACCT}:federated-user/bob", type=PrincipalType.FEDERATED_USER)
    ident = [pol(allow())]
    assert run(r(fed), ident).outcome is I
    assert run(r(fed), ident).blocked_by == ("session",)
    assert run(r(fed), ident, sessions=[pol(allow("s3:GetObject"))]).outcome is A
    # a resource policy naming the federated user grants directly
    assert run(r(fed), resource_policy=rpol(grant({"AWS": fed.arn}))).outcome is A


def test_boundary_and_session_policies_intersect():
    ident = [pol(allow())]
    assert run(r(), ident, boundaries=[pol(allow("s3:Get*"))]).outcome is A
    assert run(r(), ident, boundaries=[pol(allow("ec2:*"))]).blocked_by == ("boundary",)
    assert run(r(session()), ident, sessions=[pol(allow("s3:GetObject", BUCKET))]).outcome is A
    assert run(r(session()), [], sessions=[pol(allow())]).outcome is I  # session policies never grant
    assert run(r(session()), ident, sessions=[pol(allow("ec2:*"))]).blocked_by == ("session",)


def test_cross_account_needs_both_sides():
    outsider = user("eve", OTHER)
    ident = [pol(allow("s3:*"))]
    assert run(r(outsider), ident).outcome is I
    assert run(r(outsider), ident).blocked_by == ("resource",)
    assert run(r(outsider), resource_policy=rpol(grant({"AWS": outsider.arn}))).outcome is I
    assert run(r(outsider), ident, rpol(grant({"AWS": outsider.arn}))).outcome is A
    assert run(r(outsider), ident, rpol(grant({"AWS": OTHER}))).outcome is A
    assert run(r(outsider), ident, rpol(grant({"AWS": ACCT}))).outcome is I
    # the caller's boundary still applies
    assert run(r(outsider), ident, rpol(grant("*")), boundaries=[pol(allow("ec2:*"))]).outcome is I


def test_resource_account_from_arn_or_principal():
    rq = Request(user(), "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{OTHER}:q")
    assert rq.resource_account == OTHER
    assert Request(user(), "s3:GetObject", BUCKET).resource_account == ACCT


def test_scps_every_level_must_allow():
    ident = [pol(allow())]
    full = pol(allow(), kind="scp")
    only_ec2 = pol(allow("ec2:*"), kind="scp")
    assert run(r(), ident, scps=[[full], [full]]).outcome is A
    assert run(r(), ident, scps=[[full], [only_ec2]]).blocked_by == ("scp",)
    assert run(r(), ident, scps=[[full], []]).outcome is I  # a level with nothing attached denies
    assert run(r(), ident, scps=[full]).outcome is A  # a bare policy is a level of one
    # SCPs do not restrict anonymous callers or service principals
    anon = Principal.anonymous()
    assert run(r(anon), resource_policy=rpol(grant("*")), scps=[[only_ec2]]).outcome is A


def test_rcps_only_deny():
    ident = [pol(allow())]
    assert run(r(), ident, rcps=[[], []]).outcome is A
    rcp = parse_policy(doc(deny("s3:*", "*", Principal="*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}})), "rcp")
    assert run(r(), ident, rcps=[[rcp]]).outcome is E
    assert run(r(context={"aws:PrincipalOrgID": "o-1"}), ident, rcps=[[rcp]]).outcome is A


def test_endpoint_policies_must_allow():
    ident = [pol(allow())]
    ep = parse_policy(doc(allow("s3:GetObject", "*")), "endpoint")
    assert run(r(), ident, endpoint_policies=[ep]).outcome is A
    assert run(req(action="s3:PutObject"), ident, endpoint_policies=[ep]).blocked_by == ("endpoint",)


def test_anonymous_and_service_principals():
    anon = Principal.anonymous()
    assert run(r(anon), [pol(allow())]).outcome is I
    assert run(r(anon), resource_policy=rpol(grant("*"))).outcome is A
    assert run(r(anon), resource_policy=rpol(grant({"AWS": ACCT}))).outcome is I
    svc = Principal(arn="logs.amazonaws.com", type=PrincipalType.SERVICE)
    assert run(r(svc), resource_policy=rpol(grant({"Service": "logs.amazonaws.com"}))).outcome is A
    assert run(r(svc), resource_policy=rpol(grant({"Service": "ec2.amazonaws.com"}))).outcome is I


def test_not_principal():
    ident = [pol(allow())]
    guard = rpol({"Effect": "Deny", "NotPrincipal": {"AWS": [USER, ACCT]}, "Action": "s3:*", "Resource": "*"})
    assert run(r(user()), ident, guard).outcome is A
    assert run(r(user("bob", OTHER)), ident, guard).outcome is E
    # a principal with a permissions boundary is always denied by Deny + NotPrincipal
    assert run(r(user()), ident, guard, boundaries=[pol(allow())]).outcome is E


def test_root_user_has_full_identity_permissions_but_denies_apply():
    root = Principal(arn=f"arn:aws:iam::{ACCT}:root", type=PrincipalType.ACCOUNT)
    assert run(r(root)).outcome is A
    assert run(r(root), resource_policy=rpol(deny("s3:*", "*", Principal="*"))).outcome is E
    assert run(r(root), scps=[[pol(allow("ec2:*"), kind="scp")]]).outcome is I


def test_kms_key_policy_is_authoritative():
    key = f"arn:aws:kms:us-east-1:{ACCT}:key/1"
    rq = req(action="kms:Decrypt", resource=key)
    ident = [pol(allow("kms:*"))]
    assert run(rq, ident).outcome is I
    kp = rpol(allow("kms:*", "*", Principal={"AWS": ACCT}))
    assert run(rq, ident, kp).outcome is A
    assert run(rq, [], kp).outcome is I
    assert run(req(action="kms:ListKeys", resource="*"), ident).outcome is A


def test_aws_guardrails_on_reserved_resources():
    ident = [pol(allow())]
    managed = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert run(req(action="iam:GetPolicy", resource=managed), ident).outcome is A
    assert run(req(action="iam:CreatePolicyVersion", resource=managed), ident).blocked_by == ("guardrail",)
    reserved = f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_x"
    assert run(req(action="iam:PassRole", resource=reserved), ident).outcome is I
    alias = f"arn:aws:kms:us-east-1:{ACCT}:alias/aws/s3"
    assert run(req(action="kms:DeleteAlias", resource=alias), ident).outcome is I
    assert run(req(action="kms:DeleteAlias", resource=alias), [pol(deny())]).outcome is E


def test_policy_sets_and_documents_are_accepted():
    ps = PolicySet([doc(allow("s3:GetObject"))])
    assert evaluate(r(), ps).allowed
    assert evaluate(r(), ps).allowed  # memoised path
    assert evaluate(r(), [doc(allow("s3:GetObject"))]).allowed
    assert evaluate(r(), (p for p in [pol(allow())]), permissions_boundaries=(p for p in [pol(allow())])).allowed


def test_decision_serialisations():
    rq = r(context={"aws:MultiFactorAuthPresent": False})
    d = run(rq, [pol(deny("s3:*", "*", Sid="Block"))])
    assert d.to_dict()["decision"] == "ExplicitDeny"
    msg = d.authorization_message(rq)
    assert msg["allowed"] is False and msg["explicitDeny"] is True
    assert msg["matchedStatements"]["items"][0]["statementId"] == "Block"
    assert msg["matchedStatements"]["items"][0]["effect"] == "DENY"
    assert msg["context"]["action"] == "s3:GetObject"
    keys = {i["key"]: i["values"]["items"] for i in msg["context"]["conditions"]["items"]}
    assert keys["aws:multifactorauthpresent"] == [{"value": "false"}]
    assert "Decision(ExplicitDeny" in repr(d)
