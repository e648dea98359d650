"""`/metrics`: the Prometheus text format, for a scraper on this machine or holding the token.

Every figure is read from PostgreSQL and Redis at scrape time, not counted in memory: the web
processes and the workers that make decisions share nothing else, so only the shared stores
give one consistent answer whichever process is scraped. Decisions are never deleted, so the
totals only grow, as Prometheus counters must.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from applicants.models import LoanApplication
from scoring.models import BatchJob, Decision, ModelVersion

logger = logging.getLogger(__name__)

#: Seconds from submission to decision. A request that waits is decided in about a second;
#: a queued one may wait behind a batch.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: How a decision was made, read from the claim that made it: "request-..." is a client that
#: waited (sync), a batch row is a batch, anything else a queued task (async).
MODES = {
    "sync": Q(application__scoring_claim__startswith="request-"),
    "batch": Q(application__batch__isnull=False),
    "async": ~Q(application__scoring_claim__startswith="request-")
    & Q(application__batch__isnull=True),
}


class CredScopeCollector:
    """Collects the series at scrape time (see the module docstring)."""

    def collect(self):
        yield self._decisions()
        yield from self._latency()
        yield self._failures()
        yield self._batch_rows()
        yield self._queue_depth()
        yield self._active_model()

    def _decisions(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "credscope_decisions", "Decisions made, by outcome", labels=["outcome"]
        )
        counts = dict(Decision.objects.values_list("outcome").annotate(n=Count("pk")))
        for outcome in ("APPROVE", "REFER", "REJECT"):
            family.add_metric([outcome], counts.get(outcome, 0))
        return family

    def _latency(self):
        family = HistogramMetricFamily(
            "credscope_decision_latency_seconds",
            "Seconds from submission to decision, by how it was decided",
            labels=["mode"],
        )
        waited = ExpressionWrapper(
            F("decided_at") - F("application__submitted_at"), output_field=DurationField()
        )
        for mode, where in MODES.items():
            aggregates = {
                f"le_{i}": Count("pk", filter=Q(waited__lte=timedelta(seconds=bound)))
                for i, bound in enumerate(LATENCY_BUCKETS)
            }
            row = (
                Decision.objects.filter(where)
                .annotate(waited=waited)
                .aggregate(total=Count("pk"), seconds=Sum("waited"), **aggregates)
            )
            buckets = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)] + [
                ("+Inf", row["total"])
            ]
            seconds = row["seconds"].total_seconds() if row["seconds"] else 0.0
            family.add_metric([mode], buckets, seconds)
        yield family
        scoring = GaugeMetricFamily(
            "credscope_scoring_seconds_mean",
            "Mean time the model took to score one application, by how it was decided",
            labels=["mode"],
        )
        for mode, where in MODES.items():
            mean = Decision.objects.filter(where).aggregate(
                ms=Sum("scoring_latency_ms"), n=Count("pk")
            )
            scoring.add_metric([mode], (mean["ms"] or 0.0) / 1000 / max(mean["n"], 1))
        yield scoring

    def _failures(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "credscope_scoring_failures", "Applications whose scoring failed for good"
        )
        family.add_metric(
            [], LoanApplication.objects.filter(status=LoanApplication.Status.FAILED).count()
        )
        return family

    def _batch_rows(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "credscope_batch_rows", "Rows received in CSV batches", labels=["validity"]
        )
        sums = BatchJob.objects.aggregate(total=Sum("total_rows"), invalid=Sum("invalid_rows"))
        total, invalid = sums["total"] or 0, sums["invalid"] or 0
        family.add_metric(["valid"], total - invalid)
        family.add_metric(["invalid"], invalid)
        return family

    def _queue_depth(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "credscope_queue_depth", "Tasks waiting in the broker", labels=["queue"]
        )
        queues = (settings.CELERY_TASK_DEFAULT_QUEUE, settings.CREDSCOPE_CHALLENGER_QUEUE)
        if not settings.REDIS_URL:  # in-process tasks: nothing ever waits
            for name in queues:
                family.add_metric([name], 0)
            return family
        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
            )
            for name in queues:
                family.add_metric([name], client.llen(name))
        except redis.RedisError as error:
            # An unreachable broker shows as missing series (and in /health/), not a 500.
            logger.warning("queue depth unavailable: %s", error.__class__.__name__)
        return family

    def _active_model(self) -> InfoMetricFamily:
        family = InfoMetricFamily("credscope_active_model", "The model version deciding now")
        active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
        challenger = ModelVersion.objects.filter(is_challenger=True).first()
        if active is not None:
            family.add_metric(
                [],
                {
                    "version": active.version,
                    "profile": active.profile,
                    "challenger": challenger.version if challenger else "",
                },
            )
        return family


def scrape_allowed(request: HttpRequest) -> bool:
    """From the loopback address, or with `Authorization: Bearer <METRICS_TOKEN>`."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@login_not_required
@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse(
            "metrics are served to the loopback address or with METRICS_TOKEN\n",
            status=403,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CredScopeCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
