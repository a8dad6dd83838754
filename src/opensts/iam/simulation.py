"""Policy simulation: SimulateCustomPolicy, SimulatePrincipalPolicy, GetContextKeysForCustomPolicy
and GetContextKeysForPrincipalPolicy, over the policy engine (``opensts.policy``).

Each action name gives one EvaluationResult; with several ResourceArns its top-level decision is
the most restrictive of the per-resource decisions, which are listed in ResourceSpecificResults (as
AWS does today). A resource containing ``*`` or ``?`` (the default ``*`` included) is simulated as
a pattern standing for many resources: an Allow applies if it covers some of them, a Deny only if
it covers all of them.

The simulated caller is CallerArn (any principal ARN: user, role, assumed-role session, federated
user, root), else the PolicySourceArn's user or role. Condition keys derived from it
(``aws:PrincipalArn``, ``aws:username``, ``aws:PrincipalAccount``, ``aws:PrincipalType``,
``aws:userid`` where known, ``aws:PrincipalTag/*`` of the source entity) are present unless
ContextEntries give them; every other key a policy uses must come from ContextEntries, or it is
reported in MissingContextValues.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Iterable


from opensts.actions import ActionContext, Params, action
from opensts.errors import InvalidInput, NoSuchEntity
from opensts.iam.common import POLICY_DOCUMENT_PATTERN, authorize_iam, caller_account, paginate, read_pagination
from opensts.identity import arn as arns
from opensts.params import LONE_SURROGATE, ParamReader, json_has_lone_surrogate
from opensts.policy import (
    Decision,
    Outcome,
    Policy,
    PolicyValidationError,
    Principal,
    PrincipalType,
    Request,
    evaluate,
    parse_policy,
    resource_policy_verdict,
)
from opensts.policy.request import principal_type_of
from opensts.policy.values import read_date, read_number
from opensts.policy.variables import variable_names

CONTEXT_TYPES = (
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary",
    "binaryList", "date", "dateList",
)
DECISIONS = {Outcome.ALLOW: "allowed", Outcome.EXPLICIT_DENY: "explicitDeny", Outcome.IMPLICIT_DENY: "implicitDeny"}
_RESTRICTIVENESS = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
MAX_SIMULATION_INPUTS = 1000
_CALLER_TYPES = (
    PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ROLE, PrincipalType.ASSUMED_ROLE,
    PrincipalType.FEDERATED_USER,
)


# --- Result shapes ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class StatementRef:
    source_policy_id: str
    source_policy_type: str | None = None
    start_position: Position | None = None
    end_position: Position | None = None


@dataclass(frozen=True, slots=True)
class PermissionsBoundaryDecisionDetail:
    allowed_by_permissions_boundary: bool


@dataclass(frozen=True, slots=True)
class ResourceSpecificResult:
    eval_resource_name: str
    eval_resource_decision: str
    matched_statements: list[StatementRef]
    missing_context_values: list[str]
    eval_decision_details: dict[str, str] | None = None
    permissions_boundary_decision_detail: PermissionsBoundaryDecisionDetail | None = None


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    eval_action_name: str
    eval_resource_name: str
    eval_decision: str
    matched_statements: list[StatementRef]
    missing_context_values: list[str]
    permissions_boundary_decision_detail: PermissionsBoundaryDecisionDetail | None = None
    eval_decision_details: dict[str, str] | None = None
    resource_specific_results: list[ResourceSpecificResult] | None = None


@dataclass(frozen=True, slots=True)
class SimulatePolicyResult:
    evaluation_results: list[EvaluationResult]
    is_truncated: bool = False
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ContextKeysResult:
    context_key_names: list[str]


# --- Source policies: where each simulated policy came from --------------------------------------
@dataclass
class SourcePolicy:
    policy: Policy  # named with a key unique within the simulation
    source_id: str
    source_type: str | None
    text: str
    _spans: list[tuple[int, int]] | None = field(default=None, repr=False)

    def positions(self, index: int) -> tuple[Position | None, Position | None]:
        if self._spans is None:
            self._spans = statement_spans(self.text)
        if index >= len(self._spans):
            return None, None
        start, end = self._spans[index]
        return _position(self.text, start), _position(self.text, end)


class Sources:
    def __init__(self) -> None:
        self.by_key: dict[str, SourcePolicy] = {}

    def add(self, text: str, kind: str, source_id: str, source_type: str | None, *, lenient: bool = False) -> Policy | None:
        if json_has_lone_surrogate(text):  # no UTF-8 form: it could not be echoed in the answer
            raise InvalidInput(f"Invalid policy document {source_id}: {LONE_SURROGATE}")
        try:
            policy = parse_policy(text, kind)
        except PolicyValidationError as exc:
            if lenient:  # stored documents were validated on write; a stricter engine may refuse one
                return None
            raise InvalidInput(f"Invalid policy document {source_id}: {exc}") from None
        key = f"#{len(self.by_key)}:{source_id}"
        named = policy.named(key)
        self.by_key[key] = SourcePolicy(named, source_id, source_type, text)
        return named

    def refs(self, decision: Decision) -> list[StatementRef]:
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


# --- Context keys -------------------------------------------------------------------------------
def _variable_keys(text: str) -> Iterable[str]:
    # A find loop, not a regex: "${key, 'default'}" as a regex backtracks quadratically.
    return variable_names(text)


def statement_keys(policy: Policy, index: int) -> list[str]:
    """Condition keys a statement uses: its Condition keys and the variables in its Resource,
    NotResource and condition values (2012-10-17 policies only substitute variables)."""
    st = policy.statements[index]
    keys = [c.key for c in st.conditions]
    if policy.uses_variables:
        for text in (*(st.resource or ()), *(st.not_resource or ())):
            keys.extend(_variable_keys(text))
        for c in st.conditions:
            for value in c.values:
                keys.extend(_variable_keys(value))
    return keys


def policy_keys(policies: Iterable[Policy]) -> list[str]:
    """Every condition key the policies reference, first spelling kept, case-insensitively unique."""
    out: list[str] = []
    seen: set[str] = set()
    for policy in policies:
        for i in range(len(policy.statements)):
            for key in statement_keys(policy, i):
                if key.lower() not in seen:
                    seen.add(key.lower())
                    out.append(key)
    return out


def missing_keys(request: Request, policies: Iterable[Policy]) -> list[str]:
    """Keys used by statements that apply to the request's action and resource (or whose resource
    depends on a variable) but absent from the request context."""
    out: list[str] = []
    seen: set[str] = set()
    for policy in policies:
        compiled = policy.compiled
        for cs in compiled.candidates(request.action_lc):
            st = cs.statement
            depends = any("${" in r for r in (*(st.resource or ()), *(st.not_resource or ())))
            if not depends and not cs.resource_matches(request.resource, request.ctx, request.resource_is_pattern):
                continue
            for key in statement_keys(policy, st.index):
                low = key.lower()
                if low not in request.ctx and low not in seen:
                    seen.add(low)
                    out.append(key)
    return sorted(out, key=str.lower)


def read_context_entries(reader: ParamReader) -> dict[str, tuple[str, ...]]:
    """ContextEntries → condition key → values as the engine reads them; InvalidInput for values
    that are not of their declared type."""
    entries = reader.list("ContextEntries")
    out: dict[str, tuple[str, ...]] = {}
    for i, entry in enumerate(entries, start=1):
        member = f"contextEntries.{i}.member"
        if not isinstance(entry, dict):
            reader.fail(None, member, "Member must be a structure")
            continue
        name = entry.get("ContextKeyName")
        ctype = entry.get("ContextKeyType")
        values = entry.get("ContextKeyValues")
        if not isinstance(name, str):
            raise InvalidInput(f"ContextKeyName is required in context entry {i}.")
        reader.check_string(name, f"{member}.contextKeyName", min_len=5, max_len=256)
        if ctype is None:
            raise InvalidInput(f"ContextKeyType is required for context key {name}.")
        if ctype not in CONTEXT_TYPES:
            reader.fail(ctype, f"{member}.contextKeyType", f"Member must satisfy enum value set: [{', '.join(CONTEXT_TYPES)}]")
            continue
        if values is None or values == "":
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            reader.fail(None, f"{member}.contextKeyValues", "Member must be a list of strings")
            continue
        if not ctype.endswith("List") and len(values) > 1:
            raise InvalidInput(
                f"Context key {name} of type {ctype} takes one value; use {ctype}List for several values."
            )
        out[name.lower()] = tuple(_typed_value(name, ctype.removesuffix("List"), v) for v in values)
    return out


def _typed_value(name: str, base: str, value: str) -> str:
    def bad() -> InvalidInput:
        return InvalidInput(f"Invalid value {value!r} for context key {name} of type {base}.")

    if base == "string":
        return value
    if base == "numeric":
        if read_number(value) is None:
            raise bad()
        return value.strip()
    if base == "boolean":
        low = value.strip().lower()
        if low not in ("true", "false"):
            raise bad()
        return low
    if base == "ip":
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise bad() from None
        return value.strip()
    if base == "binary":
        try:
            base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise bad() from None
        return value.strip()
    if base == "date":
        if read_date(value) is None:
            raise bad()
        return value.strip()
    return value


# --- Parameters -------------------------------------------------------------------------------
def _read_policy_list(reader: ParamReader, name: str, *, required: bool = False) -> list[str]:
    if required and name not in reader.params:
        reader.fail(None, name[:1].lower() + name[1:], "Member must not be null")
    raw = reader.list(name)
    out: list[str] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            reader.fail(None, f"{name[:1].lower() + name[1:]}.{i}.member", "Member must be a string")
            continue
        reader.check_string(
            item, f"{name[:1].lower() + name[1:]}.{i}.member", min_len=1, max_len=131072, pattern=POLICY_DOCUMENT_PATTERN
        )
        out.append(item)
    return out


def _read_names(reader: ParamReader, name: str, *, min_len: int, max_len: int, required: bool = False) -> list[str]:
    member = name[:1].lower() + name[1:]
    if required and name not in reader.params:
        reader.fail(None, member, "Member must not be null")
    raw = reader.list(name)
    out: list[str] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            reader.fail(None, f"{member}.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"{member}.{i}.member", min_len=min_len, max_len=max_len)
        out.append(item)
    return out


@dataclass
class SimulationInput:
    identity_texts: list[str]
    boundary_texts: list[str]
    actions: list[str]
    resources: list[str]
    resources_given: bool
    resource_policy: str | None
    resource_owner: str | None
    caller_arn: str | None
    context: dict[str, tuple[str, ...]]
    marker: str | None
    max_items: int


def _read_simulation(reader: ParamReader, *, policies_required: bool) -> SimulationInput:
    identity = _read_policy_list(reader, "PolicyInputList", required=policies_required)
    boundaries = _read_policy_list(reader, "PermissionsBoundaryPolicyInputList")
    actions = _read_names(reader, "ActionNames", min_len=3, max_len=128, required=True)
    resources = _read_names(reader, "ResourceArns", min_len=1, max_len=2048)
    resource_policy = reader.string("ResourcePolicy", min_len=1, max_len=131072, pattern=POLICY_DOCUMENT_PATTERN)
    owner = reader.string("ResourceOwner", min_len=1, max_len=2048)
    caller = reader.string("CallerArn", min_len=1, max_len=2048)
    reader.string("ResourceHandlingOption", min_len=1, max_len=64)
    context = read_context_entries(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    for name in actions:
        service, sep, op = name.partition(":")
        if not sep or not service or not op or any(ch.isspace() for ch in name):
            raise InvalidInput(f"Action {name} is not valid: actions are written service:ActionName.")
    if len(actions) * max(1, len(resources)) > MAX_SIMULATION_INPUTS * 10:
        raise InvalidInput("Too many action and resource combinations to simulate in one request.")
    return SimulationInput(
        identity, boundaries, actions, resources or ["*"], bool(resources), resource_policy, owner, caller, context,
        marker, max_items,
    )


def _owner_account(owner: str | None) -> str | None:
    if owner is None:
        return None
    if re.fullmatch(r"\d{12}", owner):
        return owner
    try:
        parsed = arns.Arn.parse(owner)
    except ValueError:
        raise InvalidInput(f"ResourceOwner {owner} is not an account id or an account ARN.") from None
    if not re.fullmatch(r"\d{12}", parsed.account):
        raise InvalidInput(f"ResourceOwner {owner} is not an account id or an account ARN.")
    return parsed.account


def caller_principal(arn: str, *, tags: dict[str, str] | None = None, principal_id: str | None = None) -> Principal:
    """A principal for any IAM/STS principal ARN; InvalidInput for anything else."""
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"CallerArn {arn} is not a valid principal ARN.") from None
    ptype = principal_type_of(arn)
    if parsed.service not in ("iam", "sts") or not re.fullmatch(r"\d{12}", parsed.account) or ptype not in _CALLER_TYPES:
        raise InvalidInput(
            f"CallerArn {arn} is not a valid principal ARN (a user, role, assumed-role session, federated user "
            "or account root)."
        )
    known = parsed.resource == "root" or parsed.resource.startswith(("user/", "role/", "assumed-role/", "federated-user/"))
    if not known or parsed.resource.endswith("/"):
        raise InvalidInput(f"CallerArn {arn} is not a valid principal ARN.")
    return Principal(arn, ptype, parsed.account, principal_id, tags=tags or {})


def _anonymous_caller(account: str) -> Principal:
    """The caller of a simulation that names none: an IAM principal of the account from which no
    condition keys are derived (policies that use them report them missing, as AWS does)."""
    principal = Principal(f"arn:{arns.PARTITION}:iam::{account}:user/", PrincipalType.USER, account)
    object.__setattr__(principal, "derived_context", {})
    return principal


# --- Simulation -------------------------------------------------------------------------------
@dataclass
class Simulation:
    principal: Principal
    identity: list[Policy]
    boundaries: list[Policy]
    resource_policy: Policy | None
    resource_owner: str | None
    context: dict[str, tuple[str, ...]]
    sources: Sources

    def request(self, action_name: str, resource: str, *, own_account: bool = False) -> Request:
        owner = self.principal.account if own_account else self.resource_owner
        return Request(
            self.principal, action_name, resource, resource_account=owner, context=self.context,
            resource_is_pattern="*" in resource or "?" in resource,
        )

    def resource_result(self, action_name: str, resource: str) -> ResourceSpecificResult:
        req = self.request(action_name, resource)
        decision = evaluate(req, self.identity, self.resource_policy, self.boundaries, self._session())
        verdict = DECISIONS[decision.outcome]
        boundary = None
        if self.boundaries:
            allowed = evaluate(self.request(action_name, resource, own_account=True), self.boundaries).allowed
            boundary = PermissionsBoundaryDecisionDetail(allowed)
        cross_account = req.resource_account != self.principal.account
        details: dict[str, str] | None = None
        if cross_account:
            identity_side = evaluate(
                self.request(action_name, resource, own_account=True), self.identity, None, self.boundaries, self._session()
            )
            details = {"IAM Policy": DECISIONS[identity_side.outcome], "Resource Policy": self._resource_side(req)}
        elif resource != "*":
            details = {}
        policies = [*self.identity, *self.boundaries, *([self.resource_policy] if self.resource_policy else [])]
        return ResourceSpecificResult(
            resource, verdict, self.sources.refs(decision), missing_keys(req, policies), details, boundary
        )

    def _session(self) -> list[Policy]:
        """A federated user gets nothing without session policies; simulating one, the given
        policies stand for the intersection of its user's and its session's policies."""
        return self.identity if self.principal.type is PrincipalType.FEDERATED_USER else []

    def _resource_side(self, req: Request) -> str:
        """The resource policy's own verdict on the caller: explicitDeny, allowed (it names the
        caller, its role or its account) or implicitDeny."""
        if self.resource_policy is None:
            return "implicitDeny"
        verdict = resource_policy_verdict(req, self.resource_policy, has_boundary=bool(self.boundaries))
        return {Outcome.EXPLICIT_DENY: "explicitDeny", Outcome.ALLOW: "allowed"}.get(verdict, "implicitDeny")

    def result(self, action_name: str, resources: list[str], resources_given: bool) -> EvaluationResult:
        per_resource = [self.resource_result(action_name, r) for r in resources]
        worst = max(per_resource, key=lambda r: _RESTRICTIVENESS[r.eval_resource_decision])
        decision = worst.eval_resource_decision
        matched: list[StatementRef] = []
        missing: list[str] = []
        for r in per_resource:
            if r.eval_resource_decision == decision:
                matched += [m for m in r.matched_statements if m not in matched]
            missing += [k for k in r.missing_context_values if k.lower() not in {m.lower() for m in missing}]
        boundary = None
        if self.boundaries:
            boundary = PermissionsBoundaryDecisionDetail(
                all(r.permissions_boundary_decision_detail.allowed_by_permissions_boundary for r in per_resource)  # type: ignore[union-attr]
            )
        details = worst.eval_decision_details if len(per_resource) == 1 else (
            {} if any(r.eval_decision_details is not None for r in per_resource) else None
        )
        if len(per_resource) > 1:
            cross = [r.eval_decision_details for r in per_resource if r.eval_decision_details]
            if cross:
                details = {k: max((c[k] for c in cross if k in c), key=_RESTRICTIVENESS.__getitem__) for k in cross[0]}
        return EvaluationResult(
            eval_action_name=action_name,
            eval_resource_name=resources[0] if len(resources) == 1 else "*",
            eval_decision=decision,
            matched_statements=matched,
            missing_context_values=sorted(missing, key=str.lower),
            permissions_boundary_decision_detail=boundary,
            eval_decision_details=details,
            resource_specific_results=per_resource if resources_given else None,
        )


def _run(sim: Simulation, data: SimulationInput) -> SimulatePolicyResult:
    indices = [f"{i:06d}" for i in range(len(data.actions))]
    page = paginate(indices, data.marker, data.max_items)
    results = [sim.result(data.actions[int(i)], data.resources, data.resources_given) for i in page.items]
    return SimulatePolicyResult(results, page.is_truncated, page.marker)


def _add_inputs(sources: Sources, data: SimulationInput) -> tuple[list[Policy], list[Policy], Policy | None]:
    identity = [sources.add(t, "identity", f"PolicyInputList.{i}", "none") for i, t in enumerate(data.identity_texts, 1)]
    boundaries = [
        sources.add(t, "identity", f"PermissionsBoundaryPolicyInputList.{i}", "none")
        for i, t in enumerate(data.boundary_texts, 1)
    ]
    resource_policy = None
    if data.resource_policy is not None:
        resource_policy = sources.add(data.resource_policy, "resource", "ResourcePolicy", "resource")
    return [p for p in identity if p], [p for p in boundaries if p], resource_policy


# --- Principal policies -----------------------------------------------------------------------
@dataclass
class SourceEntity:
    kind: str  # user | group | role
    arn: str
    entity_id: str
    tags: dict[str, str]
    documents: list[tuple[str, str, str]]  # (source id, source type, text)
    boundary: tuple[str, str, str] | None


def _managed_source(arn: str) -> tuple[str, str]:
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        return arn, "user-managed"
    return parsed.resource_name, "aws-managed" if parsed.account == "aws" else "user-managed"


def _labelled(name: str) -> tuple[str, str]:
    """(SourcePolicyId, SourcePolicyType) of a document label from principal_policies."""
    if name.startswith("arn:"):
        return _managed_source(name)
    kind, _, rest = name.partition("/")
    return rest.rsplit("/", 1)[-1], kind if kind in ("user", "group", "role") else "none"


def load_source_entity(ctx: ActionContext, source_arn: str) -> SourceEntity:
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
        return SourceEntity(kind, entity_arn, entity_id, {}, documents, None)  # type: ignore[arg-type]
    policies = store.principal_policies.for_user(entity_id) if kind == "user" else store.principal_policies.for_role(entity_id)
    if policies is None:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    documents = [(*_labelled(d.name), d.document) for d in policies.identity]
    boundary = (*_managed_source(policies.boundary.name), policies.boundary.document) if policies.boundary else None
    return SourceEntity(kind, entity_arn, entity_id, dict(policies.tags), documents, boundary)  # type: ignore[arg-type]


def _source_arn(reader: ParamReader) -> str:
    return reader.string("PolicySourceArn", required=True, min_len=20, max_len=2048) or ""


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "SimulateCustomPolicy")
def simulate_custom_policy(ctx: ActionContext, params: Params) -> SimulatePolicyResult:
    data = _read_simulation(ParamReader(params), policies_required=True)
    account = caller_account(ctx)
    authorize_iam(ctx, "SimulateCustomPolicy", "*")
    sources = Sources()
    identity, boundaries, resource_policy = _add_inputs(sources, data)
    if resource_policy is not None and data.caller_arn is None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is given: it is the principal the policy is matched against.")
    principal = caller_principal(data.caller_arn) if data.caller_arn else _anonymous_caller(account)
    sim = Simulation(principal, identity, boundaries, resource_policy, _owner_account(data.resource_owner), data.context, sources)
    return _run(sim, data)


@action("iam", "SimulatePrincipalPolicy")
def simulate_principal_policy(ctx: ActionContext, params: Params) -> SimulatePolicyResult:
    reader = ParamReader(params)
    source_arn = _source_arn(reader)
    data = _read_simulation(reader, policies_required=False)
    authorize_iam(ctx, "SimulatePrincipalPolicy", source_arn)
    entity = load_source_entity(ctx, source_arn)
    sources = Sources()
    identity, boundaries, resource_policy = _add_inputs(sources, data)
    stored = [sources.add(text, "identity", sid, stype, lenient=True) for sid, stype, text in entity.documents]
    identity = [p for p in stored if p] + identity
    if not data.boundary_texts and entity.boundary is not None:
        sid, stype, text = entity.boundary
        boundary = sources.add(text, "identity", sid, stype, lenient=True)
        boundaries = [boundary] if boundary else []
    if data.caller_arn:
        principal = caller_principal(data.caller_arn)
    elif entity.kind in ("user", "role"):
        principal = caller_principal(entity.arn, tags=entity.tags, principal_id=entity.entity_id)
    elif resource_policy is not None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is given and PolicySourceArn is a group.")
    else:
        principal = _anonymous_caller(caller_account(ctx))
    sim = Simulation(principal, identity, boundaries, resource_policy, _owner_account(data.resource_owner), data.context, sources)
    return _run(sim, data)


@action("iam", "GetContextKeysForCustomPolicy")
def get_context_keys_for_custom_policy(ctx: ActionContext, params: Params) -> ContextKeysResult:
    reader = ParamReader(params)
    texts = _read_policy_list(reader, "PolicyInputList", required=True)
    reader.done()
    authorize_iam(ctx, "GetContextKeysForCustomPolicy", "*")
    sources = Sources()
    policies = [sources.add(t, "identity", f"PolicyInputList.{i}", "none") for i, t in enumerate(texts, 1)]
    return ContextKeysResult(policy_keys(p for p in policies if p))


@action("iam", "GetContextKeysForPrincipalPolicy")
def get_context_keys_for_principal_policy(ctx: ActionContext, params: Params) -> ContextKeysResult:
    reader = ParamReader(params)
    source_arn = _source_arn(reader)
    texts = _read_policy_list(reader, "PolicyInputList")
    reader.done()
    authorize_iam(ctx, "GetContextKeysForPrincipalPolicy", source_arn)
    entity = load_source_entity(ctx, source_arn)
    sources = Sources()
    stored = [sources.add(text, "identity", sid, stype, lenient=True) for sid, stype, text in entity.documents]
    given = [sources.add(t, "identity", f"PolicyInputList.{i}", "none") for i, t in enumerate(texts, 1)]
    return ContextKeysResult(policy_keys(p for p in [*stored, *given] if p))
