"""Parse and validate policy documents (JSON text or dict) into :class:`~.model.Policy`.

Rules follow the IAM JSON policy grammar (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html) and reference. Every failure raises
:class:`PolicyValidationError` with the statement it concerns; nothing else escapes, whatever the
input (property-tested).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any, Mapping

from .errors import PolicyValidationError
from .model import (
    VERSION_2008,
    VERSION_2012,
    Condition,
    Effect,
    Policy,
    PolicyKind,
    PrincipalSpec,
    Statement,
)
from .operators import parse_operator
from .values import read_binary, read_bool, read_date, read_network, read_number
from .wildcard import glob_match, has_wildcard

# AWS quotas (characters, whitespace not counted). Enforced by the IAM layer; computed here.
MANAGED_POLICY_MAX_SIZE = 6144
ROLE_INLINE_POLICIES_MAX_SIZE = 10240
USER_INLINE_POLICIES_MAX_SIZE = 2048
GROUP_INLINE_POLICIES_MAX_SIZE = 5120
TRUST_POLICY_MAX_SIZE = 2048
SESSION_POLICY_MAX_LENGTH = 2048  # STS Policy parameter, counted with whitespace

_TOP_KEYS = {"Version", "Id", "Statement"}
_STMT_KEYS = {
    "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
    "Condition",
}
_PRINCIPAL_KEYS = ("AWS", "Federated", "Service", "CanonicalUser")
_SID_RE = re.compile(r"^[0-9A-Za-z]*$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_UNIQUE_ID_RE = re.compile(r"^A[A-Z0-9]{15,127}$")
_WHITESPACE = " \t\n\r"

TRUST_ACTIONS = (
    "sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession",
    "sts:SetSourceIdentity",
)
_OTHER_STS_ACTIONS = (
    "sts:AssumeRoot", "sts:DecodeAuthorizationMessage", "sts:GetAccessKeyInfo", "sts:GetCallerIdentity",
    "sts:GetFederationToken", "sts:GetServiceBearerToken", "sts:GetSessionToken", "sts:SetContext",
)


# ----------------------------------------------------------------------------------------- sizes
def policy_size(document: str | Mapping[str, Any]) -> int:
    """Size as AWS counts it against quotas: characters, not counting whitespace.

    For text, the characters of the text as submitted; for a dict, of its compact JSON form.
    """
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return sum(1 for ch in text if ch not in _WHITESPACE)


# ----------------------------------------------------------------------------------------- cache
_CACHE: "OrderedDict[tuple[str, str, bool, bool], Policy]" = OrderedDict()
_CACHE_MAX = 4096
_TEXT_CACHE: dict[tuple[str, PolicyKind, bool, bool], Policy] = {}
# Cached policies under other names, by (id of the cached policy, name); the entry keeps the policy,
# so its id cannot be reused while the entry lives.
_NAMED_CACHE: dict[tuple[int, str], tuple[Policy, Policy]] = {}


def clear_cache() -> None:
    _CACHE.clear()
    _TEXT_CACHE.clear()
    _NAMED_CACHE.clear()


def parse_policy(
    document: str | bytes | Mapping[str, Any],
    kind: PolicyKind | str = PolicyKind.IDENTITY,
    *,
    name: str | None = None,
    require_current_version: bool = False,
    allow_missing_principal: bool = False,
) -> Policy:
    """Parse and validate a policy; the result is compiled and cached by content hash.

    ``require_current_version``: IAM managed policies (and, in OpenSTS, every policy written
    through IAM) must say ``"Version": "2012-10-17"``.
    ``allow_missing_principal``: keep resource-policy statements that lack Principal (they then
    never match) instead of rejecting the document; for evaluating documents stored elsewhere.
    """
    kind = PolicyKind(kind)
    if isinstance(document, str):
        # Fast path: the same text object (a cached role's trust policy, say) hashes once.
        fast_key = (document, kind, require_current_version, allow_missing_principal)
        cached = _TEXT_CACHE.get(fast_key)
        if cached is not None:
            return cached if name is None or name == cached.name else _named(cached, name)
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyValidationError("Syntax errors in policy. The document is not UTF-8.") from None
    if isinstance(document, str):
        key_text = document
    elif isinstance(document, Mapping):
        try:
            key_text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise PolicyValidationError("Syntax errors in policy. The document is not JSON.") from None
    else:
        raise PolicyValidationError("Syntax errors in policy. The document must be a JSON object.")
    digest = hashlib.sha256(f"{kind.value}|{key_text}".encode("utf-8", "surrogatepass")).hexdigest()
    cache_key = (digest, kind.value, require_current_version, allow_missing_principal)
    policy = _CACHE.get(cache_key)
    if policy is None:
        data = _load(document) if isinstance(document, str) else document
        policy = _build(data, kind, digest, require_current_version, allow_missing_principal)
        from .compile import compile_policy  # local: compile imports model only, no cycle at runtime

        object.__setattr__(policy, "compiled", compile_policy(policy))
        _CACHE[cache_key] = policy
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(cache_key)
    if isinstance(document, str):
        if len(_TEXT_CACHE) >= _CACHE_MAX:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[(document, kind, require_current_version, allow_missing_principal)] = policy
    if name is not None and name != policy.name:
        policy = _named(policy, name)
    return policy


def _named(policy: Policy, name: str) -> Policy:
    """``policy.named(name)``, kept: it is a dataclasses.replace, slow enough to do once."""
    entry = _NAMED_CACHE.get((id(policy), name))
    if entry is not None and entry[0] is policy:
        return entry[1]
    named = policy.named(name)
    if len(_NAMED_CACHE) >= _CACHE_MAX:
        _NAMED_CACHE.clear()
    _NAMED_CACHE[(id(policy), name)] = (policy, named)
    return named


def validate_policy(document: str | bytes | Mapping[str, Any], kind: PolicyKind | str = PolicyKind.IDENTITY, **kw: Any) -> None:
    """Raise :class:`PolicyValidationError` if the document is not valid for ``kind``."""
    parse_policy(document, kind, **kw)


# ----------------------------------------------------------------------------------------- JSON
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise PolicyValidationError(f'Syntax errors in policy. Duplicate key "{k}".')
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise PolicyValidationError(f"Syntax errors in policy. Invalid number {name}.")


def _load(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except PolicyValidationError:
        raise
    except (ValueError, RecursionError):
        raise PolicyValidationError("Syntax errors in policy.") from None


# ----------------------------------------------------------------------------------------- build
def _build(data: Any, kind: PolicyKind, digest: str, require_current: bool, allow_missing_principal: bool) -> Policy:
    if not isinstance(data, Mapping):
        raise PolicyValidationError("Syntax errors in policy. The document must be a JSON object.")
    for key in data:
        if key not in _TOP_KEYS:
            raise PolicyValidationError(f'Syntax errors in policy. Unknown field "{key}".')
    version = data.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        raise PolicyValidationError(
            f'The policy failed legacy parsing: Version must be "{VERSION_2012}" or "{VERSION_2008}", not {json.dumps(version)}.'
        )
    if require_current and version != VERSION_2012:
        raise PolicyValidationError(
            f'The policy failed legacy parsing: this policy type requires "Version": "{VERSION_2012}".'
        )
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyValidationError("Syntax errors in policy. Id must be a string.")
    if "Statement" not in data:
        raise PolicyValidationError("Missing required field Statement.")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        raw_list = [raw]
    elif isinstance(raw, list):
        raw_list = raw
    else:
        raise PolicyValidationError("Syntax errors in policy. Statement must be an object or a list of objects.")
    statements = []
    sids: set[str] = set()
    for index, item in enumerate(raw_list):
        stmt = _statement(item, index, kind, version, allow_missing_principal)
        if stmt.sid:
            if stmt.sid in sids:
                raise PolicyValidationError(
                    "Statement IDs (SID) in a single policy must be unique.", statement_index=index, sid=stmt.sid
                )
            sids.add(stmt.sid)
        statements.append(stmt)
    name = pid if pid else f"policy-{digest[:12]}"
    return Policy(version=version, statements=tuple(statements), kind=kind, digest=digest, name=name, id=pid)


def _strings(value: Any, field: str, index: int, sid: str | None) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list) and not value:
        raise PolicyValidationError(f"{field} must not be an empty list.", statement_index=index, sid=sid)
    raise PolicyValidationError(
        f"Syntax errors in policy. {field} must be a string or a list of strings.", statement_index=index, sid=sid
    )


def _statement(item: Any, index: int, kind: PolicyKind, version: str, allow_missing_principal: bool) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyValidationError("Syntax errors in policy. Each statement must be a JSON object.", statement_index=index)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyValidationError("Syntax errors in policy. Sid must be a string.", statement_index=index)
    for key in item:
        if key not in _STMT_KEYS:
            raise PolicyValidationError(f'Syntax errors in policy. Unknown field "{key}".', statement_index=index, sid=sid)
    if sid and kind in (PolicyKind.IDENTITY, PolicyKind.TRUST, PolicyKind.SCP) and not _SID_RE.match(sid):
        raise PolicyValidationError(
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            statement_index=index, sid=sid,
        )
    sid = sid or None

    def err(message: str) -> PolicyValidationError:
        return PolicyValidationError(message, statement_index=index, sid=sid)

    # Effect
    if "Effect" not in item:
        raise err("Missing required field Effect.")
    effect_raw = item["Effect"]
    if effect_raw not in ("Allow", "Deny"):
        raise err(f'Invalid effect: {json.dumps(effect_raw)}. Effect must be "Allow" or "Deny".')
    effect = Effect(effect_raw)

    # Action / NotAction
    if "Action" in item and "NotAction" in item:
        raise err("Syntax errors in policy. A statement cannot contain both Action and NotAction.")
    action = not_action = None
    if "Action" in item:
        action = _strings(item["Action"], "Action", index, sid)
        for a in action:
            _check_action(a, err)
    elif "NotAction" in item:
        not_action = _strings(item["NotAction"], "NotAction", index, sid)
        for a in not_action:
            _check_action(a, err)
    else:
        raise err("Policy statement must contain actions.")

    # Resource / NotResource
    if "Resource" in item and "NotResource" in item:
        raise err("Syntax errors in policy. A statement cannot contain both Resource and NotResource.")
    resource = not_resource = None
    if kind is PolicyKind.TRUST:
        for prohibited in ("Resource", "NotResource", "NotPrincipal"):
            if prohibited in item:
                raise err(f"Has prohibited field {prohibited}.")
    elif "Resource" in item:
        resource = _strings(item["Resource"], "Resource", index, sid)
    elif "NotResource" in item:
        not_resource = _strings(item["NotResource"], "NotResource", index, sid)
    elif kind in (PolicyKind.IDENTITY, PolicyKind.RESOURCE):
        raise err("Policy statement must contain resources.")
    for r in resource or not_resource or ():
        if not (r == "*" or r.startswith("arn:") or r.startswith("${")):
            raise err(f'Resource {r} must be in ARN format or "*".')

    # Principal / NotPrincipal
    if "Principal" in item and "NotPrincipal" in item:
        raise err("Syntax errors in policy. A statement cannot contain both Principal and NotPrincipal.")
    principal = not_principal = None
    has_principal = "Principal" in item or "NotPrincipal" in item
    if kind in (PolicyKind.IDENTITY, PolicyKind.SCP):
        if has_principal:
            raise err("Policy document should not specify a principal.")
    elif kind in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.RCP) and not has_principal:
        if not (allow_missing_principal and kind is not PolicyKind.TRUST):
            raise err("Missing required field Principal.")
    if "Principal" in item:
        principal = _principal(item["Principal"], err)
    elif "NotPrincipal" in item:
        not_principal = _principal(item["NotPrincipal"], err)

    if kind is PolicyKind.TRUST:
        if not_action is not None:
            raise err("Trust policies must list actions with Action, not NotAction.")
        for a in action or ():
            _check_trust_action(a, err)

    conditions = _conditions(item["Condition"], version, err) if "Condition" in item else ()
    return Statement(
        index=index, sid=sid, effect=effect, action=action, not_action=not_action, resource=resource,
        not_resource=not_resource, principal=principal, not_principal=not_principal, conditions=conditions,
    )


def _check_action(action: str, err: Any) -> None:
    if action == "*":
        return
    prefix, sep, _ = action.partition(":")
    if not sep or not prefix:
        raise err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")


def _check_trust_action(action: str, err: Any) -> None:
    allowed = [a for a in TRUST_ACTIONS if glob_match(action, a, ignore_case=True)]
    others = [a for a in _OTHER_STS_ACTIONS if glob_match(action, a, ignore_case=True)]
    if not allowed or others or (has_wildcard(action) and not action.lower().startswith("sts:")):
        raise err(
            f"Trust policies may only allow {', '.join(TRUST_ACTIONS)}; "
            f"{json.dumps(action)} is not one of them."
        )


def _principal(value: Any, err: Any) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(wildcard=True)
    if isinstance(value, str):
        # Accepted leniently: a bare AWS principal string means {"AWS": value}.
        return PrincipalSpec(aws=(_aws_principal(value, err),))
    if not isinstance(value, Mapping) or not value:
        raise err(f"Invalid principal in policy: {json.dumps(value)}")
    found: dict[str, tuple[str, ...]] = {}
    wildcard = False
    for key, raw in value.items():
        if key not in _PRINCIPAL_KEYS:
            raise err(f"Invalid principal in policy: {json.dumps(key)}")
        if isinstance(raw, str):
            items: list[Any] = [raw]
        elif isinstance(raw, list) and raw:
            items = raw
        else:
            raise err(f"Invalid principal in policy: {json.dumps({key: raw})}")
        normalised: list[str] = []
        for v in items:
            if not isinstance(v, str) or not v.strip():
                raise err(f"Invalid principal in policy: {json.dumps({key: v})}")
            if key == "AWS":
                if v == "*":
                    wildcard = True
                    continue
                normalised.append(_aws_principal(v, err))
            else:
                if has_wildcard(v):
                    raise err(f"Invalid principal in policy: {json.dumps({key: v})}")
                normalised.append(v)
        found[key] = tuple(normalised)
    return PrincipalSpec(
        wildcard=wildcard,
        aws=found.get("AWS", ()),
        federated=found.get("Federated", ()),
        service=found.get("Service", ()),
        canonical_user=found.get("CanonicalUser", ()),
    )


def _aws_principal(value: str, err: Any) -> str:
    if _ACCOUNT_RE.match(value):
        return f"arn:aws:iam::{value}:root"  # a bare account id means that account's root
    if _UNIQUE_ID_RE.match(value):
        return value
    parts = value.split(":", 5)
    if (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] in ("iam", "sts")
        and _ACCOUNT_RE.match(parts[4])
        and parts[5]
        and not has_wildcard(value)
    ):
        return value
    raise err(f'Invalid principal in policy: "AWS":{json.dumps(value)}')


def _condition_value(v: Any) -> str | None:
    # JSON scalars become the strings AWS compares (true -> "true", 10 -> "10").
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return None


def _conditions(block: Any, version: str, err: Any) -> tuple[Condition, ...]:
    if not isinstance(block, Mapping):
        raise err("Syntax errors in policy. Condition must be an object.")
    out: list[Condition] = []
    for op_name, clauses in block.items():
        parsed = parse_operator(op_name) if isinstance(op_name, str) else None
        if parsed is None:
            raise err(f"Invalid Condition type : {op_name}.")
        if not isinstance(clauses, Mapping) or not clauses:
            raise err(f"Syntax errors in policy. Condition {op_name} must map condition keys to values.")
        for key, raw in clauses.items():
            if not isinstance(key, str) or ":" not in key or key.startswith(":"):
                raise err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise err(f"Condition {op_name} on key {key} must have at least one value.")
            values: list[str] = []
            for item in items:
                value = _condition_value(item)
                if value is None:
                    raise err(f"Invalid value {json.dumps(item)} for condition {op_name} on key {key}.")
                if not (version == VERSION_2012 and "${" in value):
                    problem = _type_problem(parsed.base, value)
                    if problem:
                        raise err(f"Invalid value {json.dumps(value)} for condition {op_name} on key {key}: {problem}.")
                values.append(value)
            out.append(Condition(op_name, parsed.base, parsed.set_operator, parsed.if_exists, key, tuple(values)))
    return tuple(out)


def _type_problem(base: str, value: str) -> str | None:
    if base.startswith("Numeric") and read_number(value) is None:
        return "expected a number"
    if base.startswith("Date") and read_date(value) is None:
        return "expected an ISO 8601 date or epoch seconds"
    if base in ("Bool", "Null") and read_bool(value) is None:
        return 'expected "true" or "false"'
    if base.endswith("IpAddress") and read_network(value) is None:
        return "expected an IPv4 or IPv6 address or CIDR block"
    if base == "BinaryEquals" and read_binary(value) is None:
        return "expected base64"
    return None
