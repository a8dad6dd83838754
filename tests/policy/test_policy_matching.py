"""Action, resource and principal matching; policy variables in resources."""
from __future__ import annotations

import pytest

from opensts.policy import Outcome, Principal, PrincipalType, Request, evaluate

from .helpers import ACCT, allow, decide, pol, req, user
from opensts.policy.wildcard import glob_covers, glob_intersects

A, I = Outcome.ALLOW, Outcome.IMPLICIT_DENY


@pytest.mark.parametrize(
    "pattern, action, ok",
    [
        ("s3:GetObject", "s3:getobject", True),  # case-insensitive
        ("S3:GET*", "s3:GetObjectAcl", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObjects", False),
        ("s3:*", "s3tables:GetTable", False),
        ("*", "anything:Goes", True),
        ("*:Get*", "ec2:GetConsoleOutput", True),
        ("s3:GetObject,s3:PutObject", "s3:GetObject", False),  # a comma is not a separator
        ("s3: GetObject", "s3:GetObject", False),  # whitespace is significant
        ("s3:", "s3:GetObject", False),
    ],
)
def test_action_matching(pattern, action, ok):
    assert (decide(req(action=action), pol(allow(pattern))) is A) is ok


def test_not_action_is_the_complement():
    p = pol({"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"})
    assert decide(req(action="s3:GetObject"), p) is A
    assert decide(req(action="s3:DeleteObject"), p) is I
    assert decide(req(action="IAM:CreateUser"), p) is I


@pytest.mark.parametrize(
    "pattern, resource, ok",
    [
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", True),  # * spans /
        ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket-2/x", True),
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x", False),  # case-sensitive
        ("arn:aws:*", "arn:aws:ec2:us-east-1:111111111111:instance/i-1", True),  # * spans :
        ("arn:aws:ec2:*:*:instance/i-?", "arn:aws:ec2:eu-west-1:111111111111:instance/i-7", True),
        ("arn:aws:ec2:*:*:instance/i-?", "arn:aws:ec2:eu-west-1:111111111111:instance/i-77", False),
        ("*", "whatever", True),
        ("arn:aws:s3:::b/k", "arn:aws:s3:::b/k", True),
        ("arn:aws:s3:::b/k", "arn:aws:s3:::b/k2", False),
    ],
)
def test_resource_matching(pattern, resource, ok):
    assert (decide(req(resource=resource), pol(allow("s3:*", pattern))) is A) is ok


def test_not_resource():
    p = pol({"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::secret/*", "arn:aws:s3:::private"]})
    assert decide(req(resource="arn:aws:s3:::public/x"), p) is A
    assert decide(req(resource="arn:aws:s3:::secret/x"), p) is I
    assert decide(req(resource="arn:aws:s3:::private"), p) is I


def test_variables_in_resources():
    alice = Principal(arn=f"arn:aws:iam::{ACCT}:user/alice", type=PrincipalType.USER, id="AIDAALICE", tags={"Team": "web"})
    p = pol(allow("s3:*", ["arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*"]))
    assert decide(req(alice, resource="arn:aws:s3:::home/alice/f"), p) is A
    assert decide(req(alice, resource="arn:aws:s3:::home/bob/f"), p) is I
    assert decide(req(alice, resource="arn:aws:s3:::teams/web/f"), p) is A
    # a value is substituted literally: a '*' in it is not a wildcard
    odd = Principal(arn=f"arn:aws:iam::{ACCT}:user/x", type=PrincipalType.USER, tags={"team": "*"})
    assert decide(req(odd, resource="arn:aws:s3:::teams/web/f"), p) is I
    # unresolvable (role sessions have no aws:username) never matches
    sess = Principal(arn=f"arn:aws:sts::{ACCT}:assumed-role/R/alice", type=PrincipalType.ASSUMED_ROLE)
    assert decide(req(sess, resource="arn:aws:s3:::home/alice/f"), p) is I
    # default value
    d = pol(allow("s3:*", "arn:aws:s3:::home/${aws:username, 'shared'}/*"))
    assert decide(req(sess, resource="arn:aws:s3:::home/shared/f"), d) is A
    # 2008-10-17: literal text
    legacy = pol(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17")
    assert decide(req(alice, resource="arn:aws:s3:::home/alice/f"), legacy) is I
    assert decide(req(alice, resource="arn:aws:s3:::home/${aws:username}/f"), legacy) is A
    # escapes
    e = pol(allow("s3:*", "arn:aws:s3:::b/${*}"))
    assert decide(req(resource="arn:aws:s3:::b/*"), e) is A
    assert decide(req(resource="arn:aws:s3:::b/x"), e) is I


def test_derived_global_keys():
    r = Request(user(id="AIDAX", tags={"Dept": "Eng"}), "s3:GetObject", "arn:aws:s3:::b/k")
    assert r.ctx["aws:username"] == ("alice",)
    assert r.ctx["aws:principaltag/dept"] == ("Eng",)
    assert r.ctx["aws:principalaccount"] == (ACCT,)
    assert r.ctx["aws:principaltype"] == ("User",)
    assert r.ctx["aws:userid"] == ("AIDAX",)
    # explicit context wins
    r2 = Request(user(), "s3:GetObject", context={"aws:username": "override"})
    assert r2.ctx["aws:username"] == ("override",)


def test_glob_pattern_algebra():
    assert glob_intersects("arn:aws:s3:::b/*", "arn:aws:s3:::*")
    assert glob_intersects("a?c", "*b*")
    assert not glob_intersects("a*", "b*")
    assert glob_covers("arn:aws:s3:::b/*", "arn:aws:s3:::b/logs/*")
    assert not glob_covers("arn:aws:s3:::b/logs/*", "arn:aws:s3:::b/*")
    assert glob_covers("*", "anything*")


def test_request_resource_as_pattern_for_simulation():
    allow_one = pol(allow("s3:GetObject", "arn:aws:s3:::b/public/*"))
    deny_part = pol({"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/public/secret/*"})
    r = Request(user(), "s3:GetObject", "arn:aws:s3:::b/*", resource_is_pattern=True)
    assert evaluate(r, [allow_one]).allowed  # allows part of it
    assert evaluate(r, [allow_one, deny_part]).allowed  # denies only part of it
    r2 = Request(user(), "s3:GetObject", "arn:aws:s3:::b/public/secret/*", resource_is_pattern=True)
    assert evaluate(r2, [allow_one, deny_part]).explicit_deny  # denies all of it
    # without the flag the request resource is literal text
    assert not evaluate(Request(user(), "s3:GetObject", "arn:aws:s3:::b/*"), [allow_one]).allowed
