"""Each role sees and opens only its own areas; anonymous users are sent to sign in."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from credscope_site.roles import ROLE_PERMISSIONS, Role


@pytest.mark.django_db
def test_every_role_group_holds_exactly_its_permissions() -> None:
    for role, expected in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        granted = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert granted == set(expected), role


def nav_labels(response) -> list[str]:
    return [item["label"] for item in response.context["nav_items"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "expected_nav"),
    [
        ("officer", ["Dashboard", "Applications", "New application", "Batches"]),
        (
            "compliance",
            [
                "Dashboard",
                "Applications",
                "Batches",
                "Audit trail",
                "Overrides",
                "Fairness",
                "Models",
            ],
        ),
        ("model_admin", ["Dashboard", "Models"]),
        ("reviewer", ["Dashboard", "Applications", "Review"]),
        ("senior_reviewer", ["Dashboard", "Applications", "Review"]),
    ],
)
def test_navigation_shows_each_role_only_its_areas(client, request, persona, expected_nav):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert nav_labels(response) == expected_nav
    html = response.content.decode()
    assert ("Audit trail" in html) == ("Audit trail" in expected_nav)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("officer", 403), ("model_admin", 403), ("compliance", 200)],
)
def test_audit_trail_page_is_for_compliance_only(client, request, persona, status) -> None:
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("audits:trail"))
    assert response.status_code == status
    if status == 403:
        assert "Not allowed" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["dashboard", "audits:trail"])
def test_anonymous_users_are_sent_to_sign_in(client, url_name) -> None:
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.django_db
def test_admin_is_for_superusers_only(client, compliance, django_user_model) -> None:
    client.force_login(compliance)
    assert client.get("/admin/").status_code == 302  # staff-only login page, not the admin
    root = django_user_model.objects.create_superuser("root", password="x" * 12)
    client.force_login(root)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Admin" in nav_labels(client.get(reverse("dashboard")))


@pytest.mark.django_db
def test_user_without_role_is_told_so(client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_user("nobody", password="x" * 12))
    response = client.get(reverse("dashboard"))
    assert "has no role yet" in response.content.decode()
    assert nav_labels(response) == ["Dashboard"]


@pytest.mark.django_db
def test_compliance_trail_page_lists_and_filters_events(client, compliance, officer) -> None:
    from audits import trail
    from audits.actions import AuditAction

    trail.record(action=AuditAction.LOGIN, actor=officer)
    trail.record(action=AuditAction.LOGIN_FAILED, actor_name="eve")
    client.force_login(compliance)
    page = client.get(
        reverse("audits:trail"), {"action": AuditAction.LOGIN_FAILED}
    ).content.decode()
    assert "eve" in page and "officer" not in page.split("<tbody>")[1]


def test_role_values_are_the_group_names() -> None:
    assert [r.value for r in Role] == [
        "loan_officer", "compliance", "model_admin", "credit_reviewer", "senior_credit_reviewer",
    ]  # fmt: skip
