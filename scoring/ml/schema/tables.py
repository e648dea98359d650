"""The Home Credit Default Risk schema, as data.

The eight Kaggle tables, with every column in file order, each column's logical type,
nullability and (for text columns) its vocabulary; the keys inside and across tables; and
the real data's quirks. Everything here was derived from the real rows in
``../shared/data/home_credit_sample/`` (headers, inferred types, vocabularies) and is
hard-coded so this module never reads that folder.

Types follow what ``pandas.read_csv`` infers on the full Kaggle files, so code written
against the Kaggle data keeps working:

* ``INT``: integer text, never empty -> ``int64``. A missing value is an error.
* ``FLOAT``: any number, may be empty -> ``float64`` (NaN for missing). Some of these hold
  only whole numbers (CNT_FAM_MEMBERS, DAYS_REGISTRATION, AMT_REQ_CREDIT_BUREAU_*): Kaggle
  stores them as floats because the full files have gaps there; we keep that.
* ``CATEGORY``: text from a known vocabulary -> pandas ``category`` whose categories are the
  vocabulary (plus, with a warning, any unknown value met in the data; nothing is dropped).

Quirks (the one place they are documented; the loader, the generator and the feature code
refer to :data:`QUIRKS` and the constants below rather than re-stating them):

=====================================  =====================================================
where                                  meaning and how CredScope treats it
=====================================  =====================================================
application_*.DAYS_EMPLOYED = 365243   "not employed": pensioners and the unemployed (~18% of
                                       rows), always with ORGANIZATION_TYPE = XNA and
                                       FLAG_EMP_PHONE = 0. Kept as written by the loader;
                                       features turn it into missing plus a flag.
XNA / XAP category values              XNA = "not available", XAP = "not applicable" (e.g.
                                       CODE_REJECT_REASON of an approved application,
                                       NAME_CASH_LOAN_PURPOSE of a consumer loan). They are
                                       real categories, distinct from an empty field; kept.
application_*.CODE_GENDER = XNA        4 rows of the full train file (none in the sample).
                                       Kept; gender is protected and never a model input.
previous_application.DAYS_FIRST_       365243 = "did not happen / open-ended" (e.g. no
DRAWING, DAYS_FIRST_DUE,               drawing yet, no termination). Empty when the
DAYS_LAST_DUE_1ST_VERSION,             application was never approved. Kept as written;
DAYS_LAST_DUE, DAYS_TERMINATION        features map 365243 to missing.
every DAYS_* column                    whole days relative to the current application (day 0;
                                       the past is negative). Future dates are positive
                                       (bureau DAYS_CREDIT_ENDDATE, previous
                                       DAYS_LAST_DUE_1ST_VERSION). A few bureau dates reach
                                       -42,000 days: real data errors, kept.
MONTHS_BALANCE                         months relative to the application: 0 or -1 is the
                                       latest month, always <= 0.
bureau_balance.STATUS                  0 = no days past due, 1..5 = DPD buckets of 30 days
                                       (5 = 120+ or written off), C = closed, X = unknown.
building columns (*_AVG, *_MODE,       missing together for 50-70% of applicants (no
*_MEDI, FONDKAPREMONT_MODE, ...)       housing data); NaN means "not known", not zero.
negative amounts                       bureau AMT_CREDIT_SUM_DEBT / _LIMIT and credit-card
                                       balances can be negative (overpayment); kept.
installments_payments                  several rows per instalment (partial payments);
                                       empty DAYS_ENTRY_PAYMENT / AMT_PAYMENT = not paid;
                                       NUM_INSTALMENT_VERSION 0 = credit-card instalment.
AMT_RECIVABLE                          Kaggle's own spelling; the column keeps it.
orphan history rows                    history rows whose parent is absent (a bureau_balance
                                       SK_ID_BUREAU missing from bureau, a POS row whose
                                       SK_ID_PREV is missing from previous_application, a
                                       client in neither application file). The full Kaggle
                                       files have them; reported as warnings with counts.
=====================================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scoring.ml.schema.vocabularies import (
    APPLICATION_VOCABULARIES,
    BUREAU_BALANCE_VOCABULARIES,
    BUREAU_VOCABULARIES,
    CREDIT_CARD_VOCABULARIES,
    FULL_DATA_ONLY,
    POS_VOCABULARIES,
    PREVIOUS_VOCABULARIES,
)

__all__ = [
    "APPLICATION_TEST_HEADER",
    "APPLICATION_TRAIN_HEADER",
    "BUILDING_STEMS",
    "DAYS_SENTINEL",
    "FULL_DATA_ONLY",
    "HISTORY_TABLES",
    "NOT_APPLICABLE",
    "NOT_AVAILABLE",
    "PREVIOUS_SENTINEL_COLUMNS",
    "QUIRKS",
    "SCHEMA_VERSION",
    "TABLES",
    "TABLE_NAMES",
    "TARGET",
    "TARGET_VALUES",
    "Column",
    "ForeignKey",
    "Kind",
    "Quirk",
    "Table",
]

SCHEMA_VERSION = "1"

#: The sentinel day offset Home Credit writes for "not employed" / "never happened".
DAYS_SENTINEL = 365243

#: previous_application columns that use :data:`DAYS_SENTINEL`.
PREVIOUS_SENTINEL_COLUMNS: tuple[str, ...] = (
    "DAYS_FIRST_DRAWING",
    "DAYS_FIRST_DUE",
    "DAYS_LAST_DUE_1ST_VERSION",
    "DAYS_LAST_DUE",
    "DAYS_TERMINATION",
)

NOT_AVAILABLE = "XNA"
NOT_APPLICABLE = "XAP"


class Kind(StrEnum):
    INT = "int"
    FLOAT = "float"
    CATEGORY = "category"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool
    vocabulary: tuple[str, ...] = ()

    @property
    def pandas_dtype(self) -> str:
        return {"int": "int64", "float": "float64", "category": "category"}[self.kind]


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of the child refers to ``parent_column`` of any of ``parents``."""

    column: str
    parents: tuple[str, ...]
    parent_column: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    #: Single-column primary key: must be unique (a duplicate is an error).
    primary_key: str | None = None
    #: Composite key of the monthly tables: unique in the real sample, so duplicates are
    #: reported, but only as warnings (Home Credit never documented these as keys).
    natural_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: For history rows that carry both SK_ID_PREV and SK_ID_CURR: their SK_ID_CURR must be
    #: the one previous_application gives that SK_ID_PREV.
    client_matches_previous: bool = False
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def names_of(self, kind: Kind) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind is kind)


