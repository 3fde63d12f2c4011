"""Failed-login lockout: slows an attacker per (account, client), never keeps the owner out."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from rest_framework.exceptions import Throttled

from stratus.accounts.models import User
from stratus.lockout import services
from stratus.lockout.models import LoginFailureCounter
from testsupport.processes import PROJECT_DIR, free_port

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(services, "time", fake)
    return fake


@pytest.fixture(params=["redis", "database"])
def store(request: pytest.FixtureRequest, settings: Any) -> str:
    """Both counter stores: Redis (production) and the database (the embedded default)."""
    if request.param == "database":
        settings.REDIS_URL = None
    settings.API_RATE_LIMIT_ANONYMOUS = 0  # the per-address limit is tested elsewhere
    settings.LOGIN_LOCKOUT_FREE_FAILURES = 5
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 1
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 900
    settings.LOGIN_LOCKOUT_ACCOUNT_THRESHOLD = 20
    return request.param


@pytest.fixture
def user(db: Any, settings: Any) -> User:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; not under test
    return User.objects.create_user("owner@example.com", password=PASSWORD)


@pytest.fixture
def login(client: Client) -> Callable[..., Any]:
    def post(email: str, password: str, address: str) -> Any:
        return client.post(
            "/api/v1/auth/login",
            {"email": email, "password": password},
            content_type="application/json",
            REMOTE_ADDR=address,
        )

    return post


def test_backoff_doubles_after_the_free_tries_up_to_the_cap(settings: Any) -> None:
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 1
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 900
    waits = [services.backoff_seconds(failures=n, free=5) for n in range(4, 17)]
    assert waits == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert services.backoff_seconds(failures=10_000, free=5) == 900


def test_an_attacker_is_slowed_and_the_owner_on_another_address_still_gets_in(
    store: str, user: User, login: Callable[..., Any], clock: Clock
) -> None:
    attacker = "203.0.113.66"
    statuses = [login(user.email, f"guess {i}", attacker).status_code for i in range(5)]
    assert statuses == [400] * 5
    locked = login(user.email, "guess 6", attacker)
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/problem+json"
    assert locked["Retry-After"] == "1"
    assert "Too many failed log-ins" in locked.json()["detail"]
    # While locked, not even the right password is checked from that address.
    assert login(user.email, PASSWORD, attacker).status_code == 429
    # The owner, from an address that has not been failing, is not affected.
    assert login(user.email, PASSWORD, "198.51.100.20").status_code == 200

    # The wait doubles with every further failure, up to the cap.
    waits = [int(locked["Retry-After"])]
    for _ in range(14):
        clock.now += waits[-1] + 0.5
        assert login(user.email, "guess", attacker).status_code == 400
        waits.append(int(login(user.email, "guess", attacker)["Retry-After"]))
    waits = waits[1:]
    assert waits[:5] == [2, 4, 8, 16, 32]
    assert waits[-3:] == [900, 900, 900]
    # After the wait the attacker's address gets one more try, no sooner.
    clock.now += 899
    assert login(user.email, "guess", attacker).status_code == 429
    clock.now += 2
    assert login(user.email, PASSWORD, attacker).status_code == 200


def test_an_unknown_email_is_answered_exactly_like_a_known_one(
    store: str, user: User, login: Callable[..., Any], clock: Clock
) -> None:
    def answers(email: str, address: str) -> list[tuple[int, str | None, Any]]:
        result = []
        for _ in range(7):
            response = login(email, "wrong password", address)
            body = response.json()
            result.append(
                (response.status_code, response.get("Retry-After"), (body["detail"], body["status"]))
            )
        return result

    assert answers(user.email, "203.0.113.1") == answers("nobody-here@example.com", "203.0.113.2")


def test_a_success_clears_its_address_and_counters_expire(
    store: str, user: User, login: Callable[..., Any], clock: Clock, settings: Any
) -> None:
    address = "203.0.113.7"
    for _ in range(4):
        assert login(user.email, "typo", address).status_code == 400
    assert login(user.email, PASSWORD, address).status_code == 200
    for _ in range(5):
        assert login(user.email, "typo", address).status_code == 400  # five free tries again
    assert login(user.email, "typo", address).status_code == 429
    if store == "database":
        assert LoginFailureCounter.objects.exists()
        assert not LoginFailureCounter.objects.filter(key__icontains="owner").exists()  # digests only


def test_an_attack_from_many_addresses_leaves_each_one_try_but_never_blocks_a_fresh_one(
    store: str, user: User, login: Callable[..., Any], clock: Clock
) -> None:
    for i in range(20):  # a botnet: one failure from each of 20 addresses
        assert login(user.email, "guess", f"203.0.113.{i}").status_code == 400
    # The account is under attack: a new address gets one try before it has to wait ...
    assert login(user.email, "guess", "203.0.113.100").status_code == 400
    assert login(user.email, "guess", "203.0.113.100").status_code == 429
    # ... and an address that has not failed is still let in with the right password.
    assert login(user.email, PASSWORD, "198.51.100.9").status_code == 200
    # Other accounts are not under attack: five free tries there.
    other = User.objects.create_user("colleague@example.com", password=PASSWORD)
    statuses = [login(other.email, "typo", "203.0.113.100").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def test_ipv6_addresses_of_one_64_count_as_one_client(
    store: str, user: User, login: Callable[..., Any], clock: Clock
) -> None:
    statuses = [login(user.email, "guess", f"2001:db8:1:1::{i + 1:x}").status_code for i in range(6)]
    assert statuses == [400] * 5 + [429]


def test_parallel_tries_cannot_share_the_free_ones(settings: Any, db: Any) -> None:
    settings.LOGIN_LOCKOUT_FREE_FAILURES = 5
    settings.LOGIN_LOCKOUT_ACCOUNT_THRESHOLD = 1000
    admitted: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(20)

    def attempt() -> None:
        start.wait()
        try:
            services.login_attempt_begin(email="owner@example.com", client="203.0.113.5")
            admitted.append(1)
        except Throttled:
            refused.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), len(refused)) == (5, 15)


def test_an_unreachable_redis_fails_open(
    user: User, login: Callable[..., Any], settings: Any, clock: Clock
) -> None:
    settings.API_RATE_LIMIT_ANONYMOUS = 0
    settings.CACHES = {
        "default": {
            "BACKEND": "stratus.platform.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    try:
        statuses = [login(user.email, "guess", "203.0.113.9").status_code for _ in range(7)]
        success = login(user.email, PASSWORD, "203.0.113.9").status_code
    finally:
        caches["default"].close()
    assert statuses == [400] * 7
    assert success == 200


def test_the_admin_log_in_has_the_same_lockout(store: str, user: User, client: Client, clock: Clock) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])

    def admin_login(password: str, address: str) -> Any:
        return client.post(
            "/admin/login/?next=/admin/",
            {"username": user.email, "password": password},
            REMOTE_ADDR=address,
        )

    attacker = "203.0.113.44"
    for _ in range(5):
        refused = admin_login("guess", attacker)
        assert refused.status_code == 200
        assert "Please enter the correct email" in refused.content.decode()
    locked = admin_login(PASSWORD, attacker)
    assert locked.status_code == 200
    assert "Too many failed log-ins for this account from this address; try again in 1 s." in (
        locked.content.decode()
    )
    assert "_auth_user_id" not in client.session
    # Another address gets in; the API and the admin share the counters.
    assert admin_login(PASSWORD, "198.51.100.44").status_code == 302
    client.logout()
    clock.now += 2
    assert admin_login(PASSWORD, attacker).status_code == 302


def test_every_password_check_goes_through_the_lockout() -> None:
    """Every log-in path checks passwords through authenticate_with_lockout(), the only caller of
    authenticate() with a password, which counts the try before checking it."""
    checks = []
    for path in (PROJECT_DIR / "stratus").rglob("*.py"):
        if "tests" in path.relative_to(PROJECT_DIR).parts:
            continue
        text = path.read_text()
        if re.search(r"\bauthenticate\(.*\bpassword=", text):
            checks.append(path.relative_to(PROJECT_DIR).as_posix())
            assert "login_attempt_begin(" in text, f"{path}: checks a password without the lockout"
    assert sorted(checks) == ["stratus/lockout/services.py"]
