"""What every console answer carries, and the console's cookies.

- ``Content-Security-Policy``: scripts, styles and images from this origin only, no inline script,
  forms post only here, and no framing (``frame-ancestors 'none'``; ``X-Frame-Options: DENY`` for
  older browsers);
- ``Referrer-Policy: same-origin``: the federation endpoint's URLs carry sign-in tokens, and no other
  site ever sees a console URL (``no-referrer`` would make browsers send ``Origin: null``);
- ``Cache-Control: no-store`` on pages: they show account data;
- the session cookie: ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` when the
  request came over TLS (directly or through a trusted proxy), expiring with the session;
- the sign-in form's CSRF cookie (double submit): a site cannot make a browser sign in to the
  attacker's account, since it can neither read nor set this cookie.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from opensts.console.sessions import COOKIE_NAME

SIGNIN_CSRF_COOKIE = "opensts-console-signin"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def harden(response: Response, cache: str = "no-store") -> Response:
    for name, value in _HEADERS.items():
        response.headers[name] = value
    response.headers["Cache-Control"] = cache
    return response


def redirect(location: str) -> Response:
    return harden(RedirectResponse(location, 303))


def _secure(request: Request) -> bool:
    return request.scope.get("scheme") == "https"


def set_session_cookie(request: Request, response: Response, session_id: str, expires_at: datetime, now: datetime) -> None:
    response.set_cookie(
        COOKIE_NAME, session_id, max_age=max(0, int((expires_at - now).total_seconds())), path="/console",
        secure=_secure(request), httponly=True, samesite="strict",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/console", secure=_secure(request), httponly=True, samesite="strict")


def new_signin_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_signin_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGNIN_CSRF_COOKIE, token, max_age=3600, path="/console/signin", secure=_secure(request), httponly=True,
        samesite="strict",
    )


def signin_csrf_matches(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(SIGNIN_CSRF_COOKIE)
    if not cookie or not sent:
        return False
    return hmac.compare_digest(cookie.encode(), sent.encode("utf-8", "replace"))


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another origin (``Origin`` header)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by every browser for every form; the CSRF token still decides
    # The host only: a TLS-terminating proxy may leave the scheme this server sees at http.
    return urlsplit(origin).netloc == request.headers.get("host")
