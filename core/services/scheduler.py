"""Beat's heartbeat: a timestamp in the cache that shows the scheduler and a worker are alive."""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)
HEARTBEAT_KEY = "verity:scheduler:heartbeat"


def scheduler_heartbeat_record() -> float:
    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=3600)
    logger.info("scheduler.heartbeat at=%s", now)
    return now
