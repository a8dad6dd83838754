"""Failed signatures and MFA codes slow down per address, key id and device (brute_force.py), and the
counts hold across workers and nodes (they are kept in the store).

Over HTTP the server trusts 127.0.0.1 as a proxy, so each test speaks from the addresses it names in
``X-Forwarded-For`` (the attacker's and the user's), as clients behind a reverse proxy do.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pyotp
import pytest
from botocore.exceptions import ClientError

from opensts.brute_force import FAILURE_WRITES_PER_SECOND, FREE_FAILURES, BruteForceGuard
from opensts.errors import Throttling
from opensts.store.auth_failures import AuthFailureRepository
from opensts.store.db import Database, create_store_engine
from opensts.store.migrate import upgrade_to_head
from tests.conftest import BACKENDS, Credentials, ServerInfo, random_name, start_server, stop_server
from tests.iam.conftest import make_user

ATTACKER = "203.0.113.9"
USER = "198.51.100.20"


def from_address(client: Any, address: str) -> Any:
    """The boto3 client, its requests arriving through the trusted proxy from ``address``."""
    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = address

    client.meta.events.register("before-send.*.*", add_header)
    return client


def error_code(call: Any) -> str:
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


@pytest.fixture(scope="module", params=BACKENDS)
def proxied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_server(tmp_path_factory.mktemp("brute"), request.param, {"OPENSTS_TRUSTED_PROXIES": "127.0.0.1/32"})
    yield info
    stop_server(info)


def enabled_device(server: ServerInfo, user: str) -> tuple[str, pyotp.TOTP]:
    iam = server.client("iam")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))["VirtualMFADevice"]
    serial, totp = device["SerialNumber"], pyotp.TOTP(device["Base32StringSeed"].decode("ascii"))
    now = time.time()
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    return serial, totp


def most_evaluated(free: int, seconds: float) -> int:
    """The most failures a subject can have evaluated in ``seconds``: the free ones, then one per
    block of 1, 2, 4... seconds (and one more per process that has not yet learnt of the block)."""
    blocks, waited = 0, 0.0
    while waited <= seconds:
        waited += 2.0 ** blocks
        blocks += 1
    return free + blocks + 1


def wrong_code(totp: pyotp.TOTP) -> str:
    """A code that is valid for none of the steps the server accepts now."""
    now = time.time()
    valid = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in valid)


def test_a_stolen_key_without_the_code_is_stopped_and_the_user_is_not(proxied: ServerInfo) -> None:
    """The attacker holds the user's access key and secret but not the device: after 3 wrong codes
    its attempts are refused unseen (Throttling), the right code included; the user, from another
    address, signs in with the right code meanwhile."""
    name, creds = make_user(proxied)
    serial, totp = enabled_device(proxied, name)
    attacker = from_address(proxied.client("sts", creds), ATTACKER)
    started = time.monotonic()
    outcomes = [
        error_code(lambda: attacker.get_session_token(SerialNumber=serial, TokenCode=wrong_code(totp)))
        for _ in range(25)
    ]
    evaluated = outcomes.count("AccessDenied")
    assert evaluated <= most_evaluated(FREE_FAILURES["mfa@"], time.monotonic() - started), outcomes
    assert set(outcomes) == {"AccessDenied", "Throttling"}
    # (Not "the last of the 25 was refused": on a loaded machine a block of 1, 2, 4... s can run out
    # between two attempts, and that attempt is rightly evaluated, and blocks for twice as long.)
    # Blocked: even the right code is not looked at from the attacker's address.
    assert error_code(lambda: attacker.get_session_token(SerialNumber=serial, TokenCode=totp.at(time.time() + 30))) == "Throttling"
    user = from_address(proxied.client("sts", creds), USER)
    # The next step's code (the current one was used to enable the device; the server allows ±1 step).
    session = user.get_session_token(SerialNumber=serial, TokenCode=totp.at(time.time() + 30))["Credentials"]
    assert session["SessionToken"]


def test_blocks_end(proxied: ServerInfo) -> None:
    """A block ends; the count does not (the next failure blocks again at once). How the delay
    grows is tested in process, where time stands still (test_delays_double_up_to_the_cap)."""
    name, creds = make_user(proxied)
    serial, totp = enabled_device(proxied, name)
    attacker = from_address(proxied.client("sts", creds), "203.0.113.10")

    def attempt() -> str:
        return error_code(lambda: attacker.get_session_token(SerialNumber=serial, TokenCode=wrong_code(totp)))

    outcomes = [attempt() for _ in range(FREE_FAILURES["mfa@"] + 1)]
    assert outcomes == ["AccessDenied"] * len(outcomes)
    try:
        proxied.set_clock_offset(240)  # past the block, within the memory (and the 5-minute signing skew)
        assert attempt() == "AccessDenied"
        assert "Throttling" in [attempt() for _ in range(3)]
    finally:
        proxied.set_clock_offset(0)


def fail_until_blocked_for_seconds(attempt: Any, free: int, seconds: float) -> list[str]:
    """Attempt (waiting out blocks) until a failure has blocked the subject for ``seconds`` or more:
    the block then outlasts what a test does next, however slow the machine."""
    beyond = 1
    while 2.0 ** (beyond - 1) < seconds:
        beyond += 1
    outcomes: list[str] = []
    for _ in range(200):
        outcomes.append(attempt())
        if outcomes.count(outcomes[0]) >= free + beyond:
            return outcomes
        if outcomes[-1] == "Throttling":
            time.sleep(0.5)
    raise AssertionError(outcomes)


def test_failed_signatures_are_slowed_but_the_key_keeps_working(proxied: ServerInfo) -> None:
    """Bad signatures for a key from one address: after 10, that address's failures are answered
    Throttling (no more SignatureDoesNotMatch to learn from), yet a valid signature is still served,
    from there and from anywhere: signatures cannot be guessed, so nobody is locked out."""
    name, creds = make_user(proxied)
    attacker = from_address(proxied.client("sts", Credentials(creds.access_key_id, "x" * 40)), "203.0.113.11")
    same_address = from_address(proxied.client("sts", creds), "203.0.113.11")
    elsewhere = from_address(proxied.client("sts", creds), USER)
    outcomes = fail_until_blocked_for_seconds(lambda: error_code(attacker.get_caller_identity), FREE_FAILURES["key"], 8)
    assert outcomes[: FREE_FAILURES["key"] + 1] == ["SignatureDoesNotMatch"] * (FREE_FAILURES["key"] + 1)
    assert error_code(attacker.get_caller_identity) == "Throttling"
    assert same_address.get_caller_identity()["Arn"].endswith(":user/" + name)
    assert elsewhere.get_caller_identity()["Arn"].endswith(":user/" + name)


def test_unknown_key_ids_block_the_address(proxied: ServerInfo) -> None:
    """Scanning for key ids from one address: after 30 failures its failures say Throttling, so
    whether a key id exists (InvalidClientTokenId vs SignatureDoesNotMatch) is no longer told."""
    address = "203.0.113.12"
    root = from_address(proxied.client("sts"), address)
    unknown = iter(range(10_000))

    def attempt() -> str:
        key = Credentials(f"AKIA{next(unknown):016d}", "y" * 40)
        return error_code(from_address(proxied.client("sts", key), address).get_caller_identity)

    outcomes = fail_until_blocked_for_seconds(attempt, FREE_FAILURES["ip"], 8)
    assert outcomes[: FREE_FAILURES["ip"] + 1] == ["InvalidClientTokenId"] * (FREE_FAILURES["ip"] + 1)
    assert attempt() == "Throttling"
    assert error_code(from_address(proxied.client("sts", Credentials(proxied.root.access_key_id, "z" * 40)),
                                   address).get_caller_identity) == "Throttling"
    assert root.get_caller_identity()["Account"] == proxied.account_id  # valid signatures still served


def test_codes_for_someone_elses_device_do_not_block_it(proxied: ServerInfo) -> None:
    """Another user naming the victim's device in GetSessionToken is refused without the code being
    looked at, and counts for the address only: the victim's device is not blocked."""
    victim, victim_creds = make_user(proxied)
    serial, totp = enabled_device(proxied, victim)
    _, mallory = make_user(proxied)
    attacker = from_address(proxied.client("sts", mallory), "203.0.113.13")
    outcomes = [error_code(lambda: attacker.get_session_token(SerialNumber=serial, TokenCode=wrong_code(totp)))
                for _ in range(FREE_FAILURES["mfa"] + 2)]
    assert set(outcomes) <= {"AccessDenied", "Throttling"}
    user = from_address(proxied.client("sts", victim_creds), USER)
    assert user.get_session_token(SerialNumber=serial, TokenCode=totp.at(time.time() + 30))["Credentials"]


