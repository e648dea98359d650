"""Plain-language reasons from the contributions that raise the risk most."""

import pytest

from scoring.ml.features.build import feature_names
from scoring.ml.features.families import FALLBACK, family_of
from scoring.reasons import reasons_from_contributions


def contributions(*items):
    return [{"feature": f, "value": v, "contribution": c} for f, v, c in items]


def test_the_strongest_risk_raising_stories_come_first_and_are_plain_language() -> None:
    reasons = reasons_from_contributions(
        contributions(
            ("EXT_SOURCE_MEAN", 0.61, -0.9),  # lowers risk: never a reason
            ("INST_12M_LATE_MEAN", 0.4, 0.5),
            ("INST_6M_DPD_MAX", 12.0, 0.2),
            ("CREDIT_TO_INCOME", 5.0, 0.45),
            ("PREV_REFUSED_COUNT", 3.0, 0.1),
            ("CC_UTIL_MEAN", 0.97, 0.05),
        )
    )
    assert [r["code"] for r in reasons] == [
        "INSTALMENTS_LATE_RECENT",
        "CREDIT_TO_INCOME",
        "PREVIOUS_REFUSED",
        "CARD_UTILISATION",
    ]
    late = reasons[0]
    assert late["text"] == "Several instalments paid late in the last year"
    assert late["features"] == ["INST_12M_LATE_MEAN", "INST_6M_DPD_MAX"]
    assert late["contribution"] == pytest.approx(0.7)
    assert reasons[1]["text"] == "Requested credit is high relative to income"
    assert reasons[1]["detail"] == "The credit is 5.0 times annual income"


def test_gender_is_never_a_reason_even_if_a_model_used_it() -> None:
    reasons = reasons_from_contributions(
        contributions(
            ("CODE_GENDER", "M", 2.0), ("CODE_GENDER_CODE", 1.0, 1.0), ("AMT_CREDIT", 1e6, 0.1)
        )
    )
    assert [r["code"] for r in reasons] == ["CREDIT_AMOUNT"]
    assert family_of("CODE_GENDER") is None
    assert all("gender" not in r["text"].lower() for r in reasons)


def test_limit_and_no_reasons_when_nothing_raises_the_risk() -> None:
    assert reasons_from_contributions(contributions(("EXT_SOURCE_2", 0.8, -1.0))) == []
    many = contributions(
        ("INST_LATE_MEAN", 1, 0.9),
        ("BURO_AMT_CREDIT_SUM_OVERDUE_MAX", 1, 0.8),
        ("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM", 1, 0.7),
        ("PREV_NAME_CONTRACT_STATUS_REFUSED_SHARE", 1, 0.6),
        ("POS_SK_DPD_MAX", 1, 0.5),
    )
    reasons = reasons_from_contributions(many, limit=3)
    assert [r["code"] for r in reasons] == ["INSTALMENTS_LATE", "BUREAU_OVERDUE", "BUREAU_DEBT"]


@pytest.mark.parametrize(
    ("feature", "code"),
    [
        ("ANNUITY_TO_INCOME", "ANNUITY_TO_INCOME"),
        ("EXT_SOURCE_1", "EXTERNAL_SCORES"),
        ("IX_EXT2_X_EXT3", "EXTERNAL_SCORES"),
        ("BB_DPD_12M_SHARE", "BUREAU_OVERDUE"),
        ("BURO_OPENED_6M_COUNT", "BUREAU_RECENT"),
        ("PREV_REF_AMT_CREDIT_MEAN", "PREVIOUS_REFUSED"),
        ("CC_AMT_DRAWINGS_ATM_CURRENT_SUM", "CARD_CASH"),
        ("CC_AMT_DRAWINGS_POS_CURRENT_MAX", "CARD_DRAWINGS"),
        ("CC_SK_DPD_MAX", "CARD_LATE"),
        ("POS_12M_DPD_FLAG_MEAN", "POS_LATE"),
        ("INST_UNDERPAID_SUM", "INSTALMENTS_UNDERPAID"),
        ("EMPLOYED_YEARS", "EMPLOYMENT"),
        ("DAYS_EMPLOYED", "EMPLOYMENT"),
        ("IX_TOTAL_DEBT_TO_INCOME", "TOTAL_DEBT"),
        ("NAME_INCOME_TYPE", "OCCUPATION"),
        ("APARTMENTS_AVG", "HOUSING"),
    ],
)
def test_feature_names_map_to_their_story(feature, code) -> None:
    assert family_of(feature).code == code


def test_every_model_feature_tells_a_specific_story() -> None:
    """Guards the feature names of scoring/ml/features/: a renamed one must not fall through."""
    unexplained = [name for name in feature_names() if family_of(name) is FALLBACK]
    assert unexplained == []
