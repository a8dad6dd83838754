"""The policies that apply to a caller, parsed once and cached until IAM state changes.

Cache entries are stamped with the store's ``iam`` change counter (``runtime.iam_version``): any
IAM write bumps it, so this process drops its entries at once and other processes within the
version watcher's poll interval.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensts.policy import Policy, PolicyValidationError, parse_policy
from opensts.policy.policyset import PolicySet
from opensts.store.iam_roles import RoleRecord
from opensts.store.principal_policies import EntityPolicies, PolicyDocument

if TYPE_CHECKING:
    from opensts.runtime import Runtime

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
    def __init__(self, runtime: "Runtime", max_entries: int = 10_000) -> None:
        self._runtime = runtime
        self._max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[int, EntityPolicySet | None]] = {}
        self._managed: dict[str, tuple[int, Policy | None]] = {}
        # Roles by name, entity ids by ARN, effective trust policies: stamped with the IAM version.
        self._lookups: dict[tuple[str, ...], tuple[int, Any]] = {}
        self._callers: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[(kind, entity_id)] = (version, result)
        return result

    def get(self, kind: str, entity_id: str) -> EntityPolicySet | None:
        cached = self.peek(kind, entity_id)
        return self.load(kind, entity_id) if cached is False else cached  # type: ignore[return-value]

    def managed(self, arns: tuple[str, ...]) -> tuple[Policy | None, ...]:
        """Managed policies by ARN (session PolicyArns); None for an ARN that names no policy."""
        version = self._runtime.iam_version
        missing = tuple(a for a in arns if self._managed.get(a, (None,))[0] != version)
        if missing:
            docs = self._runtime.store.principal_policies.managed_documents(missing)
            with self._lock:
                if len(self._managed) >= self._max_entries:
                    self._managed.clear()
                for arn, doc in zip(missing, docs):
                    self._managed[arn] = (version, _parse(doc) if doc else None)
        return tuple(self._managed[a][1] for a in arns)

    def role(self, account_id: str, name: str) -> "RoleRecord | None":
        """A role by account and name (blocking on a miss), cached like policy sets."""
        return self.remembered(  # type: ignore[no-any-return]
            ("role-by-name", f"{account_id}/{name.lower()}"), lambda: self._runtime.store.roles.get(account_id, name)
        )

    def entity_id(self, arn: str) -> str | None:
        """The unique id of the user or role an ARN names now (blocking on a miss), cached."""
        from opensts.access.trust_principals import current_entity_id

        return self.remembered(("entity-id", arn), lambda: current_entity_id(self._runtime, arn))

    def remembered(self, key: tuple[str, ...], compute: Any) -> Any:
        """``compute()``, kept until the next IAM change (blocking on a miss if it reads the store)."""
        version = self._runtime.iam_version
        entry = self._lookups.get(key)
        if entry is not None and entry[0] == version:
            return entry[1]
        value = compute()
        with self._lock:
            if len(self._lookups) >= self._max_entries:
                self._lookups.clear()
            self._lookups[key] = (version, value)
        return value

    def caller(self, access_key_id: str, version: int) -> Any:
        """A caller's CallerPolicies remembered at ``version`` (see access.authorize), or None."""
        entry = self._callers.get(access_key_id)
        return entry[1] if entry is not None and entry[0] == version else None

    def remember_caller(self, access_key_id: str, version: int, policies: Any) -> None:
        with self._lock:
            if len(self._callers) >= self._max_entries:
                self._callers.clear()
            self._callers[access_key_id] = (version, policies)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._managed.clear()
            self._lookups.clear()
            self._callers.clear()
