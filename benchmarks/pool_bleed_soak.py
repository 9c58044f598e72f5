"""Pool-bleed soak: a long interleaving of many tenants' and apps' requests, good and bad, on a
small connection pool, every response checked for anybody else's data.

    python benchmarks/pool_bleed_soak.py [--requests N] [--quick] [--json] [--workers N]
    (default: 1,000,000 requests; --quick: 20,000)

The real service (`tenantry.web:create_app` under uvicorn, `--workers` processes, three runtime
connections each) serves 16 tenants x 2 apps x 2 users. Every user owns chats whose titles name
their owner (`owner:<tenant>/<app>/<user>`). Concurrent clients pick a user and a request at
random:

- their own identity (`/me`) and their chats (lists and single reads): every owner mark in the
  answer must be theirs;
- a new chat (the answer must be theirs) and a new message in it;
- another user's chat by id, from every other tenant, app or user: 404, and no mark;
- failures: a forged or foreign-app token (401), an invalid body (422), a message to a chat that
  does not exist and a chat naming another tenant's personality, each failing inside its
  transaction (404), with the connection going straight back to the pool.

A response carrying any owner mark other than the caller's is a leak; any 5xx, or a request
left without an answer (a dropped connection), is an error. The run fails (exit 1) on any.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import (
    ROLES,
    free_port,
    fresh_database,
    machine,
    role_url,
    stop,
    wait_ready,
)
from benchmarks._wire import Answer, Connection, Dropped

TENANTS = 16
APPS = ("thinktank", "launchboard")
USERS_PER_APP = 2
CHATS_PER_USER = 3
CLIENTS = 32
PASSWORD = "soak-passphrase-correct-horse"
REFRESH_AFTER_SECONDS = 600
MARK = re.compile(r"owner:([a-z0-9-]+/[a-z]+/u[0-9]+)")


@dataclass
class User:
    tenant: str
    app: str
    name: str
    token: str = ""
    signed_in_at: float = 0.0
    chats: list[str] = field(default_factory=list)

    @property
    def login(self) -> dict[str, str]:
        email = f"{self.name}.{self.app}@{self.tenant}.example.com"
        return {"tenant": self.tenant, "email": email, "password": PASSWORD}

    async def sign_in(self, api: Connection) -> None:
        answer = await api.post(f"/v1/apps/{self.app}/auth/login", json=self.login)
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.signed_in_at = time.monotonic()

    @property
    def owner(self) -> str:
        return f"{self.tenant}/{self.app}/{self.name}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Requests that got no answer at all (a dropped connection): counted, never retried.
    transport_errors: list[str] = field(default_factory=list)

    def count(self, kind: str, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def serve_environment(admin: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TENANTRY_DATABASE_URL": admin,
        "TENANTRY_ROLE_PREFIX": ROLES.prefix,
        "TENANTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # A small pool: every connection serves many tenants in turn.
        "TENANTRY_POOL_MIN_SIZE": "3",
        "TENANTRY_POOL_MAX_SIZE": "3",
        "TENANTRY_ACCESS_TOKEN_TTL_SECONDS": "900",
        "TENANTRY_LOG_LEVEL": "WARNING",
    }


def seed_tenants(admin: str) -> list[str]:
    """The tenants, created as the platform (the control plane's own path is not under test)."""
    from tenantry.kit.context import ContextSigner
    from tenantry.kit.migrate import read_signing_key

    with psycopg.connect(admin) as conn:
        conn.execute(f'SET ROLE "{ROLES.owner}"')
        signer = ContextSigner(read_signing_key(conn), 300)
    slugs = [f"soak-{n}" for n in range(TENANTS)]
    with psycopg.connect(role_url(admin, ROLES.platform)) as conn:
        conn.execute("SELECT set_config('tenantry.context', %s, true)", [signer.sign_platform()])
        for slug in slugs:
            tenant = conn.execute(
                "INSERT INTO tenantry.tenants (id, slug, name, status)"
                " VALUES (gen_random_uuid(), %s, %s, 'active') RETURNING id",
                [slug, slug],
            ).fetchone()
            assert tenant is not None
            conn.execute(
                "INSERT INTO tenantry.tenant_apps (tenant_id, app_id)"
                " SELECT %s, id FROM tenantry.apps WHERE slug = ANY(%s)",
                [tenant[0], list(APPS)],
            )
    return slugs


async def seed_users(api: Connection, slugs: list[str]) -> list[User]:
    users = [
        User(slug, app, f"u{n}") for slug in slugs for app in APPS for n in range(USERS_PER_APP)
    ]
    for user in users:
        signup = await api.post(f"/v1/apps/{user.app}/auth/signup", json=user.login)
        signup.raise_for_status()
        await user.sign_in(api)
        for n in range(CHATS_PER_USER):
            chat = await api.post(
                f"/v1/apps/{user.app}/chats",
                headers=user.auth,
                json={"title": f"owner:{user.owner} #{n}"},
            )
            chat.raise_for_status()
            user.chats.append(chat.json()["id"])
    return users


@dataclass(frozen=True)
class Turn:
    """One request: who asks, whose data it may try to reach, and where results go."""

    api: Connection
    user: User
    other: User
    rng: random.Random
    tally: Tally


def check(tally: Tally, kind: str, user: User, response: Answer) -> None:
    tally.count(kind, response.status_code)
    foreign = {mark for mark in MARK.findall(response.text) if mark != user.owner}
    if foreign:
        tally.leaks.append(f"{kind} as {user.owner}: {sorted(foreign)[:3]}")
    if response.status_code >= 500:
        tally.errors.append(f"{kind} as {user.owner}: {response.status_code} {response.text[:200]}")


def expect(tally: Tally, kind: str, user: User, response: Answer, *wanted: int) -> None:
    check(tally, kind, user, response)
    if response.status_code not in wanted:
        tally.errors.append(
            f"{kind} as {user.owner}: {response.status_code}, expected {wanted}: "
            f"{response.text[:200]}"
        )


async def own_identity(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    expect(tally, "me", user, await api.get(f"/v1/apps/{user.app}/me", headers=user.auth), 200)


async def own_chats(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    listed = await api.get(f"/v1/apps/{user.app}/chats", headers=user.auth, params={"limit": 10})
    expect(tally, "list chats", user, listed, 200)


async def own_chat(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    read = await api.get(
        f"/v1/apps/{user.app}/chats/{turn.rng.choice(user.chats)}", headers=user.auth
    )
    expect(tally, "read own chat", user, read, 200)


async def new_chat(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    base = f"/v1/apps/{user.app}/chats"
    made = await api.post(base, headers=user.auth, json={"title": f"owner:{user.owner} new"})
    expect(tally, "create chat", user, made, 201)
    if made.status_code == 201:
        message = await api.post(
            f"{base}/{made.json()['id']}/messages",
            headers=user.auth,
            json={"role": "user", "content": f"owner:{user.owner} hello"},
        )
        expect(tally, "append message", user, message, 201)


async def foreign_chat(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    # Another user's chat by id, through this user's own app path.
    stolen = await api.get(
        f"/v1/apps/{user.app}/chats/{turn.rng.choice(turn.other.chats)}", headers=user.auth
    )
    expect(tally, "read foreign chat", user, stolen, 404)


async def forged_token(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    forged = await api.get(f"/v1/apps/{user.app}/chats", headers={"Authorization": "Bearer forged"})
    expect(tally, "forged token", user, forged, 401)


async def other_app(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    foreign_app = "launchboard" if user.app == "thinktank" else "thinktank"
    crossed = await api.get(f"/v1/apps/{foreign_app}/chats", headers=user.auth)
    expect(tally, "token of another app", user, crossed, 401, 403)


async def invalid_body(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    invalid = await api.post(
        f"/v1/apps/{user.app}/chats", headers=user.auth, json={"title": 7, "x": 1}
    )
    expect(tally, "invalid body", user, invalid, 422)


async def message_into_foreign_chat(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    # Fails inside the transaction: the chat is not there for this caller.
    missing = await api.post(
        f"/v1/apps/{user.app}/chats/{turn.rng.choice(turn.other.chats)}/messages",
        headers=user.auth,
        json={"role": "user", "content": "into someone else's chat"},
    )
    expect(tally, "message into a foreign chat", user, missing, 404)


async def foreign_personality(turn: Turn) -> None:
    api, user, tally = turn.api, turn.user, turn.tally
    # An id that exists, in another scope, named as a reference: refused inside the transaction.
    crossed = await api.post(
        f"/v1/apps/{user.app}/chats",
        headers=user.auth,
        json={
            "title": f"owner:{user.owner} x",
            "personality_id": turn.rng.choice(turn.other.chats),
        },
    )
    expect(tally, "foreign personality", user, crossed, 404, 422)


# (weight, request): about half reads of one's own data, a third attacks and failures.
SCENARIOS = (
    (15, own_identity),
    (20, own_chats),
    (15, own_chat),
    (10, new_chat),
    (12, foreign_chat),
    (6, forged_token),
    (5, other_app),
    (6, invalid_body),
    (6, message_into_foreign_chat),
    (5, foreign_personality),
)


async def one(api: Connection, users: list[User], rng: random.Random, tally: Tally) -> None:
    user = rng.choice(users)
    other = rng.choice([u for u in users if u is not user])
    [scenario] = rng.choices([s for _, s in SCENARIOS], weights=[w for w, _ in SCENARIOS])
    try:
        if time.monotonic() - user.signed_in_at > REFRESH_AFTER_SECONDS:
            await user.sign_in(api)  # before the access token (15 minutes) expires
        await scenario(Turn(api, user, other, rng, tally))
    except Dropped as exc:
        tally.requests += 1
        tally.transport_errors.append(f"{scenario.__name__} as {user.owner}: {exc!r}")


async def soak(port: int, requests: int, seed: int, slugs: list[str]) -> dict[str, Any]:
    seeder = Connection("127.0.0.1", port)
    users = await seed_users(seeder, slugs)
    seeder.close()
    tally = Tally()
    rng = random.Random(seed)
    remaining = requests
    started = time.perf_counter()

    async def client() -> None:
        nonlocal remaining
        api = Connection("127.0.0.1", port)  # each client its own keep-alive connection
        while remaining > 0:
            remaining -= 1
            await one(api, users, rng, tally)
        api.close()

    last = started
    workers = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    while not all(w.done() for w in workers):
        await asyncio.sleep(1)
        if time.perf_counter() - last > 60:
            last = time.perf_counter()
            print(f"{tally.requests:,} requests, {len(tally.leaks)} leaks", file=sys.stderr)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    return {
        "requests": tally.requests,
        "seconds": round(elapsed),
        "requests_per_s": round(tally.requests / elapsed),
        "tenants": TENANTS,
        "apps": len(APPS),
        "users": len(users),
        "statuses": dict(sorted(tally.statuses.items())),
        "kinds": dict(sorted(tally.kinds.items())),
        "leaks": len(tally.leaks),
        "errors": len(tally.errors),
        "transport_errors": len(tally.transport_errors),
        "first_leaks": tally.leaks[:5],
        "first_errors": tally.errors[:5],
        "first_transport_errors": tally.transport_errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 requests")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    requests = 20_000 if args.quick else args.requests
    bench = fresh_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "tenantry.web:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "120",
    ]  # fmt: skip
    log = Path(tempfile.gettempdir()) / f"tenantry-soak-{port}.log"
    print(f"server log: {log}", file=sys.stderr)
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, env=serve_environment(bench.admin, port), stdout=output, stderr=output
        )
    try:
        wait_ready(f"{base}/readyz")
        slugs = seed_tenants(bench.admin)
        result = asyncio.run(soak(port, requests, args.seed, slugs))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        stop(bench)
        shutil.rmtree(bench.data_dir, ignore_errors=True)
    result["workers"] = args.workers
    result["machine"] = machine()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if result["leaks"] or result["errors"] or result["transport_errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
