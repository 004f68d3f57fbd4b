"""Rate limits that hold: with RATE_LIMIT_REDIS_URL every gateway process (workers, replicas)
shares one bucket per client, so a client gets the configured rate however many there are; public
writes and knowledge-base votes have their own, tighter buckets. Needs the Redis server at
127.0.0.1:6379 (the tests' machine runs one); skipped where there is none."""
from __future__ import annotations

import uuid

import pytest

from crm.support.v1 import support_pb2 as spb
from crm_gateway.ratelimit import Limit, MemoryLimiter, RedisLimiter
from crm_gateway.settings import GatewaySettings
from crmkit.config import ConfigError

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    return RedisLimiter(REDIS_URL, Limit(1, 1)).ping()


needs_redis = pytest.mark.skipif(not _redis_up(), reason="no Redis server at 127.0.0.1:6379")


@needs_redis
def test_two_replicas_sharing_redis_give_a_client_the_configured_limit_not_twice_it(make_client, settings, mint):
    replicas = [make_client(settings, rate_limit_rps=0.5, rate_limit_burst=3, rate_limit_redis_url=REDIS_URL)
                for _ in range(2)]
    headers = {"Authorization": f"Bearer {mint(f'rl-{uuid.uuid4().hex[:10]}')}"}
    statuses = [replicas[i % 2].get("/api/v1/contacts", headers=headers).status_code for i in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]  # 3 in all, not 3 per replica
    limited = replicas[0].get("/api/v1/contacts", headers=headers)
    assert limited.mimetype == "application/problem+json"
    assert limited.headers["Retry-After"] == "2"  # one token per 2 s
    other = replicas[1].get("/api/v1/contacts", headers={"Authorization": f"Bearer {mint(f'rl-{uuid.uuid4().hex}')}"})
    assert other.status_code == 200


def test_an_unreachable_limiter_store_lets_requests_through(make_client, settings, mint):
    client = make_client(settings, rate_limit_rps=0.5, rate_limit_burst=1, rate_limit_redis_url="redis://127.0.0.1:1/0")
    headers = {"Authorization": f"Bearer {mint()}"}
    assert [client.get("/api/v1/contacts", headers=headers).status_code for _ in range(3)] == [200, 200, 200]


def test_memory_limiter_refills_at_the_rate():
    now = [0.0]
    limiter = MemoryLimiter(Limit(2, 2), clock=lambda: now[0])
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 1]
    now[0] += 0.5  # one token back
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 1


def test_redis_url_must_be_a_redis_url():
    env = {"CONTACTS_SERVICE_ADDR": "a:1", "REPORTING_SERVICE_ADDR": "b:2", "JWT_SECRET": "x" * 40}
    with pytest.raises(ConfigError, match="RATE_LIMIT_REDIS_URL"):
        GatewaySettings.from_env({**env, "RATE_LIMIT_REDIS_URL": "localhost:6379"})
    assert GatewaySettings.from_env({**env, "RATE_LIMIT_REDIS_URL": REDIS_URL}).rate_limit_redis_url == REDIS_URL


@pytest.fixture
def support_backend(recorder):
    return recorder(spb)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_anonymous_helpful_votes_are_limited_per_article_and_address(make_client, settings, support_backend, store):
    if store == "redis" and not _redis_up():
        pytest.skip("no Redis server")
    client = make_client(settings, optional_addrs={"support": support_backend.address},
                         rate_limit_redis_url=REDIS_URL if store == "redis" else "")
    article = f"a-{uuid.uuid4().hex[:8]}"
    statuses = [client.post(f"/api/v1/public/kb/articles/{article}/feedback", json={"helpful": True}).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert len(support_backend.calls) == 3  # the refused vote never reached support
    refused = client.post(f"/api/v1/public/kb/articles/{article}/feedback", json={"helpful": True})
    assert refused.mimetype == "application/problem+json" and int(refused.headers["Retry-After"]) > 3600
    # another article is another count
    assert client.post(f"/api/v1/public/kb/articles/{article}-2/feedback", json={"helpful": False}).status_code == 200


def test_public_writes_have_their_own_tighter_limit(make_client, settings, support_backend):
    client = make_client(settings, optional_addrs={"support": support_backend.address}, public_writes_per_minute=2)
    form = {"email": "visitor@example.com", "subject": "打印机", "description": "无法连接"}
    statuses = [client.post("/api/v1/public/tickets", json=form).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert client.post("/api/v1/public/tickets", json=form).headers["Retry-After"] == "30"
    # reading stays under the general rate
    assert client.get("/api/v1/public/kb/search", query_string={"q": "打印"}).status_code == 200
