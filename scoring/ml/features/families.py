"""Feature families and readable labels: the one place that says what a feature is about.

A *family* is the story a group of features tells about an applicant ("late instalments on
previous loans", "external credit scores"): reasons are worded by family, explanations are
grouped by family. Each model feature belongs to the first family whose pattern matches its
name (the naming of the feature blocks: application columns, domain ratios, history
aggregates prefixed by their table); a named interaction belongs to the family declared
beside it in `interactions.INTERACTIONS`. Features derived from a protected attribute
(gender) belong to no family and are never named to anyone.

`COLUMN_LABELS` are the words an officer knows for the application columns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from scoring.ml.features.interactions import INTERACTIONS

#: Features that must never be named to an applicant, whatever a model did with them.
_NEVER_NAMED = re.compile(r"GENDER", re.IGNORECASE)


@dataclass(frozen=True)
class Family:
    code: str
    pattern: re.Pattern[str]
    #: How the family reads as an adverse-action reason.
    text: str


def _family(code: str, pattern: str, text: str) -> Family:
    return Family(code, re.compile(pattern), text)


# Order matters: the first rule whose pattern matches a feature name wins, so the specific
# stories (late instalments, refused applications) come before the broad ones (any bureau
# feature). History features carry their table's prefix: INST_, CC_, POS_, BURO_, BB_, PREV_.
FAMILIES: tuple[Family, ...] = (
    _family(
        "INSTALMENTS_LATE_RECENT",
        r"^INST_(6M|12M)_(LATE|DPD)",
        "Several instalments paid late in the last year",
    ),
    _family(
        "INSTALMENTS_LATE",
        r"^INST_(24M_)?(LATE|DPD)",
        "Instalments on previous loans were paid late",
    ),
    _family(
        "INSTALMENTS_UNDERPAID",
        r"^INST_.*(UNDERPAID|UNPAID|PAY_RATIO|PAY_DIFF)",
        "Some instalments on previous loans were not paid in full",
    ),
    _family("INSTALMENT_HISTORY", r"^INST_", "Repayment record on previous loans"),
    _family("CARD_LATE", r"^CC_.*(SK_DPD|DPD_FLAG)", "Late payments on credit cards"),
    _family(
        "CARD_UTILISATION",
        r"^CC_.*(UTIL|RECEIVABLE|RECIVABLE|AMT_BALANCE)",
        "Credit cards are used close to their limit",
    ),
    _family("CARD_CASH", r"^CC_.*ATM", "Frequent cash withdrawals on credit cards"),
    _family("CARD_DRAWINGS", r"^CC_.*DRAW", "Heavy spending on credit cards"),
    _family(
        "CARD_PAYMENTS",
        r"^CC_.*(PAY_TO|PAYMENT|INST_MIN)",
        "Credit-card repayments are small compared with the balance",
    ),
    _family("CARD_HISTORY", r"^CC_", "Credit-card history"),
    _family("POS_LATE", r"^POS_.*DPD", "Days past due on consumer and cash loans"),
    _family("POS_HISTORY", r"^POS_", "Repayment record on consumer and cash loans"),
    _family(
        "BUREAU_OVERDUE",
        r"^(BURO_.*(OVERDUE|PROLONG|BAD|DPD|WORST|LATEST_BUCKET)|BB_DPD)",
        "Late or missed payments on credits with other lenders",
    ),
    _family(
        "BUREAU_DEBT",
        r"^BURO_.*(DEBT|ANNUITY|LIMIT)",
        "High outstanding debt with other lenders",
    ),
    _family(
        "BUREAU_RECENT",
        r"^BURO_(OPENED_|6M_|12M_|24M_|ACTIVE_|ACT_)",
        "Several credits recently opened or still open with other lenders",
    ),
    _family("BUREAU_HISTORY", r"^(BURO|BB)_", "Credit history with other lenders"),
    _family(
        "PREVIOUS_REFUSED",
        r"^PREV_(.*REFUSED|REF_|CODE_REJECT_REASON)",
        "Previous credit applications were refused",
    ),
    _family(
        "PREVIOUS_APPLICATIONS", r"^PREV_", "Terms and outcomes of previous credit applications"
    ),
    _family("EXTERNAL_SCORES", r"^EXT_SOURCE", "Low credit scores from external credit agencies"),
    _family(
        "ANNUITY_TO_INCOME",
        r"^(ANNUITY_TO_INCOME|ANNUITY_PER_PERSON|INCOME_LEFT_PER_PERSON)",
        "Repayments would take a large share of income",
    ),
    _family(
        "CREDIT_TO_INCOME",
        r"^(CREDIT_TO_INCOME|GOODS_TO_INCOME)",
        "Requested credit is high relative to income",
    ),
    _family(
        "CREDIT_TO_GOODS",
        r"^(CREDIT_TO_GOODS|CREDIT_MINUS_GOODS)",
        "Requested credit is high relative to the price of the goods",
    ),
    _family(
        "REPAYMENT_TERM",
        r"^(CREDIT_TERM|ANNUITY_TO_CREDIT)",
        "Repayment period and instalment size of the requested credit",
    ),
    _family("NOT_EMPLOYED", r"^NOT_EMPLOYED", "No current employment reported"),
    _family(
        "EMPLOYMENT",
        r"^(DAYS_EMPLOYED|EMPLOYED_)",
        "Short time in current employment",
    ),
    _family("ENQUIRIES", r"^(AMT_REQ_CREDIT_BUREAU|BUREAU_REQUESTS)", "Recent credit enquiries"),
    _family("AGE", r"^(AGE_YEARS|DAYS_BIRTH)", "Age was a factor in the score"),
    _family(
        "CONTACT_CHANGES",
        r"^(DAYS_LAST_PHONE_CHANGE|PHONE_CHANGE|DAYS_ID_PUBLISH|ID_PUBLISH|DAYS_REGISTRATION"
        r"|REGISTRATION_TO_AGE)",
        "Recent change of phone number, identity document or registration",
    ),
    _family("SOCIAL_CIRCLE", r"SOCIAL", "Defaults among people in the applicant's social circle"),
    _family(
        "REGION",
        r"^(REGION|REG_|LIVE_|INCOME_TO_REGION)",
        "Risk rating of the region of residence or work",
    ),
    _family("INCOME", r"^(AMT_INCOME_TOTAL|INCOME_PER)", "Level of income"),
    _family("CREDIT_AMOUNT", r"^(AMT_CREDIT|AMT_GOODS_PRICE)$", "Size of the requested credit"),
    _family("ANNUITY_AMOUNT", r"^AMT_ANNUITY$", "Size of the requested repayments"),
    _family(
        "OCCUPATION",
        r"^(OCCUPATION_TYPE|ORGANIZATION_TYPE|NAME_INCOME_TYPE)",
        "Type of occupation, employer or income",
    ),
    _family("EDUCATION", r"^NAME_EDUCATION_TYPE", "Level of education"),
    _family(
        "HOUSING",
        r"^(NAME_HOUSING_TYPE|FLAG_OWN_REALTY|BUILDING_|TOTALAREA|HOUSETYPE|WALLSMATERIAL"
        r"|FONDKAPREMONT|EMERGENCYSTATE)|_(AVG|MODE|MEDI)$",
        "Housing situation",
    ),
    _family("CAR", r"^(FLAG_OWN_CAR|OWN_CAR_AGE|CAR_AGE)", "Car ownership"),
    _family(
        "HOUSEHOLD",
        r"^(NAME_FAMILY_STATUS|CNT_CHILDREN|CNT_FAM_MEMBERS|CHILDREN_RATIO|INCOME_PER_CHILD"
        r"|NAME_TYPE_SUITE)",
        "Household size and income per household member",
    ),
    _family("DOCUMENTS", r"^(FLAG_DOCUMENT|DOCUMENT_COUNT)", "Documents provided"),
    _family(
        "CONTACT",
        r"^(FLAG_MOBIL|FLAG_EMP_PHONE|FLAG_WORK_PHONE|FLAG_CONT_MOBILE|FLAG_PHONE|FLAG_EMAIL"
        r"|CONTACT_FLAGS)",
        "Contact details provided",
    ),
    _family("CONTRACT", r"^NAME_CONTRACT_TYPE", "Type of credit requested"),
    _family(
        "APPLICATION_TIMING",
        r"^(WEEKDAY_APPR_PROCESS_START|HOUR_APPR_PROCESS_START)",
        "When the application was made",
    ),
)
FALLBACK = Family("OTHER", re.compile(".*"), "Other details of the application")
TOTAL_DEBT = Family(
    "TOTAL_DEBT", re.compile("^IX_TOTAL_DEBT"), "Total debt is high relative to income"
)
BY_CODE: dict[str, Family] = {family.code: family for family in (*FAMILIES, TOTAL_DEBT, FALLBACK)}
_INTERACTION_FAMILY: dict[str, str] = {name: family for name, family, *_ in INTERACTIONS}


@functools.lru_cache(maxsize=4096)  # a few hundred feature names, asked for every decision
def family_of(feature: str) -> Family | None:
    """The family a feature belongs to, or None for a feature that must never be named."""
    if _NEVER_NAMED.search(feature):
        return None
    if feature in _INTERACTION_FAMILY:
        return BY_CODE[_INTERACTION_FAMILY[feature]]
    for family in FAMILIES:
        if family.pattern.search(feature):
            return family
    return FALLBACK


# Names an officer reads, for the application columns.
COLUMN_LABELS: dict[str, str] = {
    "AMT_INCOME_TOTAL": "Annual income",
    "AMT_CREDIT": "Requested credit",
    "AMT_ANNUITY": "Annuity",
    "AMT_GOODS_PRICE": "Goods price",
    "DAYS_BIRTH": "Age",
    "DAYS_EMPLOYED": "Time employed",
    "DAYS_REGISTRATION": "Registration changed",
    "DAYS_ID_PUBLISH": "ID document issued",
    "DAYS_LAST_PHONE_CHANGE": "Phone changed",
    "EXT_SOURCE_1": "External score 1",
    "EXT_SOURCE_2": "External score 2",
    "EXT_SOURCE_3": "External score 3",
    "CNT_CHILDREN": "Children",
    "CNT_FAM_MEMBERS": "Household members",
    "OWN_CAR_AGE": "Car age",
    "NAME_CONTRACT_TYPE": "Contract type",
    "NAME_INCOME_TYPE": "Income type",
    "NAME_EDUCATION_TYPE": "Education",
    "NAME_FAMILY_STATUS": "Family status",
    "NAME_HOUSING_TYPE": "Housing",
    "OCCUPATION_TYPE": "Occupation",
    "ORGANIZATION_TYPE": "Employer's sector",
    "FLAG_OWN_CAR": "Owns a car",
    "FLAG_OWN_REALTY": "Owns a home",
    "REGION_RATING_CLIENT": "Region rating",
    "REGION_RATING_CLIENT_W_CITY": "Region rating (city)",
    "REGION_POPULATION_RELATIVE": "Region population",
}