@dataclass(frozen=True)
class Quirk:
    tables: tuple[str, ...]
    columns: tuple[str, ...]
    value: str
    meaning: str


#: The building measures of the application tables; each comes as _AVG, _MODE and _MEDI.
BUILDING_STEMS: tuple[str, ...] = (
    "APARTMENTS",
    "BASEMENTAREA",
    "YEARS_BEGINEXPLUATATION",
    "YEARS_BUILD",
    "COMMONAREA",
    "ELEVATORS",
    "ENTRANCES",
    "FLOORSMAX",
    "FLOORSMIN",
    "LANDAREA",
    "LIVINGAPARTMENTS",
    "LIVINGAREA",
    "NONLIVINGAPARTMENTS",
    "NONLIVINGAREA",
)
_BUILDING = [f"{stem}_{stat}" for stat in ("AVG", "MODE", "MEDI") for stem in BUILDING_STEMS]


def _names(text: str) -> tuple[str, ...]:
    """Column names written as one space-separated string (the Kaggle headers are long)."""
    return tuple(text.split())


#: application_test's header; application_train has TARGET after SK_ID_CURR.
APPLICATION_TEST_HEADER: tuple[str, ...] = (
    *_names(
        "SK_ID_CURR NAME_CONTRACT_TYPE CODE_GENDER FLAG_OWN_CAR FLAG_OWN_REALTY CNT_CHILDREN "
        "AMT_INCOME_TOTAL AMT_CREDIT AMT_ANNUITY AMT_GOODS_PRICE NAME_TYPE_SUITE NAME_INCOME_TYPE "
        "NAME_EDUCATION_TYPE NAME_FAMILY_STATUS NAME_HOUSING_TYPE REGION_POPULATION_RELATIVE "
        "DAYS_BIRTH DAYS_EMPLOYED DAYS_REGISTRATION DAYS_ID_PUBLISH OWN_CAR_AGE FLAG_MOBIL "
        "FLAG_EMP_PHONE FLAG_WORK_PHONE FLAG_CONT_MOBILE FLAG_PHONE FLAG_EMAIL OCCUPATION_TYPE "
        "CNT_FAM_MEMBERS REGION_RATING_CLIENT REGION_RATING_CLIENT_W_CITY "
        "WEEKDAY_APPR_PROCESS_START HOUR_APPR_PROCESS_START REG_REGION_NOT_LIVE_REGION "
        "REG_REGION_NOT_WORK_REGION LIVE_REGION_NOT_WORK_REGION REG_CITY_NOT_LIVE_CITY "
        "REG_CITY_NOT_WORK_CITY LIVE_CITY_NOT_WORK_CITY ORGANIZATION_TYPE EXT_SOURCE_1 "
        "EXT_SOURCE_2 EXT_SOURCE_3"
    ),
    *_BUILDING,
    *_names(
        "FONDKAPREMONT_MODE HOUSETYPE_MODE TOTALAREA_MODE WALLSMATERIAL_MODE EMERGENCYSTATE_MODE "
        "OBS_30_CNT_SOCIAL_CIRCLE DEF_30_CNT_SOCIAL_CIRCLE OBS_60_CNT_SOCIAL_CIRCLE "
        "DEF_60_CNT_SOCIAL_CIRCLE DAYS_LAST_PHONE_CHANGE"
    ),
    *(f"FLAG_DOCUMENT_{i}" for i in range(2, 22)),
    *(f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR")),
)
APPLICATION_TRAIN_HEADER: tuple[str, ...] = (
    APPLICATION_TEST_HEADER[0],
    "TARGET",
    *APPLICATION_TEST_HEADER[1:],
)

_APPLICATION_INTS = set(
    _names(
        "SK_ID_CURR TARGET CNT_CHILDREN DAYS_BIRTH DAYS_EMPLOYED DAYS_ID_PUBLISH FLAG_MOBIL "
        "FLAG_EMP_PHONE FLAG_WORK_PHONE FLAG_CONT_MOBILE FLAG_PHONE FLAG_EMAIL "
        "REGION_RATING_CLIENT REGION_RATING_CLIENT_W_CITY HOUR_APPR_PROCESS_START "
        "REG_REGION_NOT_LIVE_REGION "
        "REG_REGION_NOT_WORK_REGION LIVE_REGION_NOT_WORK_REGION REG_CITY_NOT_LIVE_CITY "
        "REG_CITY_NOT_WORK_CITY LIVE_CITY_NOT_WORK_CITY"
    )
) | {f"FLAG_DOCUMENT_{i}" for i in range(2, 22)}
_APPLICATION_NULLABLE_CATEGORIES = {
    "NAME_TYPE_SUITE",
    "OCCUPATION_TYPE",
    "FONDKAPREMONT_MODE",
    "HOUSETYPE_MODE",
    "WALLSMATERIAL_MODE",
    "EMERGENCYSTATE_MODE",
}


def _columns(
    header: tuple[str, ...] | str,
    ints: set[str] | str,
    vocabularies: dict[str, tuple[str, ...]],
    nullable_categories: set[str] | frozenset[str] = frozenset(),
) -> tuple[Column, ...]:
    """Columns in header order: INT if listed in ``ints``, CATEGORY if it has a vocabulary,
    FLOAT otherwise."""
    names = _names(header) if isinstance(header, str) else header
    int_names = set(_names(ints)) if isinstance(ints, str) else ints
    out = []
    for name in names:
        if name in int_names:
            out.append(Column(name, Kind.INT, nullable=False))
        elif name in vocabularies:
            out.append(
                Column(
                    name,
                    Kind.CATEGORY,
                    nullable=name in nullable_categories,
                    vocabulary=vocabularies[name],
                )
            )
        else:
            out.append(Column(name, Kind.FLOAT, nullable=True))
    return tuple(out)


_APPLICATIONS = ("application_train", "application_test")
_CLIENT_FK = ForeignKey("SK_ID_CURR", _APPLICATIONS, "SK_ID_CURR")
_PREVIOUS_FK = ForeignKey("SK_ID_PREV", ("previous_application",), "SK_ID_PREV")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "application_train",
            _columns(
                APPLICATION_TRAIN_HEADER,
                _APPLICATION_INTS,
                APPLICATION_VOCABULARIES,
                _APPLICATION_NULLABLE_CATEGORIES,
            ),
            primary_key="SK_ID_CURR",
            description="one row per applicant with a known outcome (TARGET 1 = default)",
        ),
        Table(
            "application_test",
            _columns(
                APPLICATION_TEST_HEADER,
                _APPLICATION_INTS - {"TARGET"},
                APPLICATION_VOCABULARIES,
                _APPLICATION_NULLABLE_CATEGORIES,
            ),
            primary_key="SK_ID_CURR",
            description="one row per applicant to score (no TARGET)",
        ),
        Table(
            "bureau",
            _columns(
                "SK_ID_CURR SK_ID_BUREAU CREDIT_ACTIVE CREDIT_CURRENCY DAYS_CREDIT "
                "CREDIT_DAY_OVERDUE DAYS_CREDIT_ENDDATE DAYS_ENDDATE_FACT AMT_CREDIT_MAX_OVERDUE "
                "CNT_CREDIT_PROLONG AMT_CREDIT_SUM AMT_CREDIT_SUM_DEBT AMT_CREDIT_SUM_LIMIT "
                "AMT_CREDIT_SUM_OVERDUE CREDIT_TYPE DAYS_CREDIT_UPDATE AMT_ANNUITY",
                "SK_ID_CURR SK_ID_BUREAU DAYS_CREDIT CREDIT_DAY_OVERDUE CNT_CREDIT_PROLONG "
                "DAYS_CREDIT_UPDATE",
                BUREAU_VOCABULARIES,
            ),
            primary_key="SK_ID_BUREAU",
            foreign_keys=(_CLIENT_FK,),
            description="credits at other institutions reported by the credit bureau",
        ),
        Table(
            "bureau_balance",
            _columns(
                "SK_ID_BUREAU MONTHS_BALANCE STATUS",
                "SK_ID_BUREAU MONTHS_BALANCE",
                BUREAU_BALANCE_VOCABULARIES,
            ),
            natural_key=("SK_ID_BUREAU", "MONTHS_BALANCE"),
            foreign_keys=(ForeignKey("SK_ID_BUREAU", ("bureau",), "SK_ID_BUREAU"),),
            description="monthly status of each bureau credit",
        ),
        Table(
            "previous_application",
            _columns(
                "SK_ID_PREV SK_ID_CURR NAME_CONTRACT_TYPE AMT_ANNUITY AMT_APPLICATION "
                "AMT_CREDIT AMT_DOWN_PAYMENT AMT_GOODS_PRICE WEEKDAY_APPR_PROCESS_START "
                "HOUR_APPR_PROCESS_START FLAG_LAST_APPL_PER_CONTRACT NFLAG_LAST_APPL_IN_DAY "
                "RATE_DOWN_PAYMENT RATE_INTEREST_PRIMARY RATE_INTEREST_PRIVILEGED "
                "NAME_CASH_LOAN_PURPOSE NAME_CONTRACT_STATUS DAYS_DECISION NAME_PAYMENT_TYPE "
                "CODE_REJECT_REASON NAME_TYPE_SUITE NAME_CLIENT_TYPE NAME_GOODS_CATEGORY "
                "NAME_PORTFOLIO NAME_PRODUCT_TYPE CHANNEL_TYPE SELLERPLACE_AREA "
                "NAME_SELLER_INDUSTRY CNT_PAYMENT NAME_YIELD_GROUP PRODUCT_COMBINATION "
                "DAYS_FIRST_DRAWING DAYS_FIRST_DUE DAYS_LAST_DUE_1ST_VERSION DAYS_LAST_DUE "
                "DAYS_TERMINATION NFLAG_INSURED_ON_APPROVAL",
                "SK_ID_PREV SK_ID_CURR HOUR_APPR_PROCESS_START NFLAG_LAST_APPL_IN_DAY "
                "DAYS_DECISION SELLERPLACE_AREA",
                PREVIOUS_VOCABULARIES,
                {"NAME_TYPE_SUITE", "PRODUCT_COMBINATION"},
            ),
            primary_key="SK_ID_PREV",
            foreign_keys=(_CLIENT_FK,),
            description="earlier Home Credit applications of the applicant",
        ),
        Table(
            "POS_CASH_balance",
            _columns(
                "SK_ID_PREV SK_ID_CURR MONTHS_BALANCE CNT_INSTALMENT CNT_INSTALMENT_FUTURE "
                "NAME_CONTRACT_STATUS SK_DPD SK_DPD_DEF",
                "SK_ID_PREV SK_ID_CURR MONTHS_BALANCE SK_DPD SK_DPD_DEF",
                POS_VOCABULARIES,
            ),
            natural_key=("SK_ID_PREV", "MONTHS_BALANCE"),
            foreign_keys=(_PREVIOUS_FK, _CLIENT_FK),
            client_matches_previous=True,
            description="monthly snapshots of earlier POS and cash loans",
        ),
        Table(
            "installments_payments",
            _columns(
                "SK_ID_PREV SK_ID_CURR NUM_INSTALMENT_VERSION NUM_INSTALMENT_NUMBER "
                "DAYS_INSTALMENT DAYS_ENTRY_PAYMENT AMT_INSTALMENT AMT_PAYMENT",
                "SK_ID_PREV SK_ID_CURR NUM_INSTALMENT_NUMBER",
                {},
            ),
            foreign_keys=(_PREVIOUS_FK, _CLIENT_FK),
            client_matches_previous=True,
            description="instalments due and payments made on earlier Home Credit credits",
        ),
        Table(
            "credit_card_balance",
            _columns(
                "SK_ID_PREV SK_ID_CURR MONTHS_BALANCE AMT_BALANCE AMT_CREDIT_LIMIT_ACTUAL "
                "AMT_DRAWINGS_ATM_CURRENT AMT_DRAWINGS_CURRENT AMT_DRAWINGS_OTHER_CURRENT "
                "AMT_DRAWINGS_POS_CURRENT AMT_INST_MIN_REGULARITY AMT_PAYMENT_CURRENT "
                "AMT_PAYMENT_TOTAL_CURRENT AMT_RECEIVABLE_PRINCIPAL AMT_RECIVABLE "
                "AMT_TOTAL_RECEIVABLE CNT_DRAWINGS_ATM_CURRENT CNT_DRAWINGS_CURRENT "
                "CNT_DRAWINGS_OTHER_CURRENT CNT_DRAWINGS_POS_CURRENT CNT_INSTALMENT_MATURE_CUM "
                "NAME_CONTRACT_STATUS SK_DPD SK_DPD_DEF",
                "SK_ID_PREV SK_ID_CURR MONTHS_BALANCE AMT_CREDIT_LIMIT_ACTUAL "
                "CNT_DRAWINGS_CURRENT SK_DPD SK_DPD_DEF",
                CREDIT_CARD_VOCABULARIES,
            ),
            natural_key=("SK_ID_PREV", "MONTHS_BALANCE"),
            foreign_keys=(_PREVIOUS_FK, _CLIENT_FK),
            client_matches_previous=True,
            description="monthly snapshots of earlier Home Credit credit cards",
        ),
    )
}

