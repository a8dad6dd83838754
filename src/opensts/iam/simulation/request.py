"""The simulation actions' requests: their parameters, read and validated as AWS does.

Each request's fields are read in declaration order, which is the order of the messages of a
"N validation errors detected" answer; it is the order OpenSTS has always answered with, so it is
kept (ResourceHandlingOption before ContextEntries, Marker before MaxItems). Lists of policies are ``PolicyInputList``,
``PermissionsBoundaryPolicyInputList`` (``Name.member.N`` strings of policy text, 1 to 131072
characters each); ``ContextEntries`` are structures
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_ContextEntry.html).

Checks that are not plain length and pattern checks raise InvalidInput, with OpenSTS's own messages
(AWS documents none): a context entry without a name or a type, a value that is not of its declared
type or several values for a single-valued type (``ContextKeyType`` without ``List``), an action
name not written ``service:ActionName``, and more than ten thousand action and resource
combinations in one request (deviation: a bound of OpenSTS's, so that one request's work is
bounded).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Any

from opensts.errors import InvalidInput
from opensts.fields import custom, text, text_list
from opensts.iam import fields
from opensts.iam.fields import POLICY_DOCUMENT_PATTERN
from opensts.params import ParamReader
from opensts.policy.values import read_date, read_number

CONTEXT_TYPES = (
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary",
    "binaryList", "date", "dateList",
)
MAX_SIMULATION_INPUTS = 1000

Context = dict[str, tuple[str, ...]]  # lower-case condition key -> values, as the engine reads them


# --- Readers ------------------------------------------------------------------------------------
def policy_list(name: str, *, required: bool = False) -> Any:
    """A request field: a list of policy documents."""
    return text_list(name, required=required, min_len=1, max_len=131072, pattern=POLICY_DOCUMENT_PATTERN)


def read_context_entries(reader: ParamReader) -> Context:
    """ContextEntries → condition key (lower-case) → values as the engine reads them; InvalidInput
    for an entry without a name or a type, and for values that are not of their declared type."""
    entries = reader.list("ContextEntries")
    out: Context = {}
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
    """``value`` checked against its type and written as the engine's conditions read it."""

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


# --- Requests -----------------------------------------------------------------------------------
# The two Simulate* requests share every member after PolicySourceArn (only PolicyInputList's
# being required differs); they are declared in full because fields are read in declaration order.
@dataclass(frozen=True, slots=True, kw_only=True)
class SimulateCustomPolicyRequest:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html"""

    policy_input_list: list[str] = policy_list("PolicyInputList", required=True)
    permissions_boundary_policy_input_list: list[str] = policy_list("PermissionsBoundaryPolicyInputList")
    action_names: list[str] = text_list("ActionNames", required=True, min_len=3, max_len=128)
    resource_arns: list[str] = text_list("ResourceArns", min_len=1, max_len=2048)
    resource_policy: str | None = text("ResourcePolicy", min_len=1, max_len=131072, pattern=POLICY_DOCUMENT_PATTERN)
    resource_owner: str | None = text("ResourceOwner", min_len=1, max_len=2048)
    caller_arn: str | None = text("CallerArn", min_len=1, max_len=2048)
    resource_handling_option: str | None = text("ResourceHandlingOption", min_len=1, max_len=64)  # validated, unused
    context_entries: Context = custom(read_context_entries, default={})
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatePrincipalPolicyRequest:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html"""

    policy_source_arn: str = text("PolicySourceArn", required=True, min_len=20, max_len=2048)
    policy_input_list: list[str] = policy_list("PolicyInputList")
    permissions_boundary_policy_input_list: list[str] = policy_list("PermissionsBoundaryPolicyInputList")
    action_names: list[str] = text_list("ActionNames", required=True, min_len=3, max_len=128)
    resource_arns: list[str] = text_list("ResourceArns", min_len=1, max_len=2048)
    resource_policy: str | None = text("ResourcePolicy", min_len=1, max_len=131072, pattern=POLICY_DOCUMENT_PATTERN)
    resource_owner: str | None = text("ResourceOwner", min_len=1, max_len=2048)
    caller_arn: str | None = text("CallerArn", min_len=1, max_len=2048)
    resource_handling_option: str | None = text("ResourceHandlingOption", min_len=1, max_len=64)  # validated, unused
    context_entries: Context = custom(read_context_entries, default={})
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


SimulationRequest = SimulateCustomPolicyRequest | SimulatePrincipalPolicyRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class GetContextKeysForCustomPolicyRequest:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForCustomPolicy.html"""

    policy_input_list: list[str] = policy_list("PolicyInputList", required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetContextKeysForPrincipalPolicyRequest:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForPrincipalPolicy.html"""

    policy_source_arn: str = text("PolicySourceArn", required=True, min_len=20, max_len=2048)
    policy_input_list: list[str] = policy_list("PolicyInputList")


def check_actions(request: SimulationRequest) -> None:
    """InvalidInput for an action name not written ``service:ActionName``, or for more action and
    resource combinations than one request may simulate."""
    for name in request.action_names:
        service, sep, op = name.partition(":")
        if not sep or not service or not op or any(ch.isspace() for ch in name):
            raise InvalidInput(f"Action {name} is not valid: actions are written service:ActionName.")
    if len(request.action_names) * max(1, len(request.resource_arns)) > MAX_SIMULATION_INPUTS * 10:
        raise InvalidInput("Too many action and resource combinations to simulate in one request.")
