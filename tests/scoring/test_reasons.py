"""Plain-language reasons from the contributions that raise the risk most."""

import pytest

from scoring.ml.features.build import feature_catalogue, feature_names
from scoring.ml.features.families import BY_CODE, FALLBACK, family_of
from scoring.reasons import reasons_for


def contributions(*items, status="given"):
    return [{"feature": f, "value": v, "contribution": c, "status": status} for f, v, c in items]


ALL_HISTORY = {
    "bureau": 3,
    "bureau_balance": 10,
    "previous_application": 2,
    "POS_CASH_balance": 5,
    "installments_payments": 20,
    "credit_card_balance": 6,
}


def placed(feature, value, share):
    return {feature: {"value": value, "adverse": "high", "share": share}}


def test_the_strongest_true_stories_come_first_each_with_its_fact() -> None:
    reasons = reasons_for(
        contributions(
            ("EXT_SOURCE_MEAN", 0.61, -0.9),  # lowers risk: never a reason
            ("INST_12M_LATE_MEAN", 0.4, 0.5),
            ("INST_6M_DPD_MAX", 12.0, 0.2),
            ("CREDIT_TO_INCOME", 5.0, 0.45),
            ("PREV_REFUSED_COUNT", 3.0, 0.1),
            ("CC_UTIL_MEAN", 0.97, 0.05),
        ),
        history_rows=ALL_HISTORY,
        measures={
            **placed("INST_12M_LATE_MEAN", 0.4, 0.9),
            **placed("CREDIT_TO_INCOME", 5.0, 0.85),
            **placed("PREV_REFUSED_COUNT", 3.0, 0.95),
            **placed("CC_UTIL_MEAN", 0.97, 0.99),
        },
    )
    assert [r["code"] for r in reasons] == [
        "INSTALMENTS_LATE_RECENT",
        "CREDIT_TO_INCOME",
        "PREVIOUS_REFUSED",
        "CARD_UTILISATION",
    ]
    late = reasons[0]
    assert late["text"] == "Instalments paid late in the last year"
    assert late["features"] == ["INST_12M_LATE_MEAN", "INST_6M_DPD_MAX"]
    assert late["contribution"] == pytest.approx(0.7)
    assert late["fact"].startswith("40% of instalments due in the last 12 months")
    assert reasons[1]["fact"] == (
        "the credit is 5.0 times annual income; 85% of applicants ask for less"
    )


def test_a_direction_that_does_not_hold_is_never_stated() -> None:
    """A good external score that the model still counted against the applicant (because
    of a missing companion input) must not read as "low credit scores"."""
    items = contributions(("EXT_SOURCE_MEAN", 0.72, 0.51), ("AMT_CREDIT", 500000.0, 0.1))
    measures = {"EXT_SOURCE_MEAN": {"value": 0.72, "adverse": "low", "share": None}}
    reasons = reasons_for(items, history_rows=ALL_HISTORY, measures=measures)
    assert [r["code"] for r in reasons] == ["CREDIT_AMOUNT"]
    assert reasons[0]["fact"] == "Requested credit: 500,000"


def test_missing_inputs_make_one_honest_item_never_a_creditworthiness_reason() -> None:
    items = [
        {
            "feature": "REGION_POPULATION_RELATIVE",
            "value": None,
            "contribution": 0.6,
            "status": "not_provided",
            "missing": ["REGION_POPULATION_RELATIVE"],
        },
        {
            "feature": "INCOME_LEFT_PER_PERSON",
            "value": None,
            "contribution": 0.2,
            "status": "not_provided",
            "missing": ["AMT_ANNUITY", "CNT_FAM_MEMBERS"],
        },
        *contributions(("AMT_CREDIT", 500000.0, 0.1)),
    ]
    reasons = reasons_for(items, history_rows=ALL_HISTORY)
    assert [r["code"] for r in reasons] == ["NOT_PROVIDED", "CREDIT_AMOUNT"]
    assert reasons[0]["text"] == (
        "Information not provided: Region population, Annuity, Household members"
    )
    assert all(r["code"] != "REGION" for r in reasons)


