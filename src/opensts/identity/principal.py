"""Who made a request: the authenticated caller, as every action sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opensts.tokens.session_token import SessionClaims


class PrincipalKind(str, Enum):
    """The value of ``aws:PrincipalType`` for each kind of caller."""

    ROOT = "Account"
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal.

    ``arn`` is what GetCallerIdentity shows; ``user_id`` its UserId. For temporary credentials,
    ``session`` holds the verified session-token claims (the source role/user, MFA facts, tags,
    session policies). ``entity_id`` is the stable id (AIDA/AROA) of the user or role behind the
    caller, or None for root.
    """

    kind: PrincipalKind
    account_id: str
    arn: str
    user_id: str
    access_key_id: str
    entity_id: str | None = None
    user_name: str | None = None
    session: "SessionClaims | None" = field(default=None, compare=False)

    @property
    def is_root(self) -> bool:
        return self.kind is PrincipalKind.ROOT and self.session is None

    @property
    def is_temporary(self) -> bool:
        return self.session is not None
