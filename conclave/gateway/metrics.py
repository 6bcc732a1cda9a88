"""Prometheus metrics of one gateway app, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from conclave.leader.types import AgentListing, RoundRecord

# GetInfo's running totals (AgentListing.info keeps the .proto's names), by `kind` label.
_AGENT_PROMPT_TOKENS = {
    "cached": "prompt_tokens_cached_total",
    "prefilled": "prompt_tokens_prefilled_total",
}


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
        # The agents' own counters (GetInfo), read from the leader's listing at each
        # scrape: an agent has no HTTP endpoint of its own to scrape.
        self.agent_prompt_tokens = Gauge(
            "conclave_agent_prompt_tokens",
            "Prompt tokens an agent found in its KV cache (cached) or prefilled anew "
            "(prefilled) since it started, as its GetInfo reports them",
            ["agent", "kind"],
            registry=self.registry,
        )
        self.agent_generated_tokens = Gauge(
            "conclave_agent_generated_tokens",
            "Tokens an agent generated since it started (GetInfo)",
            ["agent"],
            registry=self.registry,
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

    def agents_seen(self, listed: list[AgentListing]) -> None:
        """Mirrors each answering agent's counters; an agent no longer listed, or not
        answering, is dropped rather than shown with stale figures."""
        self.agent_prompt_tokens.clear()
        self.agent_generated_tokens.clear()
        for agent in listed:
            if agent.info is None:
                continue
            for kind, field in _AGENT_PROMPT_TOKENS.items():
                self.agent_prompt_tokens.labels(agent.name, kind).set(int(agent.info.get(field, 0)))
            self.agent_generated_tokens.labels(agent.name).set(
                int(agent.info.get("tokens_generated_total", 0))
            )

    def render(self) -> bytes:
        return generate_latest(self.registry)
