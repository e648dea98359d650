"""Stored drift reports: the weekly check Celery beat runs, and the one a model admin asks for.

`scoring.oversight.drift_status` computes a report (PSI of the score and of the reference
features over the past week's live decisions, expected and realized performance); here it is
stored as a `DriftReport`, so the dashboard tile and the oversight page read the newest one
instead of rebuilding a week of features on a page view.
"""

from __future__ import annotations

import json

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from credscope_site.roles import Perm
from scoring import oversight, registry
from scoring.models import DriftReport, ModelVersion


def drift_report_record(
    *,
    trigger: str = DriftReport.Trigger.SCHEDULE,
    actor: AbstractBaseUser | None = None,
    model_version: ModelVersion | None = None,
) -> DriftReport | None:
    """Compute the drift report of `model_version` (default: the active one) and store it.

    None when there is no active version: nothing is decided, so nothing can drift. Asking
    on demand takes the permission to view models (model admins and compliance); the
    scheduler has no actor.
    """
    if actor is not None and not actor.has_perm(Perm.VIEW_MODELS):
        raise PermissionDenied("only model admins and compliance may compute drift")
    model_version = model_version or registry.active_model_version()
    if model_version is None:
        return None
    report = oversight.drift_status(model_version=model_version)
    # JSON-ready once (numpy scalars as plain numbers) before it is stored.
    report = json.loads(json.dumps(report, default=float))
    worst = report.get("worst_psi")
    return DriftReport.objects.create(
        model_version=model_version,
        computed_at=timezone.now(),
        trigger=trigger,
        requested_by=actor,
        rows=report.get("rows", 0),
        worst_psi=worst if report.get("reference") and worst is not None and worst >= 0 else None,
        report=report,
    )


def latest_drift_report(*, model_version: ModelVersion | None) -> DriftReport | None:
    """The newest stored report of the version (None: never computed)."""
    if model_version is None:
        return None
    return model_version.drift_reports.order_by("-computed_at", "-id").first()
