"""The HTTP protocol's own cost per request, without sockets: uvicorn's httptools protocol against
OpenSTS's (``server/serving.py``: header and body timeouts, header limits, connection cap, TLS
sniffing), in one run.

    python bench/protocol_bench.py [--requests 20000] [--rounds 7]

Each protocol is given a transport that discards what is written and fed one kept-alive request at
a time (the head of a botocore GetCallerIdentity: 8 header fields, a 43-byte body), answered by an
ASGI app that writes five bytes; on uvloop, as ``opensts serve`` runs. What is timed is the parser,
the protocol's callbacks, the ASGI cycle and the event loop's turns: everything of a request but the
system calls and the application. The protocols take turns, round by round; prints each one's median
µs per request and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from opensts.server.serving import Limits, LimitedHttpToolsProtocol, ServeConfig

REQUEST = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1:7070\r\nAccept-Encoding: identity\r\n"
    b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
    b"User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7\r\n"
    b"X-Amz-Date: 20261206T093000Z\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/us-east-1/sts/aws4_request, "
    b"SignedHeaders=content-type;host;x-amz-date, Signature=" + b"0" * 64 + b"\r\n"
    b"Content-Length: 43\r\n\r\nAction=GetCallerIdentity&Version=2011-06-15"
)


class DiscardingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.closed = False

    def write(self, data: Any) -> None:
        if bytes(data[:9]) == b"HTTP/1.1 ":  # a response's head (its body is another write)
            self.responses += 1

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 7070)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def per_request(protocol_class: type, requests: int) -> float:
    """µs per request of ``requests`` kept-alive requests on one connection (after 200 to warm up)."""
    config = ServeConfig(hello, limits=Limits(), log_level="critical", access_log=False, http=protocol_class, ws="none")
    config.load()
    protocol = protocol_class(config, ServerState(), {}, asyncio.get_running_loop())
    transport = DiscardingTransport()
    protocol.connection_made(transport)

    async def serve(count: int) -> None:
        for _ in range(count):
            protocol.data_received(REQUEST)
            await asyncio.sleep(0)  # the request's task runs to its end in two turns of the loop
            await asyncio.sleep(0)

    await serve(200)
    started = time.perf_counter()
    await serve(requests)
    elapsed = time.perf_counter() - started
    answered, closed = transport.responses, transport.closed
    protocol.connection_lost(None)
    if answered != requests + 200 or closed:
        raise RuntimeError(f"{protocol_class.__name__}: {answered} responses to {requests + 200} requests")
    return elapsed / requests * 1e6


async def main(args: argparse.Namespace) -> None:
    protocols = {"uvicorn (httptools)": HttpToolsProtocol, "OpenSTS (server/serving.py)": LimitedHttpToolsProtocol}
    timings: dict[str, list[float]] = {name: [] for name in protocols}
    for round_number in range(args.rounds):
        order = list(protocols.items())
        for name, protocol_class in (order if round_number % 2 == 0 else order[::-1]):
            timings[name].append(await per_request(protocol_class, args.requests))
    print(f"The HTTP protocol alone, {args.requests} kept-alive requests x {args.rounds} rounds, µs per request (median)")
    medians = {name: statistics.median(figures) for name, figures in timings.items()}
    for name, median in medians.items():
        rounds = ", ".join(f"{f:.1f}" for f in timings[name])
        print(f"  {name:<30} {median:7.1f}   (rounds: {rounds})")
    ours, theirs = medians["OpenSTS (server/serving.py)"], medians["uvicorn (httptools)"]
    print(f"  {'OpenSTS - uvicorn':<30} {ours - theirs:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    uvloop.run(main(parser.parse_args()))
