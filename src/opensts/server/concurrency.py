"""Running blocking work without blocking the event loop, and without a thread when a cache answers."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from starlette.concurrency import run_in_threadpool

from opensts.store.db import StoreAccessDeferred, run_without_store

T = TypeVar("T")


async def cache_first(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on the event loop; if it reaches for the store, run it again in a worker thread.

    Worth it when ``fn`` is mostly answered from caches (a thread hop costs more than the work).
    Whatever ``fn`` does before its first store access must be safe to do twice.
    """
    try:
        return run_without_store(fn, *args)  # a plain call: a generator context manager costs ~2 us
    except StoreAccessDeferred:
        return await run_in_threadpool(fn, *args)
