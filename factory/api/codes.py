"""One-time codes that let a customer list their own documents: issued, expiring, single-use,
a few attempts each, and no telling whether the customer exists.

Takes, for each request of a code, the client's address; gives a `Challenge` (a random id the
page carries, and a six-digit code made by `pyotp` from a fresh random secret: HOTP, RFC 4226),
whether or not a customer matched: the caller binds the customer later, off the request's
path (`bind`), so the answer and its timing are the same for a stranger. `verify` gives the
customer id of a challenge whose code is right, once; it refuses (`CodeRefused`, with why, for
the audit log) an unknown or expired challenge, a used one, one with no customer, a wrong code,
and every code of a challenge after `MAX_ATTEMPTS` wrong ones. `allow` rate-limits code
requests per client and codes sent per customer (sliding windows), so nobody floods a
customer's phone or mailbox.

Challenges live in this server process only (a restart voids pending codes: the customer asks
for a new one); the secret and the code are never logged, audited or shown.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import pyotp

from factory.errors import AuthenticationError

LIFETIME_SECONDS = 600.0
MAX_ATTEMPTS = 5
DIGITS = 6
#: Code requests one client may make in `WINDOW_SECONDS`, and codes one customer may be sent.
REQUESTS_PER_CLIENT = 10
CODES_PER_CUSTOMER = 3
WINDOW_SECONDS = 900.0
MAX_PENDING = 10_000  # challenges kept at once; the oldest are forgotten first


class CodeRefused(AuthenticationError):
    """The code does not open the list; ``why`` is for the audit log, never for the page."""

    def __init__(self, why: str) -> None:
        super().__init__("the code is not valid")
        self.why = why


@dataclass
class Challenge:
    challenge_id: str
    secret: str = field(repr=False)
    expires: float
    customer_id: str | None = None
    attempts: int = 0
    used: bool = False

    @property
    def code(self) -> str:
        return pyotp.HOTP(self.secret, digits=DIGITS).at(0)


class Window:
    """Events per key in a sliding window (thread-safe, bounded)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """Count one event for ``key``; False (not counted) when it is over the limit."""
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            self._events.move_to_end(key)
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            while len(self._events) > MAX_PENDING:
                self._events.popitem(last=False)
            return True


class CodeBook:
    def __init__(self, lifetime: float = LIFETIME_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self.lifetime = lifetime
        self.max_attempts = max_attempts
        self._pending: OrderedDict[str, Challenge] = OrderedDict()
        self._lock = threading.Lock()
        self.clients = Window(REQUESTS_PER_CLIENT, WINDOW_SECONDS)
        self.customers = Window(CODES_PER_CUSTOMER, WINDOW_SECONDS)

    def issue(self) -> Challenge:
        """A new challenge, bound to no customer yet."""
        challenge = Challenge(secrets.token_urlsafe(24), pyotp.random_base32(),
                              time.monotonic() + self.lifetime)
        with self._lock:
            self._pending[challenge.challenge_id] = challenge
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return challenge

    def bind(self, challenge: Challenge, customer_id: str) -> None:
        with self._lock:
            challenge.customer_id = customer_id

    def verify(self, challenge_id: str, code: str) -> str:
        """The customer id the right code opens, once; `CodeRefused` otherwise."""
        with self._lock:
            challenge = self._pending.get(challenge_id)
            if challenge is None:
                raise CodeRefused("unknown challenge")
            if challenge.used:
                raise CodeRefused("used")
            if time.monotonic() >= challenge.expires:
                self._pending.pop(challenge_id, None)
                raise CodeRefused("expired")
            if challenge.attempts >= self.max_attempts:
                raise CodeRefused("too many attempts")
            challenge.attempts += 1
            given = "".join(code.split())
            if not pyotp.HOTP(challenge.secret, digits=DIGITS).verify(given, 0):
                raise CodeRefused("wrong code")
            if challenge.customer_id is None:  # nobody matched: no code was sent
                raise CodeRefused("wrong code")
            challenge.used = True
            return challenge.customer_id
