"""Audit tasks: the nightly trail check and fair-lending audits (on request and monthly)."""

import logging

from celery import shared_task
from django.utils import timezone

from audits import fairness_services, trail

logger = logging.getLogger(__name__)


@shared_task(name="audits.tasks.verify_audit_trail")
def verify_audit_trail() -> dict:
    """Verify the chain; log the head hash so copies of the log anchor the chain externally."""
    result = trail.verify()
    if result.intact:
        logger.info("audit trail intact: %d events, head %s", result.checked, result.head_hash)
    else:
        logger.error("audit trail broken: %s", result.first_break)
    return {
        "intact": result.intact,
        "checked": result.checked,
        "head_hash": result.head_hash,
        "first_break": str(result.first_break) if result.first_break else None,
    }


@shared_task(name="audits.tasks.run_fairness_audit")
def run_fairness_audit(audit_id: int) -> dict:
    """Compute one requested audit (the service claims it, so a redelivery is harmless)."""
    audit = fairness_services.fairness_audit_run(audit_id=audit_id)
    if audit is None:
        return {"audit_id": audit_id, "ran": False}
    return {"audit_id": audit_id, "ran": True, "verdict": audit.verdict}


@shared_task(name="audits.tasks.run_monthly_fairness_audit")
def run_monthly_fairness_audit() -> dict:
    """celery beat, on the 1st of each month: the audit of the month before."""
    audit = fairness_services.fairness_audit_monthly(today=timezone.localdate())
    return {"audit_id": audit.pk if audit else None, "verdict": audit.verdict if audit else None}
