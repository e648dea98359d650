"""The navigation each user sees: only the areas their permissions open."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from credscope_site.roles import Perm, roles_of


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str | None  # None: every signed-in user


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Dashboard", "dashboard", None),
    NavItem("Applications", "applicants:list", Perm.VIEW_OWN_APPLICATIONS),
    NavItem("New application", "applicants:new", Perm.SUBMIT_APPLICATION),
    NavItem("Review", "applicants:review", Perm.OVERRIDE_DECISION),
    NavItem("Batches", "applicants:batch_list", Perm.VIEW_BATCHES),
    NavItem("Audit trail", "audits:trail", Perm.VIEW_AUDIT_TRAIL),
    NavItem("Overrides", "applicants:override_report", Perm.VIEW_OVERRIDE_REPORT),
    NavItem("Fairness", "fairness:list", Perm.VIEW_FAIRNESS_AUDITS),
    NavItem("Models", "models:list", Perm.VIEW_MODELS),
)


def items_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    items = [
        {"label": item.label, "url": reverse(item.url_name), "url_name": item.url_name}
        for item in NAV_ITEMS
        if item.permission is None or user.has_perm(item.permission)
    ]
    if user.is_superuser:
        items.append({"label": "Admin", "url": reverse("admin:index"), "url_name": "admin"})
    return items


def navigation(request: HttpRequest) -> dict:
    """Template context processor."""
    user = request.user
    return {
        "nav_items": items_for(user),
        "user_roles": [role.label for role in roles_of(user)],
    }
