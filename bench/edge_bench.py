"""What the production edge costs: TLS on/off and rate limits + brute-force checks on/off, in one run,
plus moto's server as the peer.

    python bench/edge_bench.py [--duration 10] [--rounds 3] [--connections 32]

Starts three OpenSTS servers (``opensts serve``, one worker each, SQLite, audit trail on as by
default): **default** (plain HTTP, rate limits and brute-force checks on with their defaults),
**limits off** (``--rate-limit-* off --brute-force off``) and **TLS** (``--tls-cert/--tls-key``
with a certificate made here; limits on); and moto's server. Then drives them in turns with
``wrk`` replaying fixed signed requests:

* GetCallerIdentity on kept-alive connections;
* AssumeRole on kept-alive connections (the response waits for its audit record);
* GetCallerIdentity with ``Connection: close`` (a new TCP connection, and TLS handshake, per request).

Prints median requests/s, the ratios default / limits off and TLS / plain, and OpenSTS / moto.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from audit_bench import FORM, assume_role_setup  # noqa: E402
from authorize_bench import sign  # noqa: E402
from server_bench import free_port, in_turns, show, stop_all, wait_until_up, wrk  # noqa: E402

VARIANTS = {
    "default": {},
    "limits off": {"OPENSTS_RATE_LIMIT_ACCESS_KEY": "off", "OPENSTS_RATE_LIMIT_SOURCE": "off",
                   "OPENSTS_RATE_LIMIT_UNAUTHENTICATED": "off", "OPENSTS_BRUTE_FORCE": "off"},
    "TLS": {},  # the certificate's paths are added in main()
}


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (wrk does not verify; the checks here trust it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start(name: str, extra: dict[str, str], workdir: Path, account: str, root: tuple[str, str]) -> tuple[str, subprocess.Popen]:  # type: ignore[type-arg]
    port = free_port()
    env = {
        **os.environ, "OPENSTS_DATA_DIR": str(workdir / f"data-{name.replace(' ', '-')}"), "OPENSTS_ACCOUNT_ID": account,
        "OPENSTS_ROOT_ACCESS_KEY_ID": root[0], "OPENSTS_ROOT_SECRET_ACCESS_KEY": root[1],
        "OPENSTS_LOG_LEVEL": "warning", **extra,
    }
    env.pop("OPENSTS_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheme = "https" if "OPENSTS_TLS_CERT" in extra else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    wait_until_up(f"http://127.0.0.1:{port}", process, "/health")  # plain HTTP to a TLS port: a 400, but up
    return url, process


def check(url: str, body: bytes, headers: dict[str, str], ca: Path, expect: str) -> None:
    import httpx

    response = httpx.post(url + "/", content=body, headers=headers, verify=str(ca))
    if response.status_code != 200 or expect not in response.text:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-moto", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    from opensts.identity.ids import new_long_term_access_key_id

    workdir = Path(tempfile.mkdtemp(prefix="opensts-edge-bench-"))
    cert, key = make_certificate(workdir)
    VARIANTS["TLS"] = {"OPENSTS_TLS_CERT": str(cert), "OPENSTS_TLS_KEY": str(key)}
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    gci = b"Action=GetCallerIdentity&Version=2011-06-15"
    try:
        runs: dict[str, dict[str, object]] = {"GetCallerIdentity": {}, "AssumeRole": {}, "GetCallerIdentity, new connection each": {}}
        for name, extra in VARIANTS.items():
            url, process = start(name, extra, workdir, account, root)
            processes.append(process)
            # Set up through the plain twin of a TLS server's port? No: boto3 trusts our certificate.
            os.environ["AWS_CA_BUNDLE"] = str(cert)
            body, creds = assume_role_setup(url, root, f"{name.replace(' ', '-')}-{os.getpid()}")
            check(url, gci, sign(url + "/", gci, root, "sts", FORM), cert, "GetCallerIdentityResult")
            check(url, body, sign(url + "/", body, creds, "sts", FORM), cert, "SessionToken")

            def run(url: str, payload: bytes, creds: tuple[str, str], extra: dict[str, str] | None = None) -> float:
                # Signed afresh for every run: a signature is good for 5 minutes, and a run takes longer.
                headers = {**sign(url + "/", payload, creds, "sts", FORM), **(extra or {})}
                wrk(url + "/", payload, headers, 2, args.connections, workdir)  # warm-up
                return wrk(url + "/", payload, headers, args.duration, args.connections, workdir)

            runs["GetCallerIdentity"][name] = lambda url=url: run(url, gci, root)
            runs["AssumeRole"][name] = lambda url=url, b=body, c=creds: run(url, b, c)
            runs["GetCallerIdentity, new connection each"][name] = (
                lambda url=url: run(url, gci, root, {"Connection": "close"}))
        if not args.no_moto and shutil.which("moto_server"):
            from server_bench import measure as moto_measure

            port = free_port()
            moto = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(moto)
            moto_url = f"http://127.0.0.1:{port}"
            wait_until_up(moto_url, moto, "/moto-api/")
            runs["GetCallerIdentity"]["moto"] = lambda: moto_measure(moto_url, gci.decode(), root[0], root[1], args, workdir)
        print(f"The edge's costs, {args.rounds} rounds of {args.duration}s, {args.connections} connections, "
              f"one worker each, SQLite, audit on, wrk 1 thread, {os.cpu_count()} cores")
        for case, measurements in runs.items():
            results = in_turns(measurements, args.rounds)  # type: ignore[arg-type]
            print(case)
            medians = {name: show(name, figures) for name, figures in results.items()}
            print(f"  {'limits on / off':<34} {medians['default'] / medians['limits off']:>10.2f}")
            print(f"  {'TLS / plain (limits on)':<34} {medians['TLS'] / medians['default']:>10.2f}")
            if "moto" in medians:
                print(f"  {'default / moto':<34} {medians['default'] / medians['moto']:>10.1f}x")
    finally:
        stop_all(processes, workdir)


if __name__ == "__main__":
    main()
