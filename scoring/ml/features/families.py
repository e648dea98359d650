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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scoring.ml.features.interactions import INTERACTIONS

#: Features that must never be named to an applicant, whatever a model did with them.
_NEVER_NAMED = re.compile(r"GENDER", re.IGNORECASE)


#: The application column every age-derived feature has among its inputs: any feature built
#: from it belongs to the ``AGE`` family, whatever its name (the Reg B age rule sums them).
AGE_INPUT = "DAYS_BIRTH"
#: Age from which the age family may never raise the risk (12 CFR 1002.6(b)(2)).
AGE_RULE_YEARS = 62

HIGH = "high"
LOW = "low"


@dataclass(frozen=True)
class Measure:
    """A feature whose value states a directional reason's fact.

    ``adverse`` says which side of the training population's median the applicant's value
    must be on for the reason's words to be true (``high``: above the median, ``low``:
    below). ``fact`` is formatted with ``value`` and ``share``: the share of the training
    population on the other side ("80% of applicants score higher").
    """

    feature: str
    adverse: str
    fact: str


@dataclass(frozen=True)
class Family:
    code: str
    pattern: re.Pattern[str]
    #: How the family reads as an adverse-action reason.
    text: str
    #: How the family is named in a chart or the API (a noun phrase an officer knows).
    label: str = ""
    #: For a reason that names a direction ("low", "high", "late"): the features that can
    #: show it. The reason is given only when one of them is on the adverse side.
    measures: tuple[Measure, ...] = ()

    @property
    def key(self) -> str:
        """The family as the API names it (``age``, ``external_scores``)."""
        return self.code.lower()

    @property
    def directional(self) -> bool:
        return bool(self.measures)


def _family(
    code: str, pattern: str, text: str, label: str = "", *measures: tuple[str, str, str]
) -> Family:
    return Family(
        code, re.compile(pattern), text, label or text, tuple(Measure(*m) for m in measures)
    )


