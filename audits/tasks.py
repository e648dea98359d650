"""Scheduled and requested work on the audit trail (thin: each calls one service).

Beat: checkpoints every five minutes, failed sign-in windows closed every minute, the chain
verified nightly; the trail page's "Verify chain" button enqueues the verification too.
"""

from __future__ import annotations

from celery import shared_task

from audits import auth_events, checkpoints, services


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
