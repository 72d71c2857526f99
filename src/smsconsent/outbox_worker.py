"""Deliver the outbox: claim due replies, hand each to its provider, retry with backoff.

``serve`` runs ``OutboxWorker`` in a background thread; ``smsconsent outbox deliver`` runs one
pass. Any number of either may run at once (storage/outbox.py explains the claim).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from smsconsent.domain.clock import format_ts
from smsconsent.providers import DeliveryFailed, telnyx
from smsconsent.services import Store
from smsconsent.services.workspaces import workspace_secrets
from smsconsent.settings import Settings
from smsconsent.storage import outbox
from smsconsent.storage.outbox import OutboxItem
from smsconsent.web.metrics import Metrics

log = logging.getLogger("smsconsent.outbox")
MAX_DELAY = 3600.0


@dataclass
class PassResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "delivered": self.delivered, "failed": self.failed}


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff: the first retry after ``outbox_backoff`` seconds, capped at an hour."""
    return float(min(settings.outbox_backoff * 2 ** max(attempts - 1, 0), MAX_DELAY))


def _send(client: httpx.Client, store: Store, settings: Settings, item: OutboxItem) -> None:
    if item.provider != "telnyx":
        raise DeliveryFailed(f"no delivery for provider {item.provider!r}")
    api_key = workspace_secrets(store, item.workspace).get("telnyx_api_key")
    if not api_key:
        raise DeliveryFailed("the workspace has no telnyx_api_key: smsconsent workspace set "
                             f"{item.workspace} --telnyx-api-key KEY")
    telnyx.deliver(client, settings.telnyx_api_base, api_key, item.from_number, item.to_number,
                   item.body)


def deliver_once(store: Store, settings: Settings, client: httpx.Client,
                 metrics: Metrics | None = None, limit: int = 20) -> PassResult:
    """One pass over the due replies; returns how many were claimed, delivered and failed."""
    now = store.clock()
    lease = format_ts(now + timedelta(seconds=settings.outbox_lease))
    result = PassResult()
    for item in outbox.claim(store.engine, format_ts(now), lease, limit):
        result.claimed += 1
        try:
            _send(client, store, settings, item)
        except DeliveryFailed as exc:
            retry = store.clock() + timedelta(seconds=retry_delay(settings, item.attempts + 1))
            outbox.mark_failed(store.engine, item, str(exc), format_ts(retry))
            result.failed += 1
            outcome = "failed"
            log.warning("outbox %s attempt %d failed: %s", item.id, item.attempts + 1, exc)
        else:
            outbox.mark_delivered(store.engine, item, store.now())
            result.delivered += 1
            outcome = "delivered"
        if metrics is not None:
            metrics.outbox.labels(result=outcome).inc()
    return result


class OutboxWorker:
    """A daemon thread running ``deliver_once`` every ``outbox_interval`` seconds until stopped."""

    def __init__(self, store: Store, settings: Settings, metrics: Metrics | None = None) -> None:
        self.store, self.settings, self.metrics = store, settings, metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smsconsent-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.outbox_timeout) as client:
            while not self._stop.is_set():
                try:
                    deliver_once(self.store, self.settings, client, self.metrics)
                except Exception:  # a database hiccup must not end the worker; it retries
                    log.exception("outbox pass failed")
                self._stop.wait(self.settings.outbox_interval)
