"""Settings, from command-line flags and ``OPENSTS_*`` environment variables (flags win)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7070
DEFAULT_DATA_DIR = "./opensts-data"


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None  # None: SQLite file in data_dir
    workers: int = 1
    account_id: str | None = None
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    # Regions accepted in SigV4 credential scopes; empty means any (reference §1, ours).
    allowed_regions: tuple[str, ...] = ()
    # OpenSTS's own SAML audience/recipient URLs, accepted besides AWS's (comma-separated).
    saml_audiences: tuple[str, ...] = ()
    log_level: str = "info"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'opensts.db').resolve()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from the environment, then apply non-None overrides (the CLI flags)."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"OPENSTS_{name}")
            return value if value not in (None, "") else None

        regions = get("ALLOWED_REGIONS")
        saml_audiences = get("SAML_AUDIENCE")
        settings = cls(
            host=get("HOST") or DEFAULT_HOST,
            port=int(get("PORT") or DEFAULT_PORT),
            data_dir=Path(get("DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=get("DATABASE_URL"),
            workers=int(get("WORKERS") or 1),
            account_id=get("ACCOUNT_ID"),
            root_access_key_id=get("ROOT_ACCESS_KEY_ID"),
            root_secret_access_key=get("ROOT_SECRET_ACCESS_KEY"),
            master_key=get("MASTER_KEY"),
            allowed_regions=tuple(r.strip() for r in regions.split(",") if r.strip()) if regions else (),
            saml_audiences=tuple(a.strip() for a in saml_audiences.split(",") if a.strip()) if saml_audiences else (),
            log_level=get("LOG_LEVEL") or "info",
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(given["data_dir"])
        return replace(settings, **given)
