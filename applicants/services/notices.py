"""Adverse-action notices: the letter a declined applicant receives (ECOA, 12 CFR 1002.9).

A notice exists for every application whose decision in force is REJECT (the model's, or a
reviewer's override). It names the applicant, the date and the decision, states up to four
principal reasons (the decision's own reasons: true of the applicant's data, ordered by how
much each raised the risk, see `scoring.reasons`), the creditor's name, address and the
statement the law requires (settings), and in its footer the model and policy versions that
decided. It is rendered as print-ready HTML and, with WeasyPrint, as PDF. Producing a notice
is a disclosure of personal data, so each one records an audit event.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.template.loader import render_to_string
from django.utils import timezone

from applicants import selectors
from applicants.models import LoanApplication
from audits import trail
from audits.actions import AuditAction
from scoring.models import BatchJob, Outcome

#: Regulation B asks for the principal reasons; more than four is not more helpful.
NOTICE_REASONS = 4
HTML = "html"
PDF = "pdf"


class NoticeUnavailable(Exception):
    """This application has no adverse action to give notice of (not decided, or the
    decision in force is not a rejection)."""


@dataclass(frozen=True)
class Notice:
    application_id: int
    filename: str
    content_type: str
    content: bytes


def notice_context(*, application: LoanApplication) -> dict[str, Any]:
    """What the notice says; raises `NoticeUnavailable` unless the final outcome is REJECT."""
    decision = selectors.decision_of(application)
    if decision is None:
        raise NoticeUnavailable(f"application {application.pk} has no decision yet")
    outcome = selectors.final_outcome(decision)
    if outcome != Outcome.REJECT:
        raise NoticeUnavailable(
            f"application {application.pk} was not declined (decision in force: {outcome})"
        )
    override = selectors.override_of(decision)
    decided_at = override.created_at if override is not None else decision.decided_at
    return {
        "application": application,
        "applicant": application.applicant,
        "decision": decision,
        "decided_at": decided_at,
        "overridden": override is not None,
        "reasons": list(decision.reasons)[:NOTICE_REASONS],
        "creditor": {
            "name": settings.CREDSCOPE_CREDITOR_NAME,
            "address": settings.CREDSCOPE_CREDITOR_ADDRESS,
            "statement": settings.CREDSCOPE_CREDITOR_STATEMENT,
        },
        "produced_on": timezone.now(),
    }


def notice_produce(
    *, application: LoanApplication, actor: AbstractBaseUser, fmt: str = PDF
) -> Notice:
    """The notice of one declined application as HTML or PDF, with its audit event."""
    notice = _render(application, fmt)
    _record(actor, [notice], fmt)
    return notice


def batch_notices_produce(*, batch: BatchJob, actor: AbstractBaseUser) -> tuple[bytes, int]:
    """One zip of the PDF notices of every declined application of the batch, and how many
    it holds; one audit event names them all."""
    notices = []
    applications = (
        LoanApplication.objects.filter(batch=batch, decision__isnull=False)
        .select_related("applicant", "decision", "decision__model_version", "decision__policy")
        .order_by("batch_row")
    )
    for application in applications:
        try:
            notices.append(_render(application, PDF))
        except NoticeUnavailable:
            continue
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for notice in notices:
            archive.writestr(notice.filename, notice.content)
    _record(actor, notices, PDF, batch=batch)
    return buffer.getvalue(), len(notices)


def _render(application: LoanApplication, fmt: str) -> Notice:
    if fmt not in (HTML, PDF):
        raise ValueError(f"unknown notice format {fmt!r}")
    html = render_to_string(
        "applicants/adverse_action_notice.html", notice_context(application=application)
    )
    stem = f"adverse-action-notice-{application.pk}"
    if fmt == HTML:
        return Notice(application.pk, f"{stem}.html", "text/html; charset=utf-8", html.encode())
    # WeasyPrint loads Pango and fonts: imported here so web processes start without it.
    from weasyprint import HTML as WeasyHTML

    pdf = WeasyHTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    return Notice(application.pk, f"{stem}.pdf", "application/pdf", pdf)


def _record(
    actor: AbstractBaseUser, notices: list[Notice], fmt: str, batch: BatchJob | None = None
) -> None:
    if batch is not None:
        trail.record(
            action=AuditAction.NOTICE_PRODUCED,
            actor=actor,
            target=batch,
            payload={"format": "zip", "applications": [n.application_id for n in notices]},
        )
        return
    for notice in notices:
        trail.record(
            action=AuditAction.NOTICE_PRODUCED,
            actor=actor,
            target_type=LoanApplication._meta.label_lower,
            target_id=notice.application_id,
            payload={"format": fmt, "bytes": len(notice.content)},
        )
