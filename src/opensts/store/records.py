"""Plain records the repositories return (decoupled from SQLAlchemy rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """A long-term access key with its owner: what authentication needs for one key id."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    status: str
    account_id: str
    created_at: datetime
    user_id: str | None = None  # None: a root key
    user_name: str | None = None
    user_path: str | None = None

    @property
    def is_root(self) -> bool:
        return self.user_id is None

    @property
    def active(self) -> bool:
        return self.status == "Active"
