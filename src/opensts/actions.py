"""The registry of API actions, and what each action is handed.

STS and IAM modules register their actions here with :func:`action`; the HTTP edge looks them up
by (service, Action). An action receives the decoded Query parameters and an
:class:`ActionContext`, builds its typed request, and returns a typed result (a dataclass encoded
by the edge) or raises an :class:`~opensts.errors.AwsError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from opensts.identity.principal import Caller
    from opensts.runtime import Runtime

Params = dict[str, Any]
Handler = Callable[["ActionContext", Params], Any]


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
    handler: Handler
    blocking: bool  # True: touches the store, so the edge runs it in a worker thread
    unsigned: bool  # True: may be called without a signature (web identity, SAML)
    # True: try on the event loop first; mostly served from caches, it moves to a worker thread
    # only when it reaches the store (see opensts.store.db.StoreAccessDeferred). Whatever the
    # handler does before its first store access must be safe to do twice.
    cache_first: bool = False


REGISTRY: dict[tuple[str, str], ActionSpec] = {}
API_VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08"}


def action(
    service: str, name: str, *, blocking: bool = True, unsigned: bool = False, cache_first: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[(service, name)] = ActionSpec(service, name, handler, blocking, unsigned, cache_first)
        return handler

    return register


def load_actions() -> dict[tuple[str, str], ActionSpec]:
    """Import every action module so that its registrations run."""
    import opensts.sts  # noqa: F401
    import opensts.iam  # noqa: F401

    return REGISTRY
