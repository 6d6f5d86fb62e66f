"""The services the settings wire up answer for real: database, cache, channel layer, Celery.

With REDIS_URL set (CI) the cache and the channel layer are Redis; without it they are in-memory.
"""

import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

REDIS = bool(os.environ.get("REDIS_URL"))


def test_database_is_the_configured_one():
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_cache_round_trip():
    key = f"infra-test-{uuid.uuid4()}"
    cache.set(key, {"mrn": "100000017"}, timeout=30)
    assert cache.get(key) == {"mrn": "100000017"}
    cache.delete(key)
    assert cache.get(key) is None
    backend = settings.CACHES["default"]["BACKEND"]
    assert backend.endswith("RedisCache") == REDIS


def test_channel_layer_delivers_to_a_group():
    layer = get_channel_layer()
    assert type(layer).__name__ == ("RedisChannelLayer" if REDIS else "InMemoryChannelLayer")
    channel = async_to_sync(layer.new_channel)()
    group = f"test.{uuid.uuid4().hex}"
    async_to_sync(layer.group_add)(group, channel)
    async_to_sync(layer.group_send)(group, {"type": "bed.update", "bed": 7})
    assert async_to_sync(layer.receive)(channel) == {"type": "bed.update", "bed": 7}
    async_to_sync(layer.group_discard)(group, channel)


@pytest.mark.skipif(not REDIS, reason="REDIS_URL is not set: Celery runs eagerly with no broker")
def test_celery_broker_is_reachable():
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=5)
        assert conn.connected
