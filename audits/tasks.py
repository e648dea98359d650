"""Scheduled work on the audit trail: checkpoints every five minutes, verification nightly."""

import logging

from celery import shared_task

from audits import auth_events, checkpoints, trail

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
