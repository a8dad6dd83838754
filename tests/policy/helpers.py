"""Small builders shared by the policy-engine tests."""
from __future__ import annotations

from typing import Any

from opensts.policy import Decision, Outcome, Principal, PrincipalType, Request, evaluate, parse_policy

ACCT = "111111111111"
OTHER = "222222222222"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app/Worker"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Worker/s1"


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def pol(*statements: dict[str, Any], kind: str = "identity", version: str = "2012-10-17") -> Any:
    return parse_policy(doc(*statements, version=version), kind)


def user(name: str = "alice", account: str = ACCT, **kw: Any) -> Principal:
    return Principal(arn=f"arn:aws:iam::{account}:user/{name}", type=PrincipalType.USER, **kw)


def session(role: str = "Worker", name: str = "s1", account: str = ACCT, path: str = "/app/", **kw: Any) -> Principal:
    return Principal(
        arn=f"arn:aws:sts::{account}:assumed-role/{role}/{name}", type=PrincipalType.ASSUMED_ROLE,
        role_arn=f"arn:aws:iam::{account}:role{path}{role}", **kw,
    )


def req(principal: Principal | None = None, action: str = "s3:GetObject", resource: str = "arn:aws:s3:::bucket/key",
        context: dict[str, Any] | None = None, **kw: Any) -> Request:
    return Request(principal or user(), action, resource, context=context or {}, **kw)


def decide(request: Request, *identity: Any, **kw: Any) -> Outcome:
    return evaluate(request, list(identity), **kw).outcome


def cond_allows(condition: dict[str, Any], context: dict[str, Any], version: str = "2012-10-17", principal: Principal | None = None) -> bool:
    """Whether an Allow statement with this Condition applies to a request with this context."""
    p = pol(allow(Condition=condition), version=version)
    d: Decision = evaluate(req(principal, context=context), [p])
    return d.allowed
