"""Plain-language reasons for a decision, from the SHAP contributions that raise risk most.

Pure functions over the contributions a `Score` carries (logit space, sorted by size). Each
model feature is matched to one reason by its name (the naming of `scoring/ml/features/build.py`:
application columns, domain ratios, and history aggregates prefixed by their table); several
features that tell the same story count as one reason, ranked by their summed contribution.

The texts are written for an adverse-action notice: they say what in the application or the
credit history raised the risk, in words an applicant understands, and never name a protected
attribute (gender, and anything derived from it, is never a reason even if a model used it).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_REASON_COUNT = 4
# Features that must never be named to an applicant, whatever a model did with them.
_NEVER_NAMED = re.compile(r"GENDER", re.IGNORECASE)


@dataclass(frozen=True)
class ReasonRule:
    code: str
    pattern: re.Pattern[str]
    text: str


def _rule(code: str, pattern: str, text: str) -> ReasonRule:
    return ReasonRule(code, re.compile(pattern), text)


# The 20 named interactions, each told by the story it mostly carries.
_INTERACTIONS: dict[str, str] = {
    "IX_EXT2_X_EXT3": "EXTERNAL_SCORES",
    "IX_EXT1_X_EXT2": "EXTERNAL_SCORES",
    "IX_EXT_MEAN_X_AGE": "EXTERNAL_SCORES",
    "IX_EXT_MEAN_X_CREDIT_TERM": "EXTERNAL_SCORES",
    "IX_EXT_MEAN_PER_CREDIT_TO_INCOME": "CREDIT_TO_INCOME",
    "IX_EXT_MIN_X_ANNUITY_TO_INCOME": "ANNUITY_TO_INCOME",
    "IX_EMPLOYED_TO_AGE_X_EXT_MEAN": "EMPLOYMENT",
    "IX_CREDIT_TO_INCOME_PER_AGE": "CREDIT_TO_INCOME",
    "IX_BURO_ACTIVE_DEBT_TO_INCOME": "BUREAU_DEBT",
    "IX_BURO_ANNUITY_LOAD": "ANNUITY_TO_INCOME",
    "IX_BURO_ACTIVE_CREDIT_TO_CREDIT": "BUREAU_DEBT",
    "IX_BURO_DPD_SHARE_X_EXT_MEAN": "BUREAU_OVERDUE",
    "IX_PREV_REFUSED_SHARE_X_EXT_MEAN": "PREVIOUS_REFUSED",
    "IX_PREV_APPROVED_CREDIT_TO_CREDIT": "PREVIOUS_APPLICATIONS",
    "IX_PREV_ANNUITY_TO_ANNUITY": "PREVIOUS_APPLICATIONS",
    "IX_INST_LATE_X_ANNUITY_TO_INCOME": "INSTALMENTS_LATE",
    "IX_INST_LATE_12M_X_EXT_MEAN": "INSTALMENTS_LATE_RECENT",
    "IX_POS_DPD_SHARE_X_CREDIT_TO_INCOME": "POS_LATE",
    "IX_CC_UTIL_X_ATM_MONTHS": "CARD_UTILISATION",
    "IX_TOTAL_DEBT_TO_INCOME": "TOTAL_DEBT",
}

# Order matters: the first rule whose pattern matches a feature name wins, so the specific
# stories (late instalments, refused applications) come before the broad ones (any bureau
# feature). History features carry their table's prefix: INST_, CC_, POS_, BURO_, BB_, PREV_.
RULES: tuple[ReasonRule, ...] = (
    _rule(
        "INSTALMENTS_LATE_RECENT",
        r"^INST_(6M|12M)_(LATE|DPD)",
        "Several instalments paid late in the last year",
    ),
    _rule(
        "INSTALMENTS_LATE",
        r"^INST_(24M_)?(LATE|DPD)",
        "Instalments on previous loans were paid late",
    ),
    _rule(
        "INSTALMENTS_UNDERPAID",
        r"^INST_.*(UNDERPAID|UNPAID|PAY_RATIO|PAY_DIFF)",
        "Some instalments on previous loans were not paid in full",
    ),
    _rule("INSTALMENT_HISTORY", r"^INST_", "Repayment record on previous loans"),
    _rule("CARD_LATE", r"^CC_.*(SK_DPD|DPD_FLAG)", "Late payments on credit cards"),
    _rule(
        "CARD_UTILISATION",
        r"^CC_.*(UTIL|RECEIVABLE|RECIVABLE|AMT_BALANCE)",
        "Credit cards are used close to their limit",
    ),
    _rule("CARD_CASH", r"^CC_.*ATM", "Frequent cash withdrawals on credit cards"),
    _rule("CARD_DRAWINGS", r"^CC_.*DRAW", "Heavy spending on credit cards"),
    _rule(
        "CARD_PAYMENTS",
        r"^CC_.*(PAY_TO|PAYMENT|INST_MIN)",
        "Credit-card repayments are small compared with the balance",
    ),
    _rule("CARD_HISTORY", r"^CC_", "Credit-card history"),
    _rule("POS_LATE", r"^POS_.*DPD", "Days past due on consumer and cash loans"),
    _rule("POS_HISTORY", r"^POS_", "Repayment record on consumer and cash loans"),
    _rule(
        "BUREAU_OVERDUE",
        r"^(BURO_.*(OVERDUE|PROLONG|BAD|DPD|WORST|LATEST_BUCKET)|BB_DPD)",
        "Late or missed payments on credits with other lenders",
    ),
    _rule(
        "BUREAU_DEBT",
        r"^BURO_.*(DEBT|ANNUITY|LIMIT)",
        "High outstanding debt with other lenders",
    ),
    _rule(
        "BUREAU_RECENT",
        r"^BURO_(OPENED_|6M_|12M_|24M_|ACTIVE_|ACT_)",
        "Several credits recently opened or still open with other lenders",
    ),
    _rule("BUREAU_HISTORY", r"^(BURO|BB)_", "Credit history with other lenders"),
    _rule(
        "PREVIOUS_REFUSED",
        r"^PREV_(.*REFUSED|REF_|CODE_REJECT_REASON)",
        "Previous credit applications were refused",
    ),
    _rule("PREVIOUS_APPLICATIONS", r"^PREV_", "Terms and outcomes of previous credit applications"),
    _rule("EXTERNAL_SCORES", r"^EXT_SOURCE", "Low credit scores from external credit agencies"),
    _rule(
        "ANNUITY_TO_INCOME",
        r"^(ANNUITY_TO_INCOME|ANNUITY_PER_PERSON|INCOME_LEFT_PER_PERSON)",
        "Repayments would take a large share of income",
    ),
    _rule(
        "CREDIT_TO_INCOME",
        r"^(CREDIT_TO_INCOME|GOODS_TO_INCOME)",
        "Requested credit is high relative to income",
    ),
    _rule(
        "CREDIT_TO_GOODS",
        r"^(CREDIT_TO_GOODS|CREDIT_MINUS_GOODS)",
        "Requested credit is high relative to the price of the goods",
    ),
    _rule(
        "REPAYMENT_TERM",
        r"^(CREDIT_TERM|ANNUITY_TO_CREDIT)",
        "Repayment period and instalment size of the requested credit",
    ),
    _rule("NOT_EMPLOYED", r"^NOT_EMPLOYED", "No current employment reported"),
    _rule(
        "EMPLOYMENT",
        r"^(DAYS_EMPLOYED|EMPLOYED_)",
        "Short time in current employment",
    ),
    _rule("ENQUIRIES", r"^(AMT_REQ_CREDIT_BUREAU|BUREAU_REQUESTS)", "Recent credit enquiries"),
    _rule("AGE", r"^(AGE_YEARS|DAYS_BIRTH)", "Age was a factor in the score"),
    _rule(
        "CONTACT_CHANGES",
        r"^(DAYS_LAST_PHONE_CHANGE|PHONE_CHANGE|DAYS_ID_PUBLISH|ID_PUBLISH|DAYS_REGISTRATION"
        r"|REGISTRATION_TO_AGE)",
        "Recent change of phone number, identity document or registration",
    ),
    _rule("SOCIAL_CIRCLE", r"SOCIAL", "Defaults among people in the applicant's social circle"),
    _rule(
        "REGION",
        r"^(REGION|REG_|LIVE_|INCOME_TO_REGION)",
        "Risk rating of the region of residence or work",
    ),
    _rule("INCOME", r"^(AMT_INCOME_TOTAL|INCOME_PER)", "Level of income"),
    _rule("CREDIT_AMOUNT", r"^(AMT_CREDIT|AMT_GOODS_PRICE)$", "Size of the requested credit"),
    _rule("ANNUITY_AMOUNT", r"^AMT_ANNUITY$", "Size of the requested repayments"),
    _rule(
        "OCCUPATION",
        r"^(OCCUPATION_TYPE|ORGANIZATION_TYPE|NAME_INCOME_TYPE)",
        "Type of occupation, employer or income",
    ),
    _rule("EDUCATION", r"^NAME_EDUCATION_TYPE", "Level of education"),
    _rule(
        "HOUSING",
        r"^(NAME_HOUSING_TYPE|FLAG_OWN_REALTY|BUILDING_|TOTALAREA|HOUSETYPE|WALLSMATERIAL"
        r"|FONDKAPREMONT|EMERGENCYSTATE)|_(AVG|MODE|MEDI)$",
        "Housing situation",
    ),
    _rule("CAR", r"^(FLAG_OWN_CAR|OWN_CAR_AGE|CAR_AGE)", "Car ownership"),
    _rule(
        "HOUSEHOLD",
        r"^(NAME_FAMILY_STATUS|CNT_CHILDREN|CNT_FAM_MEMBERS|CHILDREN_RATIO|INCOME_PER_CHILD"
        r"|NAME_TYPE_SUITE)",
        "Household size and income per household member",
    ),
    _rule("DOCUMENTS", r"^(FLAG_DOCUMENT|DOCUMENT_COUNT)", "Documents provided"),
    _rule(
        "CONTACT",
        r"^(FLAG_MOBIL|FLAG_EMP_PHONE|FLAG_WORK_PHONE|FLAG_CONT_MOBILE|FLAG_PHONE|FLAG_EMAIL"
        r"|CONTACT_FLAGS)",
        "Contact details provided",
    ),
    _rule("CONTRACT", r"^NAME_CONTRACT_TYPE", "Type of credit requested"),
    _rule(
        "APPLICATION_TIMING",
        r"^(WEEKDAY_APPR_PROCESS_START|HOUR_APPR_PROCESS_START)",
        "When the application was made",
    ),
)
FALLBACK = ReasonRule("OTHER", re.compile(".*"), "Other details of the application")
TOTAL_DEBT = ReasonRule(
    "TOTAL_DEBT", re.compile("^IX_TOTAL_DEBT"), "Total debt is high relative to income"
)
_BY_CODE = {rule.code: rule for rule in (*RULES, TOTAL_DEBT)}

# The applicant's own figure, where the strongest feature of a reason states it plainly.
_DETAILS: dict[str, Callable[[float], str | None]] = {
    "CREDIT_TO_INCOME": lambda v: f"The credit is {v:.1f} times annual income" if v > 0 else None,
    "ANNUITY_TO_INCOME": lambda v: (
        f"Yearly repayments would be {v:.0%} of annual income" if 0 < v < 10 else None
    ),
    "EXT_SOURCE_MEAN": lambda v: (
        f"Average external score {v:.2f} on a scale of 0 to 1" if 0 <= v <= 1 else None
    ),
    "CREDIT_TO_GOODS": lambda v: f"The credit is {v:.0%} of the goods price" if v > 0 else None,
}


@functools.lru_cache(maxsize=4096)  # a few hundred feature names, asked for every decision
def rule_for(feature: str) -> ReasonRule | None:
    """The reason a feature tells, or None for a feature that must never be named."""
    if _NEVER_NAMED.search(feature):
        return None
    if feature in _INTERACTIONS:
        return _BY_CODE[_INTERACTIONS[feature]]
    for rule in RULES:
        if rule.pattern.search(feature):
            return rule
    return FALLBACK


def reasons_from_contributions(
    contributions: Iterable[Mapping[str, Any]], *, limit: int = DEFAULT_REASON_COUNT
) -> list[dict[str, Any]]:
    """Up to `limit` reasons that raised the risk most, strongest first.

    Each reason is `{"code", "text", "detail", "contribution", "features"}`: the summed
    logit contribution of its risk-raising features and their names (the strongest first).
    `detail` states the applicant's own figure when the strongest feature is a ratio that
    reads well ("5.0 times annual income"), else "". An application with nothing raising its
    risk gets no reasons.
    """
    grouped: dict[str, dict[str, Any]] = {}
    for item in contributions:
        contribution = _number(item.get("contribution"))
        if contribution is None or contribution <= 0:
            continue
        feature = str(item.get("feature", ""))
        rule = rule_for(feature)
        if rule is None:
            continue
        entry = grouped.get(rule.code)
        if entry is None:
            entry = grouped[rule.code] = {
                "rule": rule,
                "contribution": 0.0,
                "features": [],
                "top": (contribution, feature, item.get("value")),
            }
        entry["contribution"] += contribution
        entry["features"].append(feature)
        if contribution > entry["top"][0]:
            entry["top"] = (contribution, feature, item.get("value"))
    ranked = sorted(grouped.values(), key=lambda e: e["contribution"], reverse=True)[:limit]
    reasons = []
    for entry in ranked:
        rule: ReasonRule = entry["rule"]
        _, top_feature, top_value = entry["top"]
        reasons.append(
            {
                "code": rule.code,
                "text": rule.text,
                "detail": _detail(top_feature, top_value),
                "contribution": round(entry["contribution"], 6),
                "features": entry["features"],
            }
        )
    return reasons


def _detail(feature: str, value: Any) -> str:
    formatter = _DETAILS.get(feature)
    number = _number(value)
    if formatter is None or number is None:
        return ""
    return formatter(number) or ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