def test_no_history_is_said_in_those_words_and_history_families_are_never_cited() -> None:
    items = contributions(
        ("BURO_COUNT", 0.0, 0.3), ("PREV_APPROVED_COUNT", 0.0, 0.2), status="no_history"
    ) + contributions(("AMT_CREDIT", 500000.0, 0.1))
    reasons = reasons_for(items, history_rows={})
    assert [(r["code"], r["text"]) for r in reasons] == [
        ("NO_CREDIT_HISTORY", "No credit history"),
        ("CREDIT_AMOUNT", "Size of the requested credit"),
    ]
    assert reasons[0]["contribution"] == pytest.approx(0.5)
    # Only the bureau absent: the part that is absent is named.
    partly = reasons_for(
        contributions(("BURO_COUNT", 0.0, 0.3), status="no_history"),
        history_rows={"previous_application": 2},
    )
    assert [r["text"] for r in partly] == ["No credit history with other lenders"]
    # An absent history that lowers the risk is no reason at all.
    assert (
        reasons_for(contributions(("BURO_COUNT", 0.0, -0.3), status="no_history"), history_rows={})
        == []
    )


def test_gender_is_never_a_reason_even_if_a_model_used_it() -> None:
    reasons = reasons_for(
        contributions(
            ("CODE_GENDER", "M", 2.0), ("CODE_GENDER_CODE", 1.0, 1.0), ("AMT_CREDIT", 1e6, 0.1)
        )
    )
    assert [r["code"] for r in reasons] == ["CREDIT_AMOUNT"]
    assert family_of("CODE_GENDER") is None
    assert all("gender" not in r["text"].lower() for r in reasons)


def test_limit_and_no_reasons_when_nothing_raises_the_risk() -> None:
    assert reasons_for(contributions(("EXT_SOURCE_2", 0.8, -1.0))) == []
    many = contributions(
        ("INST_LATE_MEAN", 1, 0.9),
        ("BURO_AMT_CREDIT_SUM_OVERDUE_MAX", 1, 0.8),
        ("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM", 1, 0.7),
        ("PREV_NAME_CONTRACT_STATUS_REFUSED_SHARE", 1, 0.6),
        ("POS_SK_DPD_MAX", 1, 0.5),
    )
    measures = {
        **placed("INST_LATE_SUM", 4, 0.8),
        **placed("BURO_BAD_COUNT", 1, 0.9),
        **placed("BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM", 1e6, 0.9),
    }
    reasons = reasons_for(many, history_rows=ALL_HISTORY, measures=measures, limit=3)
    assert [r["code"] for r in reasons] == ["INSTALMENTS_LATE", "BUREAU_OVERDUE", "BUREAU_DEBT"]


def test_age_derived_features_are_the_age_family() -> None:
    for name in ("AGE_YEARS", "DAYS_BIRTH", "IX_EXT_MEAN_X_AGE", "IX_CREDIT_TO_INCOME_PER_AGE"):
        assert family_of(name).key == "age"
    specs = {s.name: s for s in feature_catalogue()}
    derived = [n for n, s in specs.items() if "DAYS_BIRTH" in s.inputs]
    assert {"EMPLOYED_TO_AGE", "REGISTRATION_TO_AGE", "CAR_AGE_TO_AGE"} <= set(derived)
    assert all(family_of(n, tuple(specs[n].inputs)).key == "age" for n in derived)


def test_every_measure_is_a_model_feature() -> None:
    names = set(feature_names())
    assert [m.feature for f in BY_CODE.values() for m in f.measures if m.feature not in names] == []


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
        ("AGE_YEARS", "AGE"),
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


def test_a_day_count_is_stated_as_days_ago_not_as_kaggles_negative_number() -> None:
    reasons = reasons_for(
        contributions(("DAYS_ID_PUBLISH", -4415.0, 0.3)), history_rows=ALL_HISTORY
    )
    assert len(reasons) == 1
    assert reasons[0]["fact"].endswith(": 4,415 days ago")
    assert "-4" not in reasons[0]["fact"]
