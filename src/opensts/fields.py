"""Typed requests: Query parameters declared on request dataclasses, and secrets marked on any dataclass.

Every action takes one request dataclass. Each of its fields says which Query parameter it comes
from and how AWS validates it (the member's shape in botocore's model)::

    @dataclass(frozen=True, slots=True, kw_only=True)
    class GetUserRequest:
        user_name: str | None = text("UserName", min_len=1, max_len=128, pattern=USER_NAME_PATTERN)

:func:`request_decoder` turns a request type into a function from decoded Query parameters to an
instance: it reads the fields in declaration order (which is therefore the order of AWS's
"N validation errors detected" messages), collects every failure, and raises one
:class:`~opensts.errors.ValidationError` before anything else happens. A required field is never
``None`` in a decoded request. Structures that span several parameters, or need checks beyond length
and pattern, are read by a function given to :func:`custom`.

:func:`secret` marks a field that carries a secret (a password, a TOTP code, a SAML assertion, a web
identity token, a secret access key, a session token). :func:`redacted` renders any request or
result for logs and the audit trail with those fields replaced, so the list of what is secret lives
on the types themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeVar

from opensts.params import ParamReader, member_name

PARAM = "opensts.param"  # field metadata: how the field is read from the Query parameters
SECRET = "opensts.secret"  # field metadata: True when the field carries a secret
REDACTED = "HIDDEN_DUE_TO_SECURITY_REASONS"  # what CloudTrail prints in place of a secret
# The metadata of a result field that carries a secret and has no default. Spell such a field
# ``dataclasses.field(repr=False, metadata=SECRET_FIELD)``: type checkers see through ``field()``
# only, and would take a wrapper's call for a default value.
SECRET_FIELD: Mapping[str, Any] = MappingProxyType({SECRET: True})
# A secret that the audit trail may still identify: :func:`redacted` shows its SHA-256 fingerprint
# (``sha256:<hex>``), so that a session token can be traced to the call that issued it.
FINGERPRINT = "fingerprint"
FINGERPRINTED_SECRET_FIELD: Mapping[str, Any] = MappingProxyType({SECRET: FINGERPRINT})

R = TypeVar("R")
Params = dict[str, Any]


# --- How one field is read -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text:
    name: str
    required: bool = False
    min_len: int | None = None
    max_len: int | None = None
    pattern: str | None = None
    default: str | None = None
    secret: bool = False  # failures do not quote the value

    def read(self, reader: ParamReader) -> str | None:
        value = reader.string(
            self.name, required=self.required, min_len=self.min_len, max_len=self.max_len, pattern=self.pattern,
            secret=self.secret,
        )
        return self.default if value is None else value


@dataclass(frozen=True, slots=True)
class Integer:
    name: str
    required: bool = False
    min_value: int | None = None
    max_value: int | None = None
    default: int | None = None

    def read(self, reader: ParamReader) -> int | None:
        value = reader.integer(self.name, required=self.required, min_value=self.min_value, max_value=self.max_value)
        return self.default if value is None else value


@dataclass(frozen=True, slots=True)
class Boolean:
    name: str
    default: bool | None = None

    def read(self, reader: ParamReader) -> bool | None:
        value = reader.boolean(self.name)
        return self.default if value is None else value


@dataclass(frozen=True, slots=True)
class OneOf:
    """A string that must be one of ``values`` (an enum shape in botocore's model)."""

    name: str
    values: tuple[str, ...]
    required: bool = False
    default: str | None = None

    def read(self, reader: ParamReader) -> str | None:
        value = reader.string(self.name, required=self.required)
        if value is None:
            return self.default
        if value not in self.values:
            reader.fail(value, member_name(self.name), f"Member must satisfy enum value set: [{', '.join(self.values)}]")
        return value


@dataclass(frozen=True, slots=True)
class TextList:
    """A ``Name.member.N`` list of strings, each checked like :class:`Text`."""

    name: str
    required: bool = False
    max_items: int | None = None
    min_len: int | None = None
    max_len: int | None = None
    pattern: str | None = None

    def read(self, reader: ParamReader) -> list[str]:
        member = member_name(self.name)
        out: list[str] = []
        for i, item in enumerate(reader.list(self.name, max_items=self.max_items, required=self.required), start=1):
            if not isinstance(item, str):
                reader.fail(None, f"{member}.{i}.member", "Member must be a string")
                continue
            reader.check_string(
                item, f"{member}.{i}.member", min_len=self.min_len, max_len=self.max_len, pattern=self.pattern
            )
            out.append(item)
        return out


@dataclass(frozen=True, slots=True)
class Custom:
    """Read by a function of the whole request's reader (structures, several parameters)."""

    read: Callable[[ParamReader], Any]
    name: str | None = None  # the Query parameter, when the field is read from one


# --- Declaring fields --------------------------------------------------------------------------------
def _field(spec: Any = None, *, default: Any = dataclasses.MISSING, secret: bool = False, xml: str | None = None) -> Any:
    """The dataclass field: read by ``spec`` (None: a result's field), secret or not; a list or dict
    default becomes a factory. No default: the field is required."""
    metadata: dict[str, Any] = {SECRET: secret}
    if spec is not None:
        metadata[PARAM] = spec
    if xml is not None:
        metadata["xml"] = xml
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=type(default), metadata=metadata, repr=not secret)
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


