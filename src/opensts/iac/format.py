"""The IAM-as-code file: reading it (YAML or JSON, bounded), checking it against the JSON Schema
(``schemas/opensts-iam.schema.json``) and then semantically (every policy document through the
policy engine, every policy reference resolved), and the typed model the planner compares.

A file declares one account (``account:`` and the entity maps at the top level; without
``account:`` the store's default account) or several (``accounts:``, a list of the same, each
with an ``id``). Every problem is an :class:`IacError` naming the path of the bad field as it is
written in the file: ``roles.deployer.trust.Statement[0].Principal``, ``accounts[1].users.bob.groups``.

Bounds: the file is at most :data:`MAX_FILE_BYTES`, nested at most :data:`MAX_DEPTH` deep; YAML
anchors and aliases are refused (they expand exponentially), and so are duplicate keys (YAML keeps
the last one silently, which hides mistakes). YAML timestamps stay strings (``Version: 2012-10-17``
need not be quoted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from opensts.iac.errors import IacError  # noqa: F401 - re-exported
from opensts.identity import arn as arns
from opensts.policy import PolicyKind, PolicyValidationError, parse_policy

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
SCHEMA_FILE = Path(__file__).with_name("opensts-iam.schema.json")
_STATEMENT_FIELDS = ("NotPrincipal", "Principal", "NotAction", "Action", "NotResource", "Resource", "Condition", "Effect")


# --- The model ---------------------------------------------------------------------------------------
@dataclass
class User:
    path: str = "/"
    groups: set[str] = field(default_factory=set)
    inline: dict[str, Any] = field(default_factory=dict)  # name -> document (parsed JSON)
    managed: set[str] = field(default_factory=set)  # ARNs
    boundary: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    access_key: bool = False  # desired: wants a key; current: has at least one


@dataclass
class Group:
    path: str = "/"
    inline: dict[str, Any] = field(default_factory=dict)
    managed: set[str] = field(default_factory=set)


@dataclass
class Role:
    trust: Any
    path: str = "/"
    description: str | None = None
    max_session_duration: int = 3600
    inline: dict[str, Any] = field(default_factory=dict)
    managed: set[str] = field(default_factory=set)
    boundary: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Policy:
    document: Any
    path: str = "/"
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class InstanceProfile:
    path: str = "/"
    role: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class OidcProvider:
    url: str  # without https://, as the ARN has it
    client_ids: list[str] = field(default_factory=list)
    thumbprints: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SamlProvider:
    metadata: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Account:
    """One account's IAM state: what a file declares, or what the store holds."""

    account_id: str
    where: str = ""  # the path prefix of this account in the file ("" or "accounts[1].")
    alias: str | None = None
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    instance_profiles: dict[str, InstanceProfile] = field(default_factory=dict)
    oidc_providers: dict[str, OidcProvider] = field(default_factory=dict)  # by url without scheme
    saml_providers: dict[str, SamlProvider] = field(default_factory=dict)


@dataclass
class Document:
    """A whole file: its accounts (``None`` id: the store's default account, filled in later)."""

    accounts: list[Account]
    declared: set[tuple[int, str]] = field(default_factory=set)  # (account index, top-level key) present


# --- Reading ---------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps, aliases or duplicate keys."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _compose_node(self: _Loader, parent: Any, index: Any) -> Any:
    if self.check_event(yaml.AliasEvent):
        event = self.peek_event()
        raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", event.start_mark)
    if self.check_event(yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent):
        if self.peek_event().anchor is not None:
            raise yaml.composer.ComposerError(None, None, "YAML anchors (&name) are not allowed", self.peek_event().start_mark)
    return yaml.SafeLoader.compose_node(self, parent, index)