# Order matters: the first rule whose pattern matches a feature name wins, so the specific
# stories (late instalments, refused applications) come before the broad ones (any bureau
# feature). History features carry their table's prefix: INST_, CC_, POS_, BURO_, BB_, PREV_.
FAMILIES: tuple[Family, ...] = (
    _family(
        "INSTALMENTS_LATE_RECENT",
        r"^INST_(6M|12M)_(LATE|DPD)",
        "Instalments paid late in the last year",
        "Late instalments, last year",
        (
            "INST_12M_LATE_MEAN",
            HIGH,
            "{value:.0%} of instalments due in the last 12 months "
            "were paid late; {share:.0%} of applicants paid fewer late",
        ),
        (
            "INST_6M_LATE_MEAN",
            HIGH,
            "{value:.0%} of instalments due in the last 6 months "
            "were paid late; {share:.0%} of applicants paid fewer late",
        ),
    ),
    _family(
        "INSTALMENTS_LATE",
        r"^INST_(24M_)?(LATE|DPD)",
        "Instalments on previous loans were paid late",
        "Late instalments",
        (
            "INST_LATE_SUM",
            HIGH,
            "{value:,.0f} instalments paid late; {share:.0%} of applicants paid fewer late",
        ),
    ),
    _family(
        "INSTALMENTS_UNDERPAID",
        r"^INST_.*(UNDERPAID|UNPAID|PAY_RATIO|PAY_DIFF)",
        "Some instalments on previous loans were not paid in full",
        "Instalments not paid in full",
        (
            "INST_UNDERPAID_SUM",
            HIGH,
            "{value:,.0f} instalments not paid in full; {share:.0%} of applicants had fewer",
        ),
    ),
    _family(
        "INSTALMENT_HISTORY", r"^INST_", "Repayment record on previous loans", "Repayment record"
    ),
    _family(
        "CARD_LATE",
        r"^CC_.*(SK_DPD|DPD_FLAG)",
        "Late payments on credit cards",
        "Late card payments",
        (
            "CC_DPD_FLAG_MEAN",
            HIGH,
            "a payment was late in {value:.0%} of credit-card months; "
            "{share:.0%} of applicants were late less often",
        ),
    ),
    _family(
        "CARD_UTILISATION",
        r"^CC_.*(UTIL|RECEIVABLE|RECIVABLE|AMT_BALANCE)",
        "Credit cards are used close to their limit",
        "Card use against limit",
        (
            "CC_UTIL_MEAN",
            HIGH,
            "cards used at {value:.0%} of their limit on average; "
            "{share:.0%} of applicants use less",
        ),
    ),
    _family(
        "CARD_CASH",
        r"^CC_.*ATM",
        "Frequent cash withdrawals on credit cards",
        "Card cash withdrawals",
        (
            "CC_ATM_MONTH_MEAN",
            HIGH,
            "cash withdrawn in {value:.0%} of credit-card months; "
            "{share:.0%} of applicants withdraw less often",
        ),
    ),
    _family(
        "CARD_DRAWINGS",
        r"^CC_.*DRAW",
        "Heavy spending on credit cards",
        "Card spending",
        (
            "CC_DRAW_TO_LIMIT_MEAN",
            HIGH,
            "monthly card spending {value:.0%} of the limit on "
            "average; {share:.0%} of applicants spend less",
        ),
    ),
    _family(
        "CARD_PAYMENTS",
        r"^CC_.*(PAY_TO|PAYMENT|INST_MIN)",
        "Credit-card repayments are small compared with the balance",
        "Card repayments",
        (
            "CC_PAY_TO_BALANCE_MEAN",
            LOW,
            "monthly card repayments {value:.0%} of the balance "
            "on average; {share:.0%} of applicants repay more",
        ),
    ),
    _family("CARD_HISTORY", r"^CC_", "Credit-card history", "Credit-card history"),
    _family(
        "POS_LATE",
        r"^POS_.*DPD",
        "Days past due on consumer and cash loans",
        "Late consumer and cash loans",
        (
            "POS_DPD_FLAG_MEAN",
            HIGH,
            "past due in {value:.0%} of months on consumer and cash "
            "loans; {share:.0%} of applicants were past due less often",
        ),
    ),
    _family(
        "POS_HISTORY",
        r"^POS_",
        "Repayment record on consumer and cash loans",
        "Consumer and cash loans",
    ),
    _family(
        "BUREAU_OVERDUE",
        r"^(BURO_.*(OVERDUE|PROLONG|BAD|DPD|WORST|LATEST_BUCKET)|BB_DPD)",
        "Late or missed payments on credits with other lenders",
        "Late payments, other lenders",
        (
            "BURO_BAD_COUNT",
            HIGH,
            "{value:,.0f} credits with other lenders sold or written "
            "off; {share:.0%} of applicants have fewer",
        ),
        (
            "BURO_ACT_CREDIT_DAY_OVERDUE_MAX",
            HIGH,
            "a credit with another lender is "
            "{value:,.0f} days overdue; {share:.0%} of applicants are less overdue",
        ),
        (
            "BURO_BB_DPD_SHARE_MAX",
            HIGH,
            "payments past due in {value:.0%} of the months of a "
            "credit with another lender; {share:.0%} of applicants were past due less often",
        ),
        (
            "BURO_AMT_CREDIT_MAX_OVERDUE_MAX",
            HIGH,
            "up to {value:,.0f} overdue on a credit "
            "with another lender; {share:.0%} of applicants had less overdue",
        ),
    ),
    _family(
        "BUREAU_DEBT",
        r"^BURO_.*(DEBT|ANNUITY|LIMIT)",
        "High outstanding debt with other lenders",
        "Debt with other lenders",
        (
            "BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM",
            HIGH,
            "{value:,.0f} owed to other lenders; {share:.0%} of applicants owe less",
        ),
    ),
    _family(
        "BUREAU_RECENT",
        r"^BURO_(OPENED_|6M_|12M_|24M_|ACTIVE_|ACT_)",
        "Several credits recently opened or still open with other lenders",
        "Open and recent credits",
        (
            "BURO_OPENED_12M_COUNT",
            HIGH,
            "{value:,.0f} credits opened with other lenders in "
            "the last 12 months; {share:.0%} of applicants opened fewer",
        ),
        (
            "BURO_ACTIVE_COUNT",
            HIGH,
            "{value:,.0f} credits open with other lenders; {share:.0%} of applicants have fewer",
        ),
    ),
    _family(
        "BUREAU_HISTORY",
        r"^(BURO|BB)_",
        "Credit history with other lenders",
        "Credit history, other lenders",
    ),
    _family(
        "PREVIOUS_REFUSED",
        r"^PREV_(.*REFUSED|REF_|CODE_REJECT_REASON)",
        "Previous credit applications were refused",
        "Refused applications",
        (
            "PREV_REFUSED_COUNT",
            HIGH,
            "{value:,.0f} previous applications refused; "
            "{share:.0%} of applicants had fewer refused",
        ),
    ),
    _family(
        "PREVIOUS_APPLICATIONS",
        r"^PREV_",
        "Terms and outcomes of previous credit applications",
        "Previous applications",
    ),
    _family(
        "EXTERNAL_SCORES",
        r"^EXT_SOURCE",
        "Low credit scores from external credit agencies",
        "External credit scores",
        (
            "EXT_SOURCE_MEAN",
            LOW,
            "average external score {value:.2f}; {share:.0%} of applicants score higher",
        ),
    ),
    _family(
        "ANNUITY_TO_INCOME",
        r"^(ANNUITY_TO_INCOME|ANNUITY_PER_PERSON|INCOME_LEFT_PER_PERSON)",
        "Repayments would take a large share of income",
        "Repayments against income",
        (
            "ANNUITY_TO_INCOME",
            HIGH,
            "yearly repayments would be {value:.0%} of annual "
            "income; {share:.0%} of applicants ask for less",
        ),
    ),
    _family(
        "CREDIT_TO_INCOME",
        r"^(CREDIT_TO_INCOME|GOODS_TO_INCOME)",
        "Requested credit is high relative to income",
        "Credit against income",
        (
            "CREDIT_TO_INCOME",
            HIGH,
            "the credit is {value:.1f} times annual income; {share:.0%} of applicants ask for less",
        ),
    ),
    _family(
        "CREDIT_TO_GOODS",
        r"^(CREDIT_TO_GOODS|CREDIT_MINUS_GOODS)",
        "Requested credit is high relative to the price of the goods",
        "Credit against goods price",
        (
            "CREDIT_TO_GOODS",
            HIGH,
            "the credit is {value:.0%} of the goods price; {share:.0%} of applicants ask for less",
        ),
    ),
    _family(
        "REPAYMENT_TERM",
        r"^(CREDIT_TERM|ANNUITY_TO_CREDIT)",
        "Repayment period and instalment size of the requested credit",
        "Repayment period",
    ),
    _family(
        "NOT_EMPLOYED",
        r"^NOT_EMPLOYED",
        "No current employment reported",
        "Not employed",
        (
            "NOT_EMPLOYED",
            HIGH,
            "no current employment reported; {share:.0%} of applicants are employed",
        ),
    ),
    _family(
        "EMPLOYMENT",
        r"^(DAYS_EMPLOYED|EMPLOYED_)",
        "Short time in current employment",
        "Time in employment",
        (
            "EMPLOYED_YEARS",
            LOW,
            "{value:.1f} years in current employment; "
            "{share:.0%} of applicants have been employed longer",
        ),
    ),
    _family(
        "ENQUIRIES",
        r"^(AMT_REQ_CREDIT_BUREAU|BUREAU_REQUESTS)",
        "Recent credit enquiries",
        "Credit enquiries",
        (
            "BUREAU_REQUESTS",
            HIGH,
            "{value:,.0f} credit enquiries on record; {share:.0%} of applicants have fewer",
        ),
    ),
    _family("AGE", r"^(AGE_YEARS|DAYS_BIRTH)", "Age was a factor in the score", "Age"),
    _family(
        "CONTACT_CHANGES",
        r"^(DAYS_LAST_PHONE_CHANGE|PHONE_CHANGE|DAYS_ID_PUBLISH|ID_PUBLISH|DAYS_REGISTRATION"
        r"|REGISTRATION_TO_AGE)",
        "Time since the phone number, identity document or registration last changed",
        "Phone, ID and registration changes",
    ),
    _family(
        "SOCIAL_CIRCLE",
        r"SOCIAL",
        "Defaults among people in the applicant's social circle",
        "Social circle",
        (
            "DEF_30_CNT_SOCIAL_CIRCLE",
            HIGH,
            "{value:,.0f} people in the social circle "
            "defaulted; {share:.0%} of applicants know fewer",
        ),
    ),
    _family(
        "REGION",
        r"^(REGION|REG_|LIVE_|INCOME_TO_REGION)",
        "Risk rating of the region of residence or work",
        "Region",
    ),
    _family("INCOME", r"^(AMT_INCOME_TOTAL|INCOME_PER)", "Level of income", "Income"),
    _family(
        "CREDIT_AMOUNT",
        r"^(AMT_CREDIT|AMT_GOODS_PRICE)$",
        "Size of the requested credit",
        "Credit amount",
    ),
    _family(
        "ANNUITY_AMOUNT", r"^AMT_ANNUITY$", "Size of the requested repayments", "Repayment amount"
    ),
    _family(
        "OCCUPATION",
        r"^(OCCUPATION_TYPE|ORGANIZATION_TYPE|NAME_INCOME_TYPE)",
        "Type of occupation, employer or income",
        "Occupation and income type",
    ),
    _family("EDUCATION", r"^NAME_EDUCATION_TYPE", "Level of education", "Education"),
    _family(
        "HOUSING",
        r"^(NAME_HOUSING_TYPE|FLAG_OWN_REALTY|BUILDING_|TOTALAREA|HOUSETYPE|WALLSMATERIAL"
        r"|FONDKAPREMONT|EMERGENCYSTATE)|_(AVG|MODE|MEDI)$",
        "Housing situation",
        "Housing",
    ),
    _family("CAR", r"^(FLAG_OWN_CAR|OWN_CAR_AGE|CAR_AGE)", "Car ownership", "Car"),
    _family(
        "HOUSEHOLD",
        r"^(NAME_FAMILY_STATUS|CNT_CHILDREN|CNT_FAM_MEMBERS|CHILDREN_RATIO|INCOME_PER_CHILD"
        r"|NAME_TYPE_SUITE)",
        "Household size and income per household member",
        "Household",
    ),
    _family("DOCUMENTS", r"^(FLAG_DOCUMENT|DOCUMENT_COUNT)", "Documents provided", "Documents"),
    _family(
        "CONTACT",
        r"^(FLAG_MOBIL|FLAG_EMP_PHONE|FLAG_WORK_PHONE|FLAG_CONT_MOBILE|FLAG_PHONE|FLAG_EMAIL"
        r"|CONTACT_FLAGS)",
        "Contact details provided",
        "Contact details",
    ),
    _family("CONTRACT", r"^NAME_CONTRACT_TYPE", "Type of credit requested", "Contract type"),
    _family(
        "APPLICATION_TIMING",
        r"^(WEEKDAY_APPR_PROCESS_START|HOUR_APPR_PROCESS_START)",
        "When the application was made",
        "Application time",
    ),
)
FALLBACK = _family("OTHER", ".*", "Other details of the application", "Other details")
TOTAL_DEBT = _family(
    "TOTAL_DEBT",
    "^IX_TOTAL_DEBT",
    "Total debt is high relative to income",
    "Total debt against income",
    (
        "IX_TOTAL_DEBT_TO_INCOME",
        HIGH,
        "total debt would be {value:.1f} times annual income; "
        "{share:.0%} of applicants owe less relative to income",
    ),
)
BY_CODE: dict[str, Family] = {family.code: family for family in (*FAMILIES, TOTAL_DEBT, FALLBACK)}
_INTERACTION_FAMILY: dict[str, str] = {name: family for name, family, *_ in INTERACTIONS}
#: Interactions built from the date of birth, known without their spec.
_AGE_DERIVED = frozenset(name for name, _, inputs, *_ in INTERACTIONS if AGE_INPUT in inputs)


