"""The policies a simulation reads, and where each came from.

A policy comes from the request (``SourcePolicyId`` ``PolicyInputList.N``,
``PermissionsBoundaryPolicyInputList.N``, type ``none``; ``ResourcePolicy``, type ``resource``) or
from the entity named by PolicySourceArn: a user's inline policies (type ``user``), the inline
policies of its groups (``group``), a role's inline policies (``role``), and managed policies
attached to any of them (``user-managed``, or ``aws-managed`` for ARNs of account ``aws``), each
identified by its name. A matched statement is reported with its policy's id and type and the
positions of its first and last character in the policy text.

A policy given in the request that does not parse is InvalidInput ("Invalid policy document
PolicyInputList.1: ..."). A stored policy was validated when it was written; deviation: one that
the engine refuses today (a stricter rule since) is left out of the simulation rather than failing
it. A policy text that escapes a lone UTF-16 surrogate has no UTF-8 form, so it could not be
echoed in an answer: it is InvalidInput too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from opensts.actions import ActionContext
from opensts.errors import InvalidInput, NoSuchEntity
from opensts.iam.common import caller_account
from opensts.identity import arn as arns
from opensts.params import LONE_SURROGATE, json_has_lone_surrogate
from opensts.policy import Decision, Policy, PolicyValidationError, parse_policy

from .results import Position, StatementRef


@dataclass
class SourcePolicy:
    policy: Policy  # named with a key unique within the simulation
    source_id: str
    source_type: str | None
    text: str
    _spans: list[tuple[int, int]] | None = field(default=None, repr=False)

    def positions(self, index: int) -> tuple[Position | None, Position | None]:
        """Where statement ``index`` starts and ends in the text (None, None if not found)."""
        if self._spans is None:
            self._spans = statement_spans(self.text)
        if index >= len(self._spans):
            return None, None
        start, end = self._spans[index]
        return _position(self.text, start), _position(self.text, end)


class Sources:
    """The policies of one simulation, by the unique name each is evaluated under."""

    def __init__(self) -> None:
        self.by_key: dict[str, SourcePolicy] = {}

    def add(self, text: str, kind: str, source_id: str, source_type: str | None, *, lenient: bool = False) -> Policy | None:
        """Parse ``text``; InvalidInput if it is not a valid policy (None instead if ``lenient``)."""
        if json_has_lone_surrogate(text):
            raise InvalidInput(f"Invalid policy document {source_id}: {LONE_SURROGATE}")
        try:
            policy = parse_policy(text, kind)
        except PolicyValidationError as exc:
            if lenient:
                return None
            raise InvalidInput(f"Invalid policy document {source_id}: {exc}") from None
        key = f"#{len(self.by_key)}:{source_id}"
        named = policy.named(key)
        self.by_key[key] = SourcePolicy(named, source_id, source_type, text)
        return named

    def add_inputs(self, name: str, texts: list[str]) -> list[Policy]:
        """Identity policies given in the request's list ``name`` (PolicyInputList.1, ...)."""
        policies = [self.add(t, "identity", f"{name}.{i}", "none") for i, t in enumerate(texts, 1)]
        return [p for p in policies if p]

    def add_stored(self, documents: list[tuple[str, str, str]]) -> list[Policy]:
        """Stored identity policies, given as (source id, source type, text)."""
        policies = [self.add(text, "identity", sid, stype, lenient=True) for sid, stype, text in documents]
        return [p for p in policies if p]

    def refs(self, decision: Decision) -> list[StatementRef]:
        """The statements a decision matched, each once, in the decision's order."""
        out: list[StatementRef] = []
        seen: set[tuple[str, int]] = set()
        for m in decision.matched:
            if (m.policy, m.index) in seen:
                continue
            seen.add((m.policy, m.index))
            source = self.by_key.get(m.policy)
            if source is None:
                continue
            start, end = source.positions(m.index)
            out.append(StatementRef(source.source_id, source.source_type, start, end))
        return out