def _construct_mapping(self: _Loader, node: Any, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = self.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(self, node, deep)


_Loader.compose_node = _compose_node
_Loader.construct_mapping = _construct_mapping


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def read_file(path: str | Path) -> Any:
    """The parsed content of a ``.yaml``/``.yml``/``.json`` file, bounded; :class:`IacError` otherwise."""
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise IacError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise IacError(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IacError(f"{name} is not UTF-8 text (byte offset {exc.start})") from None
    return parse_text(text, name, as_json=path.suffix.lower() == ".json")


def parse_text(text: str, name: str, *, as_json: bool) -> Any:
    try:
        if as_json:
            content = json.loads(text, object_pairs_hook=_no_duplicates)
        else:
            content = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except json.JSONDecodeError as exc:
        raise IacError(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise IacError(f"{name}: not valid YAML: {exc.problem or exc.context}{where}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise IacError(f"{name}: cannot be read: {exc}") from None
    except RecursionError:
        raise IacError(f"{name}: nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(content, name)
    return content


def _check_depth(content: Any, name: str) -> None:
    stack = [(content, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise IacError(f"{name}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


# --- Paths -----------------------------------------------------------------------------------------
def path_text(parts: Any) -> str:
    """``("roles", "deployer", "trust", "Statement", 0)`` → ``roles.deployer.trust.Statement[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:  # names are written as they are (a name may hold a dot)
            out += f".{part}" if out else str(part)
    return out


# --- Schema ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def validate_schema(content: Any) -> None:
    """The first (deepest, then first in file order) schema violation as an :class:`IacError`."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(content))
    if not errors:
        return
    error = _most_useful(errors)
    where = path_text(error.absolute_path) or "(top level)"
    raise IacError(_message(error), where)


def _most_useful(errors: list[Any]) -> Any:
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    # oneOf/anyOf (a document: string or object) → the error inside the branch the value chose.
    while best.context:
        inner = [e for e in best.context if not (e.validator == "type" and len(e.path) == 0)] or list(best.context)
        best = jsonschema.exceptions.best_match(inner)
    return best


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(repr(e) for e in extra[:5])}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    message: str = error.message
    if len(message) > 300:
        message = message[:300] + "..."
    return message


# --- The model from a file -------------------------------------------------------------------------
def load(path: str | Path) -> Document:
    """Read, check and resolve a file: the typed :class:`Document`, or :class:`IacError`."""
    return from_content(read_file(path))


def from_content(content: Any) -> Document:
    if content is None:
        content = {}
    validate_schema(content)
    assert isinstance(content, dict)
    if "accounts" in content:
        clash = sorted(k for k in content if k not in ("version", "accounts"))
        if clash:
            raise IacError("a file with `accounts:` declares nothing else at the top level", clash[0])
        entries = [(item, f"accounts[{i}].") for i, item in enumerate(content["accounts"])]
        ids = [item["id"] for item, _ in entries]
        for i, account_id in enumerate(ids):
            if account_id in ids[:i]:
                raise IacError(f"account {account_id} is declared twice", f"accounts[{i}].id")
    else:
        entries = [({**content, "id": content.get("account")}, "")]
    accounts = []
    declared: set[tuple[int, str]] = set()
    for index, (entry, where) in enumerate(entries):
        accounts.append(_account(entry, where))
        declared.update((index, key) for key in entry if key not in ("id", "account", "version"))
    return Document(accounts, declared)


def _account(entry: dict[str, Any], where: str) -> Account:
    account = Account(entry.get("id") or "", where, entry.get("alias"))
    for name, spec in (entry.get("policies") or {}).items():
        at = f"{where}policies.{name}"
        account.policies[name] = Policy(
            _document(spec["document"], f"{at}.document", PolicyKind.IDENTITY), spec.get("path", "/"),
            spec.get("description"), dict(spec.get("tags") or {}),
        )
    for name, spec in (entry.get("groups") or {}).items():
        at = f"{where}groups.{name}"
        account.groups[name] = Group(
            spec.get("path", "/"), _inline(spec, at), set(_refs(spec.get("managed_policies"), f"{at}.managed_policies", entry)),
        )
    for name, spec in (entry.get("users") or {}).items():
        at = f"{where}users.{name}"
        groups = spec.get("groups") or []
        for i, group in enumerate(groups):
            if group not in account.groups:
                raise IacError(f"no group {group!r} is declared in this account", f"{at}.groups[{i}]")
        account.users[name] = User(
            spec.get("path", "/"), set(groups), _inline(spec, at),
            set(_refs(spec.get("managed_policies"), f"{at}.managed_policies", entry)),
            _ref(spec.get("permissions_boundary"), f"{at}.permissions_boundary", entry),
            dict(spec.get("tags") or {}), bool(spec.get("access_key", False)),
        )
    for name, spec in (entry.get("roles") or {}).items():
        at = f"{where}roles.{name}"
        account.roles[name] = Role(
            _document(spec["trust"], f"{at}.trust", PolicyKind.TRUST), spec.get("path", "/"), spec.get("description"),
            int(spec.get("max_session_duration", 3600)), _inline(spec, at),
            set(_refs(spec.get("managed_policies"), f"{at}.managed_policies", entry)),
            _ref(spec.get("permissions_boundary"), f"{at}.permissions_boundary", entry), dict(spec.get("tags") or {}),
        )
    for name, spec in (entry.get("instance_profiles") or {}).items():
        role = spec.get("role")
        if role is not None and role not in account.roles:
            raise IacError(f"no role {role!r} is declared in this account", f"{where}instance_profiles.{name}.role")
        account.instance_profiles[name] = InstanceProfile(spec.get("path", "/"), role, dict(spec.get("tags") or {}))
    for i, spec in enumerate(entry.get("oidc_providers") or []):
        url = oidc_url(spec["url"])
        if url in account.oidc_providers:
            raise IacError(f"provider {spec['url']} is declared twice", f"{where}oidc_providers[{i}].url")
        account.oidc_providers[url] = OidcProvider(
            url, list(spec.get("client_ids") or []), list(spec.get("thumbprints") or []), dict(spec.get("tags") or {}),
        )
    for name, spec in (entry.get("saml_providers") or {}).items():
        account.saml_providers[name] = SamlProvider(spec["metadata"], dict(spec.get("tags") or {}))
    return account


def bind_account(account: Account, account_id: str) -> None:
    """Give a file's account without ``account:`` its id (the store's default account)."""
    account.account_id = account_id
    placeholder = arns.policy_arn("{account}", "x")[: -len("policy/x")]

    def fix(ref: str | None) -> str | None:
        return ref.replace(placeholder, placeholder.replace("{account}", account_id)) if ref else ref

    entities: list[User | Group | Role] = [*account.users.values(), *account.groups.values(), *account.roles.values()]
    for entity in entities:
        entity.managed = {fix(ref) or "" for ref in entity.managed}
        if not isinstance(entity, Group):
            entity.boundary = fix(entity.boundary)


def oidc_url(url: str) -> str:
    """The provider's identity as its ARN spells it: the URL without ``https://``."""
    return url[len("https://"):] if url.lower().startswith("https://") else url


def _inline(spec: dict[str, Any], at: str) -> dict[str, Any]:
    return {
        name: _document(doc, f"{at}.inline_policies.{name}", PolicyKind.IDENTITY)
        for name, doc in (spec.get("inline_policies") or {}).items()
    }


def _document(value: Any, where: str, kind: PolicyKind) -> Any:
    """The document as a JSON object, checked by the policy engine (IAM's rules: Version 2012-10-17)."""
    if isinstance(value, str):
        try:
            value = json.loads(value, object_pairs_hook=_no_duplicates)
        except (json.JSONDecodeError, ValueError) as exc:
            raise IacError(f"not a JSON policy document: {exc}", where) from None
        if not isinstance(value, dict):
            raise IacError("a policy document is a JSON object", where)
    try:
        parse_policy(json.dumps(value), kind)
    except PolicyValidationError as exc:
        raise IacError(exc.aws_message, _statement_path(where, exc, value)) from None
    return value


def _statement_path(where: str, exc: PolicyValidationError, document: Any) -> str:
    if exc.statement_index is None:
        return where
    statements = document.get("Statement") if isinstance(document, dict) else None
    out = f"{where}.Statement[{exc.statement_index}]" if isinstance(statements, list) else f"{where}.Statement"
    for name in _STATEMENT_FIELDS:  # the field the engine's message is about, when it names one
        if re.search(rf"\b{name}\b", exc.aws_message):
            return f"{out}.{name}"
    return out


def _refs(values: Any, where: str, entry: dict[str, Any]) -> list[str]:
    return [_ref(v, f"{where}[{i}]", entry) or "" for i, v in enumerate(values or [])]


def _ref(value: str | None, where: str, entry: dict[str, Any]) -> str | None:
    """A managed policy reference: an ARN as written, or a policy declared in this account."""
    if value is None or value.startswith("arn:"):
        return value
    declared = (entry.get("policies") or {}).get(value)
    if declared is None:
        raise IacError(f"no policy {value!r} is declared in this account (name a declared policy, or write an ARN)", where)
    return arns.policy_arn(entry.get("id") or "{account}", value, declared.get("path", "/"))
