"""Deciding a ``POST /v1/authorize`` question (docs/AUTHORIZE.md): the rules, apart from the wire.

The endpoint (``server/authorize_endpoint.py``) reads and checks the JSON body, authenticates the
outer call and the inner request, and encodes the answers. This module decides:

- which condition keys a service may supply (:func:`supplied_context_key`): ``aws:`` keys describe
  the principal and the request as OpenSTS saw it, so a service may supply only those that describe
  what it alone knows (the tags a request sets, the resource's tags and owner, the network path);
- whether the outer caller has ``opensts:Authorize`` on ``*`` (:func:`decide_permission`), with ``opensts:RequestedAction`` in its context;
- the decision for the inner caller (:func:`explain`) with the full request context
  (:func:`inner_context`: OpenSTS's keys win over supplied ones of the same name);
- a denial's explanation, the document ``DecodeAuthorizationMessage`` shows
  (:func:`encoded_explanation`), with condition keys spelled as AWS spells them.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Mapping

from opensts.access.authorize import caller_policies, decision_for, denial_message, request_context
from opensts.access.policy_sets import IamState
from opensts.cache import BoundedCache
from opensts.identity.principal import Caller
from opensts.policy import Decision, Policy, Request
from opensts.tokens.authorization_message import encode_authorization_message
from opensts.tokens.keyring import KeyRing

log = logging.getLogger("opensts.server.authorize")

AUTHORIZE_ACTION = "opensts:Authorize"
REQUESTED_ACTION_KEY = "opensts:RequestedAction"
# Seconds an outer caller's opensts:Authorize decision is kept (see decide_permission).
OUTER_DECISION_TTL = 1.0
MAX_CONTEXT_KEY_CHARS = 256

# The aws: keys a service may supply (lower case); every other aws: key is OpenSTS's to set.
_SERVICE_AWS_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:TagKeys", "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:SourceArn",
        "aws:SourceAccount", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce",
        "aws:VpcSourceIp", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService",
        "aws:Referer", "aws:UserAgent",
    )
)
_SERVICE_AWS_PREFIXES = ("aws:requesttag/", "aws:resourcetag/")

# The decoded message shows condition keys as AWS spells them (the engine keeps them lower-cased).
_CANONICAL_KEYS = {
    k.lower(): k
    for k in (
        "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType", "aws:PrincipalServiceName",
        "aws:userid", "aws:username",
    )
}


class ContextKeyRefused(ValueError):
    """A supplied condition key is malformed or is one OpenSTS sets; the message says which."""


def supplied_context_key(key: str, accepted: BoundedCache[str, str]) -> str:
    """The lower-case name of a condition key a service supplies, or :class:`ContextKeyRefused`.

    ``accepted`` remembers the keys accepted so far (services send the same few).
    """
    lower = accepted.get(key)
    if lower is not None:
        return lower
    if not key or len(key) > MAX_CONTEXT_KEY_CHARS or ":" not in key:
        raise ContextKeyRefused(
            f"Invalid context key {key[:MAX_CONTEXT_KEY_CHARS]!r}: condition keys look like 'service:Name'."
        )
    lower = key.lower()
    if lower.startswith("aws:") and lower not in _SERVICE_AWS_KEYS and not lower.startswith(_SERVICE_AWS_PREFIXES):
        raise ContextKeyRefused(
            f"Context key {key!r} is set by OpenSTS and cannot be supplied "
            "(use sourceIp and secureTransport for aws:SourceIp and aws:SecureTransport)."
        )
    return accepted.put(key, lower)


def inner_context(
    caller: Caller, now: datetime, supplied: Mapping[str, Any], source_ip: str | None, secure: bool, region: str
) -> dict[str, Any]:
    """The inner request's context: OpenSTS's keys, then the supplied ones it does not set itself."""
    full = request_context(caller, now, source_ip=source_ip, secure_transport=secure, region=region)
    if not supplied:
        return full
    if caller.session is None or not caller.session.attributes:
        # The aws: keys OpenSTS sets are never among those a service may supply
        # (supplied_context_key): only a token's claim keys could clash.
        full.update(supplied)
        return full
    present = {key.lower() for key in full}
    for key, value in supplied.items():
        if key.lower() not in present:  # OpenSTS's keys (token claims included) win
            full[key] = value
    return full


def explain(
    runtime: IamState,
    caller: Caller,
    action: str,
    resource: str,
    context: Callable[[], dict[str, Any]],
    resource_account: str | None,
    resource_policy: Policy | None,
) -> tuple[Decision, Request | None]:
    """The decision, and on a denial the engine's request (for the decoded message).

    ``context()`` builds the request context; a remembered decision needs none. Blocking unless cached.
    """
    policies = caller_policies(runtime, caller)
    decision, request = decision_for(policies, action, resource, resource_account, resource_policy, context)
    if request is None and not decision.allowed:
        request = Request(policies.principal, action, resource, resource_account, context())
    return decision, request


def message_document(decision: Decision, request: Request) -> dict[str, Any]:
    """The decoded authorization message, with condition keys spelled as given (the engine lower-cases them)."""
    doc = decision.authorization_message(request)
    names = dict(_CANONICAL_KEYS)
    for tag in request.principal.tags:
        names[f"aws:principaltag/{tag.lower()}"] = f"aws:PrincipalTag/{tag}"
    for key in request.context:
        names[key.lower()] = key
    for item in doc["context"]["conditions"]["items"]:
        item["key"] = names.get(item["key"], item["key"])
    return doc


def encoded_explanation(decision: Decision, request: Request, keyring: KeyRing) -> str:
    """A denial's encoded authorization message (sealed by the key ring; DecodeAuthorizationMessage)."""
    return encode_authorization_message(message_document(decision, request), keyring)


# --- the outer caller's opensts:Authorize --------------------------------------------------------
def decide_permission(
    runtime: IamState, outer: Caller, requested_action: str, now: datetime, source_ip: str | None, secure: bool,
    region: str,
) -> str | None:
    """``opensts:Authorize`` on ``*`` for the outer caller: None if allowed, else AWS's denial message.
    Blocking unless cached.

    Services ask the same question many times a second, so answers are kept for
    OUTER_DECISION_TTL seconds, keyed by everything they depend on (credential, requested action,
    source IP, transport, region) and dropped at once on any IAM change. Time conditions on this
    permission are therefore honoured to within a second. A remembered answer needs no I/O, so on
    the event loop (``cache_first``) a hit never moves to a thread. The access key id alone names
    the credential: the outer call is authenticated first, and a session's key id is its own.
    """
    version = runtime.iam_version
    key = (outer.access_key_id, requested_action, source_ip, secure, region)
    entry = runtime.caches.authorize_permissions.get(key)
    if entry is not None and entry[0] > time.monotonic() and entry[1] == version:
        denied: str | None = entry[2]
        return denied

    def context() -> dict[str, Any]:
        full = request_context(outer, now, source_ip=source_ip, secure_transport=secure, region=region)
        full[REQUESTED_ACTION_KEY] = requested_action
        return full

    decision, _ = explain(runtime, outer, AUTHORIZE_ACTION, "*", context, None, None)
    denied = None if decision.allowed else denial_message(outer.arn, AUTHORIZE_ACTION, "*", decision)
    if denied is not None and log.isEnabledFor(logging.DEBUG):
        log.debug("AccessDenied for %s: %s; %s", outer.arn, AUTHORIZE_ACTION, "; ".join(decision.reasons))
    runtime.caches.authorize_permissions.put(key, (time.monotonic() + OUTER_DECISION_TTL, version, denied))
    return denied
