"""Scheduled and requested work on the audit trail (thin: each calls one service).

Beat: checkpoints every five minutes, failed sign-in windows closed every minute, the chain
verified nightly; the trail page's "Verify chain" button enqueues the verification too.
Fair-lending audits run on request and, by beat, monthly for the month before.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audits import auth_events, checkpoints, fairness_services, services


@shared_task(name="audits.tasks.verify_audit_trail")
def verify_audit_trail(run_id: int | None = None) -> dict | None:
    """Verify the chain for a requested run, or for a new run when beat calls it."""
    run = services.verification_run_execute(run_id=run_id)
    if run is None:
        return None
    return {"run_id": run.pk, "status": run.status, "verdict": run.verdict}


@shared_task(name="audits.tasks.write_audit_checkpoint")
def write_audit_checkpoint() -> list[dict]:
    """Write the chain's head to every checkpoint sink, unless a sink already has it."""
    return [
        {"sink": c.sink, "number": c.number, "sequence": c.sequence}
        for c in checkpoints.checkpoint_write()
    ]


@shared_task(name="audits.tasks.close_failed_sign_in_windows")
def close_failed_sign_in_windows() -> int:
    """Report the rest of each closed failed-sign-in window (see audits.auth_events)."""
    return auth_events.failed_sign_in_windows_close()


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