def text(
    name: str,
    *,
    required: bool = False,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: str | None = None,
    default: str | None = None,
    secret: bool = False,
) -> Any:
    """A string parameter; without ``pattern``, the characters of ``params.TEXT_PATTERN``."""
    spec = Text(name, required, min_len, max_len, pattern, default, secret)
    return _field(spec, default=dataclasses.MISSING if required else default, secret=secret)


def integer(
    name: str,
    *,
    required: bool = False,
    min_value: int | None = None,
    max_value: int | None = None,
    default: int | None = None,
) -> Any:
    return _field(Integer(name, required, min_value, max_value, default), default=dataclasses.MISSING if required else default)


def one_of(name: str, values: tuple[str, ...], *, required: bool = False, default: str | None = None) -> Any:
    """An enum parameter: AWS's "Member must satisfy enum value set: [A, B]" for anything else."""
    return _field(OneOf(name, values, required, default), default=dataclasses.MISSING if required else default)


def boolean(name: str, *, default: bool | None = None) -> Any:
    return _field(Boolean(name, default), default=default)


def text_list(
    name: str,
    *,
    required: bool = False,
    max_items: int | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
    pattern: str | None = None,
) -> Any:
    return _field(TextList(name, required, max_items, min_len, max_len, pattern), default=[])


def custom(
    read: Callable[[ParamReader], Any], *, default: Any = dataclasses.MISSING, secret: bool = False,
    param: str | None = None,
) -> Any:
    """A field read by ``read(reader)``; it reports failures with ``reader.fail`` or raises an AwsError.
    ``param``: the Query parameter it reads, when one (so that a secret one can be found by name)."""
    return _field(Custom(read, param), default=default, secret=secret)


def secret(*, default: Any = dataclasses.MISSING, xml: str | None = None) -> Any:
    """A plain dataclass field (a result's or a nested structure's) that carries a secret: hidden by
    :func:`redacted` and left out of ``repr()`` (tracebacks, debug logs). ``xml``: the element name
    when it is not the field's name in CamelCase (see ``server/xml.py``)."""
    return _field(default=default, secret=True, xml=xml)


# --- Decoding -------------------------------------------------------------------------------------------
def request_decoder(request_type: type[R]) -> Callable[[Params], R]:
    """The function that reads and validates ``request_type`` from decoded Query parameters.

    Raises TypeError at registration if a field says nothing of where it comes from.
    """
    specs: list[tuple[str, Any]] = []
    for f in dataclasses.fields(request_type):  # type: ignore[arg-type]
        spec = f.metadata.get(PARAM)
        if spec is None:
            raise TypeError(f"{request_type.__name__}.{f.name} does not say which parameter it is read from")
        specs.append((f.name, spec.read))
    if not specs:
        empty = request_type()
        return lambda params: empty

    def decode(params: Params) -> R:
        reader = ParamReader(params)
        values = {name: read(reader) for name, read in specs}
        reader.done()
        return request_type(**values)

    return decode


@dataclass(frozen=True, slots=True, kw_only=True)
class NoParameters:
    """The request of actions that take no parameters of their own (GetCallerIdentity, ...)."""


# --- Redaction ----------------------------------------------------------------------------------------
def secret_fields(cls: type) -> frozenset[str]:
    """The names of ``cls``'s fields marked secret."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get(SECRET))


def redacted(value: Any, *, depth: int = 0) -> Any:
    """``value`` as JSON-ready data (dataclasses → dicts of lowerCamel keys as in CloudTrail, without
    the fields that are None or empty), with
    every field marked secret replaced by :data:`REDACTED` (or by its fingerprint, for fields marked
:data:`FINGERPRINTED_SECRET_FIELD`). Bounded in depth.

    Validation messages quote the value that failed (as AWS's do), so the error answering a malformed
    secret parameter carries it: the audit trail must not record such messages verbatim."""
    if depth > 16:
        return "..."
    kind = type(value)
    if kind in _SCALARS:
        return value
    plan = _PLANS.get(kind)
    if plan is None:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            plan = _PLANS[kind] = _plan(kind)
    if plan is not None:
        out: dict[str, Any] = {}
        for name, key, mark in plan:
            item = getattr(value, name)
            if item is None or (not item and type(item) in _CONTAINERS):
                continue  # not sent (as CloudTrail leaves out parameters that were not given)
            if not mark:
                out[key] = redacted(item, depth=depth + 1)
            else:
                out[key] = fingerprint(item) if mark == FINGERPRINT and isinstance(item, str) else REDACTED
        return out
    if isinstance(value, Mapping):
        return {str(k): redacted(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [redacted(v, depth=depth + 1) for v in value]
    return str(value)


_SCALARS = frozenset((str, int, bool, float, type(None)))
_CONTAINERS = frozenset((list, tuple, dict, set, frozenset))


# Per dataclass: (attribute, camelCase key, secret mark) of each field. Classes do not change at run
# time, so nothing ever needs to drop an entry.
_PLANS: dict[type, tuple[tuple[str, str, Any], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, str, Any], ...]:
    return tuple((f.name, _camel(f.name), f.metadata.get(SECRET)) for f in dataclasses.fields(cls))


def fingerprint(secret_value: str) -> str:
    """``sha256:<hex>``: names a secret (a session token) without revealing it."""
    return "sha256:" + hashlib.sha256(secret_value.encode()).hexdigest()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
