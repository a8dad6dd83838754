"""Small key/value facts about the store (e.g. the default account) and change counters."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from opensts.store import schema


class MetaRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, key: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()

    def set_if_absent(self, key: str, value: str) -> str:
        """Set ``key`` unless another process already did; return the value that holds."""
        with self._engine.begin() as conn:
            current = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()
            if current is not None:
                return current
            conn.execute(insert(schema.meta).values(key=key, value=value))
            return value

    def version(self, name: str) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(select(schema.versions.c.value).where(schema.versions.c.name == name)).scalar()
        return int(value or 0)

    def bump_version(self, name: str) -> None:
        table = schema.versions
        with self._engine.begin() as conn:
            changed = conn.execute(update(table).where(table.c.name == name).values(value=table.c.value + 1))
            if changed.rowcount == 0:
                conn.execute(insert(table).values(name=name, value=1))
