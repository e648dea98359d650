"""Parsing (probe item 9): input the API does not understand is refused, never dropped."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import DecisionPolicy

pytestmark = pytest.mark.django_db

POLICY = {
    "very_low_below": 0.02,
    "low_below": 0.05,
    "medium_below": 0.1,
    "high_below": 0.2,
    "approve_below": 0.07,
    "reject_at_or_above": 0.3,
}


@pytest.fixture
def admin_api(model_admin) -> APIClient:
    client = APIClient()
    client.force_authenticate(model_admin)
    return client


def test_a_misspelt_policy_field_is_a_400_naming_it(admin_api) -> None:
    before = DecisionPolicy.objects.count()
    body = {**POLICY, "approve_bellow": 0.5}
    response = admin_api.post("/api/v1/policies/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"approve_bellow": "unknown field"}
    assert DecisionPolicy.objects.count() == before
    assert not AuditEvent.objects.filter(action=AuditAction.POLICY_CREATED).exists()


def test_unknown_fields_are_reported_with_the_other_problems(admin_api) -> None:
    body = {**POLICY, "low_below": "lots", "colour": "red"}
    response = admin_api.post("/api/v1/policies/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["colour"] == "unknown field" and "low_below" in errors


def test_the_known_fields_alone_create_the_policy(admin_api) -> None:
    response = admin_api.post("/api/v1/policies/", {**POLICY, "note": "ok"}, format="json")
    assert response.status_code == 201 and response.json()["approve_below"] == 0.07
