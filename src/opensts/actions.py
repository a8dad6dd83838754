"""The registry of API actions: every STS and IAM action is a typed request and a function.

An action module declares its request as a dataclass whose fields say which Query parameter each
comes from (:mod:`opensts.fields`), and registers a plain function of it::

    @action("iam", "CreateUser", request=CreateUserRequest, writes=True)
    def create_user(ctx: ActionContext, request: CreateUserRequest) -> CreateUserResult: ...

The edge looks actions up by (service, Action), decodes and validates the parameters into the
request with :attr:`ActionSpec.decode` (AWS's validation errors), then calls the function
(:attr:`ActionSpec.handler` does both, for callers that need no request of their own).
The function returns a typed result (a dataclass the edge encodes) or raises an
:class:`~opensts.errors.AwsError`; it never sees the wire. ``writes`` says whether the action
changes IAM data (CloudTrail's ``readOnly``, inverted); caches need no call from the action: every
IAM write transaction bumps the store's change counter and drops this process's caches as it commits
(``store/meta.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from opensts.fields import Params, request_decoder

if TYPE_CHECKING:
    from opensts.identity.principal import Caller
    from opensts.runtime import Runtime

Handler = Callable[["ActionContext", Params], Any]
Req = TypeVar("Req")
Res = TypeVar("Res")


@dataclass(slots=True)  # one per request; read-only by convention (frozen costs ~2 us to construct)
class ActionContext:
    runtime: "Runtime"
    caller: "Caller | None"  # None only for actions that may be called unsigned
    request_time: datetime
    request_id: str
    source_ip: str | None = None
    region: str = "us-east-1"
    secure_transport: bool = False


@dataclass(frozen=True, slots=True)
class ActionSpec:
    service: str
    name: str
    handler: Handler  # decode the request, then call the function
    request_type: type
    function: Callable[["ActionContext", Any], Any]
    decode: Callable[[Params], Any]  # Query parameters -> the request (AWS's validation errors)
    writes: bool  # True: changes IAM data (not readOnly)
    blocking: bool  # True: touches the store, so the edge runs it in a worker thread
    unsigned: bool  # True: may be called without a signature (web identity, SAML)
    # True: try on the event loop first; mostly served from caches, it moves to a worker thread
    # only when it reaches the store (see opensts.store.db.StoreAccessDeferred). Whatever the
    # handler does before its first store access must be safe to do more than once.
    cache_first: bool = False


REGISTRY: dict[tuple[str, str], ActionSpec] = {}
API_VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08"}


def action(
    service: str,
    name: str,
    *,
    request: type[Req],
    writes: bool = False,
    blocking: bool = True,
    unsigned: bool = False,
    cache_first: bool = False,
) -> Callable[[Callable[["ActionContext", Req], Res]], Callable[["ActionContext", Req], Res]]:
    """Register ``function(ctx, request) -> result`` as ``service``'s action ``name``."""

    def register(function: Callable[["ActionContext", Req], Res]) -> Callable[["ActionContext", Req], Res]:
        if (service, name) in REGISTRY:
            raise ValueError(f"{service}:{name} is registered twice")
        decode = request_decoder(request)

        def handler(ctx: ActionContext, params: Params) -> Res:
            return function(ctx, decode(params))

        REGISTRY[(service, name)] = ActionSpec(
            service, name, handler, request, function, decode, writes, blocking, unsigned, cache_first
        )
        return function

    return register

