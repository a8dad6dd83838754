"""Who a simulation simulates, and which account owns the simulated resources.

The caller is CallerArn when given: any principal ARN of IAM or STS (a user, a role, an
assumed-role session, a federated user or an account's root). Deviation: AWS accepts only an IAM
user's ARN
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html#API_SimulateCustomPolicy_RequestParameters).
The condition keys derived from it (``aws:PrincipalArn``, ``aws:username``, ``aws:userid`` where
known, ``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:PrincipalTag/*`` of the
PolicySourceArn's user or role) are present in the simulated context unless ContextEntries give
them. Without a caller, the simulated principal is one of the caller's account from which no key is
derived, so that policies reading such keys report them in MissingContextValues, as AWS does.

ResourceOwner is an account id or an account's ARN (``arn:aws:iam::123456789012:root``); without
it, resources belong to the caller's account.
"""

from __future__ import annotations

import re

from opensts.errors import InvalidInput
from opensts.identity import arn as arns
from opensts.policy import Principal, PrincipalType, principal_type_of

_CALLER_TYPES = (
    PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ROLE, PrincipalType.ASSUMED_ROLE,
    PrincipalType.FEDERATED_USER,
)
_ACCOUNT_ID = re.compile(r"\d{12}")


def caller_principal(arn: str, *, tags: dict[str, str] | None = None, principal_id: str | None = None) -> Principal:
    """A principal for any IAM/STS principal ARN; InvalidInput for anything else."""
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"CallerArn {arn} is not a valid principal ARN.") from None
    ptype = principal_type_of(arn)
    if parsed.service not in ("iam", "sts") or not _ACCOUNT_ID.fullmatch(parsed.account) or ptype not in _CALLER_TYPES:
        raise InvalidInput(
            f"CallerArn {arn} is not a valid principal ARN (a user, role, assumed-role session, federated user "
            "or account root)."
        )
    known = parsed.resource == "root" or parsed.resource.startswith(("user/", "role/", "assumed-role/", "federated-user/"))
    if not known or parsed.resource.endswith("/"):
        raise InvalidInput(f"CallerArn {arn} is not a valid principal ARN.")
    return Principal(arn, ptype, parsed.account, principal_id, tags=tags or {})


def anonymous_caller(account: str) -> Principal:
    """The caller of a simulation that names none: an IAM principal of ``account`` from which no
    condition key is derived."""
    principal = Principal(f"arn:{arns.PARTITION}:iam::{account}:user/", PrincipalType.USER, account)
    object.__setattr__(principal, "derived_context", {})
    return principal


def owner_account(owner: str | None) -> str | None:
    """ResourceOwner's account id (None if not given); InvalidInput if it names no account."""
    if owner is None:
        return None
    if _ACCOUNT_ID.fullmatch(owner):
        return owner
    try:
        parsed = arns.Arn.parse(owner)
    except ValueError:
        raise InvalidInput(f"ResourceOwner {owner} is not an account id or an account ARN.") from None
    if not _ACCOUNT_ID.fullmatch(parsed.account):
        raise InvalidInput(f"ResourceOwner {owner} is not an account id or an account ARN.")
    return parsed.account