def statement_spans(text: str) -> list[tuple[int, int]]:
    """Character offsets (start, end-exclusive) of each statement of a JSON policy document."""
    decoder = json.JSONDecoder()
    n = len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    try:
        i = skip(0)
        if i >= n or text[i] != "{":
            return []
        i = skip(i + 1)
        while i < n and text[i] != "}":
            key, i = decoder.raw_decode(text, i)
            i = skip(i)
            if i >= n or text[i] != ":":
                return []
            i = skip(i + 1)
            if key == "Statement":
                if text[i] == "[":
                    spans = []
                    i = skip(i + 1)
                    while i < n and text[i] != "]":
                        _, end = decoder.raw_decode(text, i)
                        spans.append((i, end))
                        i = skip(end)
                        if i < n and text[i] == ",":
                            i = skip(i + 1)
                    return spans
                _, end = decoder.raw_decode(text, i)
                return [(i, end)]
            _, i = decoder.raw_decode(text, i)
            i = skip(i)
            if i < n and text[i] == ",":
                i = skip(i + 1)
    except (ValueError, IndexError):
        return []
    return []


def _position(text: str, offset: int) -> Position:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Position(line, column)


# --- The entity named by PolicySourceArn --------------------------------------------------------
@dataclass
class SourceEntity:
    kind: str  # user | group | role
    arn: str
    entity_id: str
    tags: dict[str, str]
    documents: list[tuple[str, str, str]]  # (source id, source type, text)
    boundary: tuple[str, str, str] | None


def load_source_entity(ctx: ActionContext, source_arn: str) -> SourceEntity:
    """The user, group or role ``source_arn`` names, with its policies: for a user, those of its
    groups too; InvalidInput for another kind of ARN, NoSuchEntity if there is no such entity in
    the caller's account."""
    try:
        parsed = arns.Arn.parse(source_arn)
    except ValueError:
        raise InvalidInput(f"PolicySourceArn {source_arn} is not a valid ARN.") from None
    kind = parsed.resource_type
    if parsed.service != "iam" or kind not in ("user", "group", "role") or "/" not in parsed.resource:
        raise InvalidInput(f"PolicySourceArn {source_arn} must be the ARN of an IAM user, group or role.")
    name = parsed.resource_name
    account = caller_account(ctx)
    if parsed.account != account:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    store = ctx.runtime.store
    entity = store.inline_policies.owner(kind, account, name)
    if entity is None:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    entity_id = entity.entity_id
    entity_arn = str(arns.Arn(parsed.partition, "iam", "", account, f"{kind}{entity.path}{entity.name}"))
    if kind == "group":
        group_documents = store.principal_policies.for_group(entity_id) or ()
        documents = [(*_labelled(d.name), d.document) for d in group_documents]
        return SourceEntity(kind, entity_arn, entity_id, {}, documents, None)
    policies = store.principal_policies.for_user(entity_id) if kind == "user" else store.principal_policies.for_role(entity_id)
    if policies is None:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    documents = [(*_labelled(d.name), d.document) for d in policies.identity]
    boundary = (*_managed_source(policies.boundary.name), policies.boundary.document) if policies.boundary else None
    return SourceEntity(kind, entity_arn, entity_id, dict(policies.tags), documents, boundary)


def _managed_source(arn: str) -> tuple[str, str]:
    """(SourcePolicyId, SourcePolicyType) of a managed policy's ARN."""
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        return arn, "user-managed"
    return parsed.resource_name, "aws-managed" if parsed.account == "aws" else "user-managed"


def _labelled(name: str) -> tuple[str, str]:
    """(SourcePolicyId, SourcePolicyType) of a document label from the store's principal_policies
    (a managed policy's ARN, or ``user/NAME/POLICY``, ``group/...``, ``role/...``)."""
    if name.startswith("arn:"):
        return _managed_source(name)
    kind, _, rest = name.partition("/")
    return rest.rsplit("/", 1)[-1], kind if kind in ("user", "group", "role") else "none"