def test_loopback_is_exempt_by_default(server: ServerInfo) -> None:
    """The shared server trusts no proxy: every test speaks from 127.0.0.1, which is never blocked
    (an untrusted local proxy would make everyone look like it)."""
    forged = server.client("sts", Credentials(server.root.access_key_id, "z" * 40))
    for _ in range(FREE_FAILURES["ip"] + 5):
        assert error_code(forged.get_caller_identity) == "SignatureDoesNotMatch"
    assert server.client("sts").get_caller_identity()["Account"] == server.account_id


def test_counts_hold_across_two_workers(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two worker processes share the counts: an attacker reaching both gets at most one extra
    evaluated attempt per worker once the address is blocked."""
    info = start_server(tmp_path_factory.mktemp("brute2"), "sqlite",
                        {"OPENSTS_TRUSTED_PROXIES": "127.0.0.1/32", "OPENSTS_WORKERS": "2"})
    try:
        name, creds = make_user(info)
        serial, totp = enabled_device(info, name)
        outcomes = []
        started = time.monotonic()
        for _ in range(30):  # a new connection each time: the kernel spreads them over both workers
            client = from_address(info.client("sts", creds), ATTACKER)
            outcomes.append(error_code(lambda: client.get_session_token(SerialNumber=serial, TokenCode=wrong_code(totp))))
        # The MFA check reads the store before every code: exact across workers.
        assert outcomes.count("AccessDenied") <= most_evaluated(FREE_FAILURES["mfa@"], time.monotonic() - started), outcomes
        assert outcomes[-1] == "Throttling"
    finally:
        stop_server(info)


# --- the store and the policy, in process -----------------------------------------------------


def test_two_nodes_count_the_same_attempts(database_url: str) -> None:
    upgrade_to_head(database_url)
    engines = [create_store_engine(database_url), create_store_engine(database_url)]
    try:
        guards = [BruteForceGuard(AuthFailureRepository(Database(engine)), exempt=()) for engine in engines]
        subjects = guards[0].mfa_subjects("arn:aws:iam::123456789012:mfa/d", "192.0.2.1", True)
        now = 1_000_000.0
        for n in range(FREE_FAILURES["mfa@"] + 1):  # 3 free, the 4th admitted and blocks for 1 s
            guards[n % 2].begin_attempt(subjects, now)
        for guard in guards:
            with pytest.raises(Throttling):
                guard.begin_attempt(subjects, now + 0.5)
        guards[1].begin_attempt(subjects, now + 1.01)  # over: admitted (the 5th), blocks for 2 s
        guards[1].forgive(subjects)  # ...and it was the right code: the count goes back to 4
        with pytest.raises(Throttling):  # 4 > 3 free: the block stands until it ends
            guards[0].begin_attempt(subjects, now + 1.02)
        guards[0].begin_attempt(subjects, now + 3.02)  # the 5th again, not the 6th: blocks for 2 s
        with pytest.raises(Throttling):
            guards[0].begin_attempt(subjects, now + 4.5)
        assert guards[0].prune(now + 5) == 0
        assert guards[0].prune(now + 2 * guards[0].max_delay + 4) == len(subjects)
    finally:
        for engine in engines:
            engine.dispose()


def test_concurrent_attempts_cannot_all_pass_the_check(database_url: str) -> None:
    """The check and the count are one transaction: 40 attempts at once, from two nodes' worth of
    threads, get no more codes looked at than one after the other would."""
    upgrade_to_head(database_url)
    engines = [create_store_engine(database_url), create_store_engine(database_url)]
    try:
        guards = [BruteForceGuard(AuthFailureRepository(Database(engine)), exempt=()) for engine in engines]
        subjects = guards[0].mfa_subjects("arn:aws:iam::123456789012:mfa/race", "192.0.2.2", True)
        now = time.time()

        def attempt(n: int) -> bool:
            try:
                guards[n % 2].begin_attempt(subjects, now)
            except Throttling:
                return False
            return True

        with ThreadPoolExecutor(max_workers=16) as pool:
            admitted = sum(pool.map(attempt, range(40)))
        assert admitted == FREE_FAILURES["mfa@"] + 1
    finally:
        for engine in engines:
            engine.dispose()


def test_signature_failures_are_written_within_a_budget() -> None:
    """A flood of bad signatures is not a flood of store writes: past the process's budget, failures
    are answered Throttling without a write (closed, not open)."""
    class Counting:
        writes = 0

        def record(self, *_: Any) -> dict[str, float]:
            Counting.writes += 1
            return {}

    guard = BruteForceGuard(Counting(), exempt=())  # type: ignore[arg-type]
    results = [guard.count_failure(("ip:192.0.2.9",), 0.0) for _ in range(1000)]
    assert results.count(False) > 0
    assert Counting.writes == results.count(True) <= 2 * FAILURE_WRITES_PER_SECOND + 50


def test_delays_double_up_to_the_cap() -> None:
    guard = BruteForceGuard(None, max_delay=900)
    free = FREE_FAILURES["mfa@"]
    delays = [guard.delay("mfa:d@192.0.2.1", free + n) for n in range(0, 14)]
    assert delays[:5] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert delays[-1] == 900.0 and max(delays) == 900.0
    assert guard.delay("mfa:d@192.0.2.1", 10**9) == 900.0


def test_address_subjects() -> None:
    guard = BruteForceGuard(None)
    assert guard.address_subject("192.0.2.1") == "ip:192.0.2.1"
    assert guard.address_subject("2001:db8:1:2:3:4:5:6") == "ip:2001:db8:1:2::/64"
    assert guard.address_subject("::ffff:192.0.2.1") == "ip:192.0.2.1"
    assert guard.address_subject("127.0.0.1") is None and guard.address_subject("::1") is None
    assert guard.address_subject("not an address") is None and guard.address_subject(None) is None
    assert BruteForceGuard(None, exempt=()).address_subject("127.0.0.1") == "ip:127.0.0.1"
    key = "AKIA" + "X" * 500
    assert all(len(s) <= 320 for s in guard.signature_subjects(key, "2001:db8::1", True))
    assert guard.signature_subjects(key, "192.0.2.1", False) == ("ip:192.0.2.1",)
    assert guard.mfa_subjects("arn:aws:iam::1:mfa/d", "192.0.2.1", False) == ("ip:192.0.2.1",)
    assert guard.mfa_subjects("arn:aws:iam::1:mfa/d", "127.0.0.1", True) == ("mfa:arn:aws:iam::1:mfa/d",)
