"""The policies that apply to a caller, parsed once and cached until IAM state changes.

Entries live in the runtime's IAM-data caches (``opensts.cache.Caches``), which every IAM change
empties, and are stamped with the store's ``iam`` change counter as this process last saw it
(``runtime.iam_version``), so that a read that raced a change is not served afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from opensts.cache import Caches
from opensts.policy import Policy, PolicyValidationError, parse_policy
from opensts.policy.policyset import PolicySet
from opensts.store.iam_roles import RoleRecord
from opensts.store.principal_policies import EntityPolicies, PolicyDocument

if TYPE_CHECKING:
    from opensts.store import Store


class IamState(Protocol):
    """What ``access`` reads from the process's runtime (:class:`opensts.runtime.Runtime` is one):
    the store, the IAM change counter as this process last saw it, and the caches. ``access`` does
    not import the runtime: the runtime is built from ``access`` (its PolicyCache), not the reverse."""

    @property
    def store(self) -> "Store": ...

    @property
    def iam_version(self) -> int: ...

    @property
    def policies(self) -> "PolicyCache": ...

    @property
    def caches(self) -> Caches: ...


# An IAM user's or role's ARN, path included: (account, "user" | "role", path, name).
ENTITY_ARN = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)(/(?:[^*?]*/)?)([^/*?]+)$")

ALLOW_ALL = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    "identity",
    name="root",
)


@dataclass(frozen=True, slots=True)
class EntityPolicySet:
    """A user's or role's identity policies, boundary and tags, parsed."""

    entity_id: str
    name: str
    path: str
    identity: PolicySet  # the engine's fast path: statements indexed per action
    boundary: Policy | None
    tags: tuple[tuple[str, str], ...]


def current_entity_id(store: "Store", arn: str) -> str | None:
    """The unique id of the user or role an ARN names now (path included), or None. Blocking."""
    match = ENTITY_ARN.match(arn)
    if match is None:
        return None
    account, kind, path, name = match.groups()
    if kind == "user":
        user = store.users.get(account, name)
        return user.user_id if user is not None and user.path == path and user.name == name else None
    role = store.roles.get(account, name)
    return role.role_id if role is not None and role.path == path and role.name == name else None


def _parse(doc: PolicyDocument) -> Policy | None:
    try:
        return parse_policy(doc.document, "identity", name=doc.name)
    except PolicyValidationError:
        return None  # stored documents were validated on write; a later engine may be stricter


def _parse_entity(entity: EntityPolicies) -> EntityPolicySet:
    identity = PolicySet(p for p in (_parse(d) for d in entity.identity) if p is not None)
    boundary = _parse(entity.boundary) if entity.boundary else None
    return EntityPolicySet(entity.entity_id, entity.name, entity.arn_path, identity, boundary, entity.tags)


class PolicyCache:
    """Policy sets, managed policies, roles by name, entity ids and callers' policies, by IAM version."""

    def __init__(self, runtime: IamState, caches: Caches) -> None:
        self._runtime = runtime
        self._entries = caches.policy_sets
        self._managed = caches.managed_policies
        self._lookups = caches.iam_lookups
        self._callers = caches.caller_policies

    def peek(self, kind: str, entity_id: str) -> EntityPolicySet | None | bool:
        """Cached answer without I/O, or False when the store must be read."""
        entry = self._entries.get((kind, entity_id))
        if entry is None or entry[0] != self._runtime.iam_version:
            return False
        return entry[1]

    def load(self, kind: str, entity_id: str) -> EntityPolicySet | None:
        """The entity's policy set (blocking read); None if the user or role no longer exists."""
        version = self._runtime.iam_version
        repo = self._runtime.store.principal_policies
        entity = repo.for_user(entity_id) if kind == "user" else repo.for_role(entity_id)
        result = _parse_entity(entity) if entity is not None else None
        self._entries.put((kind, entity_id), (version, result))
        return result

    def get(self, kind: str, entity_id: str) -> EntityPolicySet | None:
        cached = self.peek(kind, entity_id)
        return self.load(kind, entity_id) if cached is False else cached  # type: ignore[return-value]

    def managed(self, arns: tuple[str, ...]) -> tuple[Policy | None, ...]:
        """Managed policies by ARN (session PolicyArns); None for an ARN that names no policy."""
        version = self._runtime.iam_version
        found: dict[str, Policy | None] = {}
        missing = []
        for arn in arns:
            entry = self._managed.get(arn)
            if entry is not None and entry[0] == version:
                found[arn] = entry[1]
            else:
                missing.append(arn)
        if missing:
            docs = self._runtime.store.principal_policies.managed_documents(tuple(missing))
            for arn, doc in zip(missing, docs):
                found[arn] = self._managed.put(arn, (version, _parse(doc) if doc else None))[1]
        return tuple(found[a] for a in arns)

    def role(self, account_id: str, name: str) -> "RoleRecord | None":
        """A role by account and name (blocking on a miss), cached like policy sets."""
        return self.remembered(
            ("role-by-name", f"{account_id}/{name.lower()}"), lambda: self._runtime.store.roles.get(account_id, name)
        )

    def entity_id(self, arn: str) -> str | None:
        """The unique id of the user or role an ARN names now (blocking on a miss), cached."""
        return self.remembered(("entity-id", arn), lambda: current_entity_id(self._runtime.store, arn))

    def remembered(self, key: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, kept until the next IAM change (blocking on a miss if it reads the store)."""
        version = self._runtime.iam_version
        entry = self._lookups.get(key)
        if entry is not None and entry[0] == version:
            return entry[1]
        value = compute()
        self._lookups.put(key, (version, value))
        return value

    def caller(self, access_key_id: str, version: int) -> Any:
        """A caller's CallerPolicies remembered at ``version`` (see access.authorize), or None."""
        entry = self._callers.get(access_key_id)
        return entry[1] if entry is not None and entry[0] == version else None

    def remember_caller(self, access_key_id: str, version: int, policies: Any) -> None:
        self._callers.put(access_key_id, (version, policies))
