"""Match a Principal/NotPrincipal element against the calling principal.

The result says *how* the element named the caller, because AWS grants differently by kind
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): naming the exact principal (user, session, federated user, ``*``) grants on its own;
naming the role a session belongs to is still limited by boundary and session policies; naming the
account only delegates to the account's identity policies.
"""
from __future__ import annotations

from .arn import parse_arn
from .model import PrincipalSpec
from .request import Principal, PrincipalType

NO_MATCH = 0
ACCOUNT_MATCH = 1  # the caller's account (root ARN or bare account id) is named
ROLE_MATCH = 2  # the role behind the caller (or the role itself) is named
DIRECT_MATCH = 3  # the caller itself, or everyone ("*")

_AWS_TYPES = frozenset(
    {PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ROLE, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER}
)


def _role_key(arn: str) -> tuple[str, str] | None:
    # Roles compare by (account, name): a session ARN drops the role's path, so a role named with
    # a path must still match a session whose full role ARN is unknown.
    parsed = parse_arn(arn)
    if parsed is None or not parsed.resource.startswith("role/"):
        return None
    return parsed.account, parsed.resource.rsplit("/", 1)[-1]


class PrincipalMatcher:
    __slots__ = ("wildcard", "direct", "role_keys", "accounts", "federated", "service", "canonical")

    def __init__(self, spec: PrincipalSpec) -> None:
        self.wildcard = spec.wildcard
        direct: set[str] = set()
        role_keys: set[tuple[str, str]] = set()
        accounts: set[str] = set()
        for value in spec.aws:
            parsed = parse_arn(value)
            if parsed is not None and parsed.service == "iam" and parsed.resource == "root":
                accounts.add(parsed.account)
                continue
            key = _role_key(value)
            if key is not None:
                role_keys.add(key)
            else:
                direct.add(value)  # user, assumed-role session, federated user, unique id
        self.direct = frozenset(direct)
        self.role_keys = frozenset(role_keys)
        self.accounts = frozenset(accounts)
        self.federated = frozenset(spec.federated)
        self.service = frozenset(s.lower() for s in spec.service)
        self.canonical = frozenset(spec.canonical_user)

    def names(self, p: Principal) -> bool:
        """Whether the element names ``p`` itself (NotPrincipal: only these are exempt)."""
        if self.wildcard:
            return True
        t = p.type
        if t in _AWS_TYPES:
            if p.arn in self.direct or (p.id is not None and p.id in self.direct):
                return True
            if t is PrincipalType.ACCOUNT:
                return p.account in self.accounts
            if t is PrincipalType.ROLE and self.role_keys:
                key = _role_key(p.arn)
                return key is not None and key in self.role_keys
            return False
        return self.match(p) == DIRECT_MATCH

    def match(self, p: Principal) -> int:
        if self.wildcard:
            return DIRECT_MATCH
        t = p.type
        if t in _AWS_TYPES:
            if p.arn in self.direct or (p.id is not None and p.id in self.direct):
                return DIRECT_MATCH
            if t is PrincipalType.ACCOUNT:
                return DIRECT_MATCH if p.account in self.accounts else NO_MATCH
            if self.role_keys and (t is PrincipalType.ASSUMED_ROLE or t is PrincipalType.ROLE):
                key = _role_key(p.role_arn if t is PrincipalType.ASSUMED_ROLE and p.role_arn else p.arn)
                if key is not None and key in self.role_keys:
                    return ROLE_MATCH
            if p.account in self.accounts:
                return ACCOUNT_MATCH
            return NO_MATCH
        if t is PrincipalType.WEB_IDENTITY or t is PrincipalType.SAML:
            return DIRECT_MATCH if p.arn in self.federated else NO_MATCH
        if t is PrincipalType.SERVICE:
            return DIRECT_MATCH if p.arn.lower() in self.service else NO_MATCH
        if p.canonical_user is not None and p.canonical_user in self.canonical:
            return DIRECT_MATCH
        return NO_MATCH