#: Table names in load order: parents before the tables that refer to them.
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
#: An applicant's credit history: every table but the application tables.
HISTORY_TABLES: tuple[str, ...] = tuple(name for name in TABLES if name not in _APPLICATIONS)
#: The target column and its allowed values (anything else would corrupt training).
TARGET = "TARGET"
TARGET_VALUES = (0, 1)

QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        _APPLICATIONS,
        ("DAYS_EMPLOYED",),
        str(DAYS_SENTINEL),
        "not employed (pensioner or unemployed); comes with ORGANIZATION_TYPE=XNA and "
        "FLAG_EMP_PHONE=0",
    ),
    Quirk(
        ("application_train", "application_test", "previous_application"),
        ("ORGANIZATION_TYPE", "CODE_GENDER", "NAME_CONTRACT_TYPE", "NAME_CLIENT_TYPE", "..."),
        NOT_AVAILABLE,
        "value not available; a category of its own, not a missing value",
    ),
    Quirk(
        ("previous_application",),
        ("NAME_CASH_LOAN_PURPOSE", "CODE_REJECT_REASON"),
        NOT_APPLICABLE,
        "not applicable (consumer loan has no cash purpose; approved has no reject reason)",
    ),
    Quirk(
        ("previous_application",),
        PREVIOUS_SENTINEL_COLUMNS,
        str(DAYS_SENTINEL),
        "event did not happen or is open-ended; empty when the application was not approved",
    ),
    Quirk(
        tuple(TABLES),
        ("DAYS_*", "MONTHS_BALANCE"),
        "<= 0",
        "offsets relative to the current application (day 0); future dates are positive",
    ),
)
