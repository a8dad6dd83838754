"""What every IAM action shares: the caller's account, authorization with the action's condition
keys, resource ARNs, and policy-document validation, with AWS's error codes and messages.

Request fields shared by many actions are in ``iam/fields.py``, tags in ``iam/tagging.py``, paging
in ``iam/pagination.py``, and the entity lookups every area needs in ``iam/entities.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from opensts.access.authorize import authorize, iam_resource_arn
from opensts.actions import ActionContext
from opensts.errors import MalformedPolicyDocument
from opensts.params import LONE_SURROGATE, json_has_lone_surrogate
from opensts.policy import Policy, PolicyValidationError, parse_policy
from opensts.policy.model import Effect
from opensts.policy.wildcard import glob_match


def caller_account(ctx: ActionContext) -> str:
    assert ctx.caller is not None, "IAM actions are always signed"
    return ctx.caller.account_id


def authorize_iam(ctx: ActionContext, action: str, resource: str, context: dict[str, Any] | None = None) -> None:
    """Authorize ``iam:ACTION`` on ``resource`` (an ARN in the caller's account) or raise AccessDenied.

    ``context``: the action's own condition keys (``aws:RequestTag/*``, ``aws:TagKeys``,
    ``iam:PermissionsBoundary``, ``iam:PolicyARN``), so that policies conditioned on them hold.
    """
    authorize(ctx, f"iam:{action}", resource, context=context)


def authorize_iam_account_grant(ctx: ActionContext, action: str, resource: str, *, granted: bool) -> None:
    """:func:`authorize_iam` for an action the account grants its IAM users itself (the password
    policy's AllowUsersToChangePassword grants each user iam:ChangePassword on itself and
    iam:GetAccountPasswordPolicy): when ``granted``, it counts as an identity-policy Allow. An
    explicit Deny still denies, and so do the caller's permissions boundary, session policies
    and credential scopes (they limit what identity policies grant)."""
    authorize(ctx, f"iam:{action}", resource, identity_grant=granted)


def boundary_context(boundary_arn: str | None) -> dict[str, Any]:
    """``iam:PermissionsBoundary``: the boundary being set, or the entity's current one."""
    return {"iam:PermissionsBoundary": boundary_arn} if boundary_arn else {}


def resource_arn(account: str, resource_type: str, name: str = "", path: str = "/") -> str:
    """``arn:aws:iam::ACCT:user/PATH/NAME`` and the like; ``name=""`` for list calls (``user/PATH``)."""
    return iam_resource_arn(account, f"{resource_type}{path}{name}")


# --- Policy documents -------------------------------------------------------------------------
def validate_policy_document(text: str, kind: str = "identity", *, managed: bool = False, name: str | None = None) -> Policy:
    """Parse and validate, or raise MalformedPolicyDocument with the engine's precise message.

    ``managed``: IAM managed policies must say ``"Version": "2012-10-17"``.
    """
    if json_has_lone_surrogate(text):
        raise MalformedPolicyDocument(LONE_SURROGATE)
    try:
        return parse_policy(text, kind, name=name, require_current_version=managed)
    except PolicyValidationError as exc:
        raise MalformedPolicyDocument(str(exc)) from None


def encode_policy_document(text: str) -> str:
    """AWS returns policy documents URL-encoded inside the XML; botocore decodes them back to dicts."""
    return quote(text, safe="")


# --- Which services a policy allows --------------------------------------------------------------
def allowed_namespaces(documents: list[str], candidates: set[str]) -> set[str]:
    """The service namespaces the documents' ``Allow`` statements name: each ``Action`` prefix, or
    for wildcard prefixes and ``NotAction`` the ``candidates`` they match (the engine's globbing,
    case-insensitive as action names are)."""
    out: set[str] = set()
    for document in documents:
        try:
            policy = parse_policy(document, "identity")
        except PolicyValidationError:  # stored documents were validated when written
            continue
        for statement in policy.statements:
            if statement.effect is not Effect.ALLOW:
                continue
            if statement.action is not None:
                for pattern in statement.action:
                    prefix = pattern.partition(":")[0].lower() if pattern != "*" else "*"
                    if "*" in prefix or "?" in prefix:
                        out |= {c for c in candidates if glob_match(prefix, c, ignore_case=True)}
                    else:
                        out.add(prefix)
            elif statement.not_action is not None:
                # Everything but the excluded actions: a service goes only when all its actions do.
                excluded = {p.partition(":")[0].lower() for p in statement.not_action if p.endswith(":*") or p == "*"}
                out |= {c for c in candidates if not any(glob_match(e, c, ignore_case=True) for e in excluded)}
    return out
