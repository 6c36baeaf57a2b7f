"""Prometheus metrics of one service: requests, latency, batch sizes, queue depth, tokens.

Each app gets its own registry, so several apps (tests) live in one process.
"""

from __future__ import annotations

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536, 262144)


class Metrics:
    """The service's counters, gauges and histograms in their own registry."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("embedkit_requests", "HTTP requests", ["method", "route", "status"],
                                registry=r)
        self.latency = Histogram("embedkit_request_seconds", "HTTP request latency", ["route"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("embedkit_requests_in_flight", "HTTP requests being answered",
                               registry=r)
        self.batch_size = Histogram("embedkit_batch_size", "Texts per encoded batch", ["model"],
                                    buckets=_SIZE_BUCKETS, registry=r)
        self.batch_requests = Histogram("embedkit_batch_requests", "Requests per encoded batch",
                                        ["model"], buckets=_SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("embedkit_batch_tokens", "Tokens per encoded batch", ["model"],
                                      buckets=_TOKEN_BUCKETS, registry=r)
        self.batch_seconds = Histogram("embedkit_batch_seconds", "Encoding time of one batch",
                                       ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("embedkit_queue_depth", "Requests waiting to be encoded", ["model"],
                                 registry=r)
        self.rejected = Counter("embedkit_queue_rejected", "Requests refused with 429 (queue full)",
                                ["model"], registry=r)
        self.tokens = Counter("embedkit_tokens", "Tokens embedded", ["model"], registry=r)
        self.inputs = Counter("embedkit_inputs", "Texts embedded", ["model"], registry=r)

    def render(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, with its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
