"""The console's fixtures: ``chrome`` (a real browser, tests/console/browser.py).

Tests marked ``browser`` run on the SQLite server only: what the browser sees does not depend on
the store, and the HTTP tests beside them run on both stores."""

from __future__ import annotations

import pytest

from tests.console.browser import chrome  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def _browser_tests_on_sqlite(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("browser") is None or "server" not in request.fixturenames:
        return
    if request.getfixturevalue("server").backend != "sqlite":
        pytest.skip("browser tests run against the SQLite server (the HTTP tests cover PostgreSQL)")