@functools.lru_cache(maxsize=4096)  # a few hundred feature names, asked for every decision
@functools.lru_cache(maxsize=8192)  # pure, and asked ~700 times per decision
def family_of(feature: str, inputs: tuple[str, ...] = ()) -> Family | None:
    """The family a feature belongs to, or None for a feature that must never be named.

    ``inputs`` are what the feature is built from (its spec's, or its group's): anything
    built from the date of birth is the ``AGE`` family, so the age rule sees all of it.
    """
    if _NEVER_NAMED.search(feature) or any(_NEVER_NAMED.search(i) for i in inputs):
        return None
    if AGE_INPUT in inputs or feature in _AGE_DERIVED:
        return BY_CODE["AGE"]
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


#: Buckets an explanation shows beside the families: contributions of inputs that were not
#: sent, and of history the applicant has none of (the same items the reasons name).
NOT_PROVIDED_KEY = "not_provided"
NO_HISTORY_KEY = "no_history"
_BUCKET_LABELS = {
    NOT_PROVIDED_KEY: "Information not provided",
    NO_HISTORY_KEY: "No credit history on record",
}


def explanation_key(item: Mapping[str, Any]) -> str:
    """The family an explanation shows a contribution under: its own family when it is about
    data the applicant gave, else the not-provided or no-history bucket (as the reasons do)."""
    status = item.get("status", "given")
    if status == "not_provided":
        return NOT_PROVIDED_KEY
    if status == "no_history":
        return NO_HISTORY_KEY
    family = item.get("family")
    if family:
        return str(family)
    found = family_of(str(item.get("feature", "")))
    return (found or FALLBACK).key


def family_label(key: str) -> str:
    """The readable name of a family key or bucket."""
    if key in _BUCKET_LABELS:
        return _BUCKET_LABELS[key]
    family = BY_CODE.get(key.upper())
    return family.label if family is not None else key.replace("_", " ").capitalize()
