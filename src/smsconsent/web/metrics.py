"""Prometheus metrics of one app, in a registry of its own (two apps never share counters)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """Inbound texts by intent, gate decisions by outcome and reason, request latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter("smsconsent_inbound", "Inbound texts handled, by intent and source",
                               ["intent", "source"], registry=self.registry)
        self.sends = Counter("smsconsent_sends", "Gate decisions, by kind (check or send), "
                             "outcome (allowed or refused) and reason",
                             ["kind", "outcome", "reason"], registry=self.registry)
        self.latency = Histogram("smsconsent_request_seconds", "HTTP request latency",
                                 ["method", "route", "status"], registry=self.registry)
        self.outbox = Counter("smsconsent_outbox_deliveries", "Outbox delivery attempts",
                              ["result"], registry=self.registry)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        """``metric.labels(*values)`` (in the order of its label names), remembered: the
        library validates and locks on every call, a cost of every request. The library
        keeps every child it made for the metric's life, so this holds no more than it."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def decision(self, kind: str, allowed: bool, reason: str) -> None:
        self._child(self.sends, kind, "allowed" if allowed else "refused", reason).inc()

    def inbound_text(self, intent: str, source: str) -> None:
        self._child(self.inbound, intent, source).inc()

    def request_took(self, method: str, route: str, status: str, seconds: float) -> None:
        self._child(self.latency, method, route, status).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Times every request, labelled by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            self.metrics.request_took(scope["method"], getattr(route, "path", "unmatched"),
                                      str(status), time.perf_counter() - start)
