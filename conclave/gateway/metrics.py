"""Prometheus metrics of one gateway app, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from conclave.leader.types import RoundRecord


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "conclave_gateway_requests",
            "HTTP requests",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "conclave_gateway_request_seconds",
            "Request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.tokens = Counter(
            "conclave_gateway_tokens",
            "Tokens spent by answered rounds",
            ["kind"],
            registry=self.registry,
        )
        self.rounds = Counter(
            "conclave_gateway_rounds",
            "Rounds answered",
            ["strategy", "status"],
            registry=self.registry,
        )
        self.agreement = Histogram(
            "conclave_gateway_round_agreement",
            "Share of candidates in the winning group",
            ["strategy"],
            registry=self.registry,
            buckets=(0.2, 0.4, 0.5, 0.6, 0.8, 1.0),
        )
        self.errors = Counter(
            "conclave_gateway_errors",
            "Error responses by HTTP status",
            ["code"],
            registry=self.registry,
        )
        self.refused = Counter(
            "conclave_gateway_refused",
            "Requests refused with 429 and Retry-After, by reason: gateway_full (its "
            "max_concurrent) or agents_busy (every voice too busy to answer in time). "
            "Refusals are not stored as rounds.",
            ["reason"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "conclave_gateway_in_flight", "Requests being answered", registry=self.registry
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.error(status)

    def error(self, status: int) -> None:
        self.errors.labels(str(status)).inc()

    def refusal(self, reason: str) -> None:
        self.refused.labels(reason).inc()

    def round_done(self, record: RoundRecord) -> None:
        strategy = record.request.strategy
        self.rounds.labels(strategy, record.status).inc()
        self.agreement.labels(strategy).observe(record.decision.agreement)
        for c in record.candidates:
            self.tokens.labels("prompt").inc(c.prompt_tokens)
            self.tokens.labels("completion").inc(c.completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
