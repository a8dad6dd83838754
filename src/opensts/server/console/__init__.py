"""The web console's HTTP edge.

``site.py`` is the frame (how a page is declared; sessions, CSRF, rendering, errors),
``security.py`` the headers and cookies, ``api_calls.py`` the signed API calls pages are made of.
Each area of the console is a module with ``register(console)``: :data:`AREAS` lists them.
"""

from __future__ import annotations

from opensts.server.console import (
    audit_pages, inline_policy_pages, role_pages, signin_pages, simulator_pages, user_pages,
)
from opensts.server.console.site import Console

AREAS = (signin_pages, user_pages, role_pages, inline_policy_pages, simulator_pages, audit_pages)


def build_console() -> Console:
    console = Console()
    for area in AREAS:
        area.register(console)
    return console
