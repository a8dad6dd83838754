"""Compact UTF-8 JSON for the token payloads (no spaces, non-ASCII kept as UTF-8)."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

_FALLBACK = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(doc: Any) -> bytes:
    try:
        return to_json(doc)  # pydantic-core (a dependency already): a quarter of json's time
    except PydanticSerializationError:  # lone surrogates, which only json with surrogatepass keeps
        return _FALLBACK(doc).encode("utf-8", "surrogatepass")
