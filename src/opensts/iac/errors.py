"""The one error of IAM as code, apart from the format's heavy imports (YAML, JSON Schema), so that
every ``opensts`` command can name it without paying for them."""

from __future__ import annotations


class IacError(Exception):
    """A file (or a plan) that cannot be used; ``str()`` is one line, with the field's path."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
