"""(being written)"""

from __future__ import annotations

from opensts.server.console.site import Console


def register(console: Console) -> None:
    pass
