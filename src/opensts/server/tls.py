"""The server's TLS certificate: the context new connections use, built from files and replaced when
they change, without a restart or a dropped request.

- **Files** (:class:`TlsFiles`): ``--tls-cert`` (PEM, the certificate followed by any intermediates),
  ``--tls-key`` (PEM, unencrypted), optional ``--tls-client-ca`` (PEM CA bundle: mutual TLS, a client
  certificate is then required and must chain to it).
- **Context** (:func:`load_context`): TLS 1.2 minimum; on TLS 1.2 Mozilla's "intermediate" suites
  (ECDHE/DHE key exchange, AES-GCM or ChaCha20-Poly1305 only: no CBC, SHA-1 or RC4), TLS 1.3's
  suites as OpenSSL has them; no renegotiation, no compression. (Not
  ``ssl.create_default_context(Purpose.CLIENT_AUTH)``: it would trust the system's CA store as issuers
  of client certificates under ``--tls-client-ca``; only the given bundle is trusted here.) A bad file is :class:`TlsError`, one line
  naming the file and OpenSSL's reason; ``serve`` checks this before it listens.
- **Reload** (:class:`ServerTls`, one per worker process): every ``POLL_SECONDS`` (2 s) the files'
  (device, inode, size, mtime) are compared with those last loaded, and on ``SIGHUP``. A change
  builds a whole new context (off the event loop) and, only when that succeeded, makes it the one
  new connections use; established connections keep theirs until they close. Swapping a complete
  context rather than calling ``load_cert_chain`` on the live one means a half-written file or a
  certificate that does not match the key never leaves the server with a mismatched pair: the old
  context stays, a warning is logged, and the next change is tried again. (Writing the new files
  and renaming them into place, as ACME clients do, is the way to rotate: no partial file is read.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("opensts.server")

POLL_SECONDS = 2.0
# TLS 1.2 suites: Mozilla's "intermediate" list (forward-secret AEAD only). TLS 1.3's are OpenSSL's.
TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
])


class TlsError(Exception):
    """The certificate, key or client CA cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    client_ca: str | None = None

    @classmethod
    def resolved(cls, cert: str, key: str, client_ca: str | None) -> "TlsFiles":
        """With absolute paths, so that workers and reloads read the same files whatever their directory."""
        return cls(str(Path(cert).resolve()), str(Path(key).resolve()), str(Path(client_ca).resolve()) if client_ca else None)

    def paths(self) -> tuple[str, ...]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.replace("_", " ").lower()  # KEY_VALUES_MISMATCH: "key values mismatch"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def load_context(files: TlsFiles) -> ssl.SSLContext:
    """A new server context from the files, or TlsError."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_ciphers(TLS12_CIPHERS)
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot use TLS certificate {files.cert} with key {files.key}: {_reason(exc)}") from None
    if files.client_ca:
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot use TLS client CA file {files.client_ca}: {_reason(exc)}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _stamp(files: TlsFiles) -> tuple[tuple[int, int, int, int], ...]:
    """What identifies the files' current contents cheaply: one stat each (a missing file: zeros)."""
    stamps = []
    for path in files.paths():
        try:
            st = os.stat(path)
            stamps.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append((0, 0, 0, 0))
    return tuple(stamps)


class ServerTls:
    """This worker's current TLS context (``context``), reloaded when the files change or on SIGHUP."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._stamp = _stamp(files)
        self.context = load_context(files)
        self._hup: asyncio.Event | None = None
        self.early_hup = False  # a SIGHUP that came before watch() started (see hold_sighup)

    def hold_sighup(self) -> None:
        """From now until watch() runs, a SIGHUP is remembered rather than ending the process (its
        default action): the worker is still starting, and reloads as soon as watch() starts."""

        def remember(signum: int, frame: object) -> None:
            self.early_hup = True

        try:
            signal.signal(signal.SIGHUP, remember)
        except ValueError:  # not the main thread (an embedded server): SIGHUP is not ours to handle
            pass

    async def reload(self, reason: str) -> bool:
        """Build a context from the files now; use it if it loads. True if it did."""
        stamp = _stamp(self.files)
        try:
            context = await asyncio.to_thread(load_context, self.files)
        except TlsError as exc:
            self._stamp = stamp  # retried when the files change again (or on SIGHUP)
            log.warning("TLS certificate not reloaded (%s); still serving the previous one: %s", reason, exc)
            return False
        self._stamp = stamp
        self.context = context  # new handshakes use it; established connections keep theirs
        log.info("TLS certificate reloaded (%s)", reason)
        return True

    async def watch(self) -> None:
        """Reload on a change of the files (polled) or SIGHUP, until cancelled."""
        loop = asyncio.get_running_loop()
        self._hup = asyncio.Event()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._hup.set)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not the main thread
            log.warning("SIGHUP cannot be handled here: TLS certificates are reloaded on file changes only")
        if self.early_hup:  # checked after the handler is in place: no SIGHUP falls between
            self._hup.set()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._hup.wait(), POLL_SECONDS)
                except asyncio.TimeoutError:
                    pass
                try:
                    if self._hup.is_set():
                        self._hup.clear()
                        await self.reload("SIGHUP")
                    elif _stamp(self.files) != self._stamp:
                        await self.reload("the files changed")
                except Exception:  # never let the watcher die: the next change is tried again
                    log.warning("TLS certificate reload failed", exc_info=True)
        finally:
            try:
                loop.remove_signal_handler(signal.SIGHUP)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # shutting down: a SIGHUP must not end it early
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                pass


_active: ServerTls | None = None


def activate(files: TlsFiles) -> ServerTls:
    """This process's ServerTls (made once: the protocol and the reload task share it)."""
    global _active
    if _active is None or _active.files != files:
        _active = ServerTls(files)
    return _active


def active() -> ServerTls | None:
    return _active
