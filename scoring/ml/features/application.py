"""Features of the application row: its columns, encodings of its categories, and ratios.

Categories are coded by the schema's fixed vocabularies (never by the values seen), so one
applicant's row never depends on the rest of the data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import polars as pl

from scoring.ml.features.base import Feature, FeatureKind, FeatureSpec, div, is_value, token
from scoring.ml.schema.tables import APPLICATION_VOCABULARIES, DAYS_SENTINEL, TABLES, TARGET, Kind

APPLICATION = TABLES["application_train"]  # test's columns plus TARGET
YEAR_DAYS = 365.25
#: One-hot columns only for small vocabularies; larger ones (ORGANIZATION_TYPE) get a code.
_MAX_ONE_HOT = 20

_EXT = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")
_DOCUMENTS = tuple(f"FLAG_DOCUMENT_{i}" for i in range(2, 22))
_CONTACT_FLAGS = ("FLAG_MOBIL", "FLAG_EMP_PHONE", "FLAG_WORK_PHONE", "FLAG_CONT_MOBILE")
_CONTACT_FLAGS += ("FLAG_PHONE", "FLAG_EMAIL")
_REGION_FLAGS = (
    "REG_REGION_NOT_LIVE_REGION",
    "REG_REGION_NOT_WORK_REGION",
    "LIVE_REGION_NOT_WORK_REGION",
    "REG_CITY_NOT_LIVE_CITY",
    "REG_CITY_NOT_WORK_CITY",
    "LIVE_CITY_NOT_WORK_CITY",
)
_BUREAU_REQUESTS = tuple(
    f"AMT_REQ_CREDIT_BUREAU_{p}" for p in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR")
)
_BUILDING = tuple(c for c in APPLICATION.column_names if c.endswith(("_AVG", "_MODE", "_MEDI")))


def _app(name: str, kind: FeatureKind, expr: pl.Expr, inputs: Sequence[str], text: str) -> Feature:
    return Feature(
        FeatureSpec(name, kind, "application", name, tuple(inputs), text),
        expr.cast(pl.Float64).alias(name),
    )


def _employed_days() -> pl.Expr:
    # 365243 means "not employed" (pensioners, unemployed): missing, with its own flag.
    return pl.when(pl.col("DAYS_EMPLOYED") != DAYS_SENTINEL).then(pl.col("DAYS_EMPLOYED"))


@functools.cache
def application_features() -> list[Feature]:
    out: list[Feature] = []
    col = pl.col
    for column in APPLICATION.columns:
        if column.name in ("SK_ID_CURR", TARGET) or column.kind is Kind.CATEGORY:
            continue
        expr = _employed_days() if column.name == "DAYS_EMPLOYED" else col(column.name)
        out.append(
            _app(
                column.name,
                FeatureKind.NUMERIC,
                expr,
                (column.name,),
                f"application column {column.name}"
                + (" (365243 = not employed -> missing)" if column.name == "DAYS_EMPLOYED" else ""),
            )
        )
    for column_name, vocabulary in APPLICATION_VOCABULARIES.items():
        code = col(column_name).replace_strict(
            list(vocabulary), list(range(len(vocabulary))), default=None, return_dtype=pl.Float64
        )
        name = f"{column_name}_CODE"
        out.append(
            Feature(
                FeatureSpec(
                    name,
                    FeatureKind.CATEGORY_CODE,
                    "application",
                    column_name,
                    (column_name,),
                    f"{column_name} as its index in the schema vocabulary (missing/unknown = NaN)",
                    vocabulary=vocabulary,
                ),
                code.alias(name),
            )
        )
        if 2 < len(vocabulary) <= _MAX_ONE_HOT:
            for value in vocabulary:
                name = f"{column_name}_{token(value)}"
                out.append(
                    Feature(
                        FeatureSpec(
                            name,
                            FeatureKind.ONE_HOT,
                            "application",
                            column_name,
                            (column_name,),
                            f"1 if {column_name} is {value!r}",
                            vocabulary=vocabulary,
                        ),
                        is_value(column_name, value).alias(name),
                    )
                )
    ext = [col(c) for c in _EXT]
    ext_mean = pl.mean_horizontal(ext)
    n_ext = pl.sum_horizontal([e.is_not_null().cast(pl.Float64) for e in ext])
    ext_var = div(pl.sum_horizontal([(e - ext_mean) ** 2 for e in ext]), n_ext)
    employed = _employed_days()
    income, credit, annuity = col("AMT_INCOME_TOTAL"), col("AMT_CREDIT"), col("AMT_ANNUITY")
    goods, family = col("AMT_GOODS_PRICE"), col("CNT_FAM_MEMBERS")
    birth = col("DAYS_BIRTH")
    r = FeatureKind.RATIO
    out += [
        _app("AGE_YEARS", r, -birth / YEAR_DAYS, ("DAYS_BIRTH",), "age in years"),
        _app(
            "EMPLOYED_YEARS", r, -employed / YEAR_DAYS, ("DAYS_EMPLOYED",), "years in current job"
        ),
        _app(
            "NOT_EMPLOYED",
            FeatureKind.FLAG,
            col("DAYS_EMPLOYED") == DAYS_SENTINEL,
            ("DAYS_EMPLOYED",),
            "1 if DAYS_EMPLOYED = 365243 (pensioner or unemployed)",
        ),
        _app(
            "EMPLOYED_TO_AGE",
            r,
            div(employed, birth),
            ("DAYS_EMPLOYED", "DAYS_BIRTH"),
            "share of life in the current job (missing when not employed)",
        ),
        _app(
            "CREDIT_TO_INCOME",
            r,
            div(credit, income),
            ("AMT_CREDIT", "AMT_INCOME_TOTAL"),
            "credit / income",
        ),
        _app(
            "ANNUITY_TO_INCOME",
            r,
            div(annuity, income),
            ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
            "annuity / income",
        ),
        _app(
            "CREDIT_TO_GOODS",
            r,
            div(credit, goods),
            ("AMT_CREDIT", "AMT_GOODS_PRICE"),
            "credit / goods price",
        ),
        _app(
            "ANNUITY_TO_CREDIT",
            r,
            div(annuity, credit),
            ("AMT_ANNUITY", "AMT_CREDIT"),
            "annuity / credit (payment rate)",
        ),
        _app(
            "CREDIT_TERM",
            r,
            div(credit, annuity),
            ("AMT_CREDIT", "AMT_ANNUITY"),
            "credit / annuity (term in payments)",
        ),
        _app(
            "GOODS_TO_INCOME",
            r,
            div(goods, income),
            ("AMT_GOODS_PRICE", "AMT_INCOME_TOTAL"),
            "goods price / income",
        ),
        _app(
            "CREDIT_MINUS_GOODS",
            r,
            credit - goods,
            ("AMT_CREDIT", "AMT_GOODS_PRICE"),
            "credit above the goods price",
        ),
        _app(
            "INCOME_PER_PERSON",
            r,
            div(income, family),
            ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
            "income per family member",
        ),
        _app(
            "ANNUITY_PER_PERSON",
            r,
            div(annuity, family),
            ("AMT_ANNUITY", "CNT_FAM_MEMBERS"),
            "annuity per family member",
        ),
        _app(
            "INCOME_PER_CHILD",
            r,
            income / (1 + col("CNT_CHILDREN")),
            ("AMT_INCOME_TOTAL", "CNT_CHILDREN"),
            "income / (1 + children)",
        ),
        _app(
            "CHILDREN_RATIO",
            r,
            div(col("CNT_CHILDREN"), family),
            ("CNT_CHILDREN", "CNT_FAM_MEMBERS"),
            "children / family members",
        ),
        _app(
            "INCOME_LEFT_PER_PERSON",
            r,
            div(income - annuity, family),
            ("AMT_INCOME_TOTAL", "AMT_ANNUITY", "CNT_FAM_MEMBERS"),
            "(income - annuity) per family member",
        ),
        _app(
            "REGISTRATION_TO_AGE",
            r,
            div(col("DAYS_REGISTRATION"), birth),
            ("DAYS_REGISTRATION", "DAYS_BIRTH"),
            "registration change / age",
        ),
        _app(
            "ID_PUBLISH_TO_AGE",
            r,
            div(col("DAYS_ID_PUBLISH"), birth),
            ("DAYS_ID_PUBLISH", "DAYS_BIRTH"),
            "identity document change / age",
        ),
        _app(
            "PHONE_CHANGE_TO_AGE",
            r,
            div(col("DAYS_LAST_PHONE_CHANGE"), birth),
            ("DAYS_LAST_PHONE_CHANGE", "DAYS_BIRTH"),
            "phone change / age",
        ),
        _app(
            "PHONE_CHANGE_TO_EMPLOYED",
            r,
            div(col("DAYS_LAST_PHONE_CHANGE"), employed),
            ("DAYS_LAST_PHONE_CHANGE", "DAYS_EMPLOYED"),
            "phone change / time employed",
        ),
        _app(
            "CAR_AGE_TO_AGE",
            r,
            div(col("OWN_CAR_AGE") * YEAR_DAYS, -birth),
            ("OWN_CAR_AGE", "DAYS_BIRTH"),
            "car age / age",
        ),
        _app(
            "CAR_AGE_TO_EMPLOYED",
            r,
            div(col("OWN_CAR_AGE") * YEAR_DAYS, -employed),
            ("OWN_CAR_AGE", "DAYS_EMPLOYED"),
            "car age / time employed",
        ),
        _app("EXT_SOURCE_MEAN", r, ext_mean, _EXT, "mean of the available EXT_SOURCE scores"),
        _app("EXT_SOURCE_MIN", r, pl.min_horizontal(ext), _EXT, "lowest EXT_SOURCE score"),
        _app("EXT_SOURCE_MAX", r, pl.max_horizontal(ext), _EXT, "highest EXT_SOURCE score"),
        _app("EXT_SOURCE_STD", r, ext_var.sqrt(), _EXT, "spread of the EXT_SOURCE scores"),
        _app("EXT_SOURCE_PROD", r, ext[0] * ext[1] * ext[2], _EXT, "product of the EXT_SOURCEs"),
        _app(
            "EXT_SOURCE_NULLS",
            FeatureKind.COUNT,
            3 - n_ext,
            _EXT,
            "number of missing EXT_SOURCE scores",
        ),
        _app(
            "EXT_SOURCE_WEIGHTED",
            r,
            div(
                pl.sum_horizontal([e * w for e, w in zip(ext, (2.0, 1.0, 3.0), strict=True)]),
                pl.sum_horizontal(
                    [e.is_not_null() * w for e, w in zip(ext, (2.0, 1.0, 3.0), strict=True)]
                ),
            ),
            _EXT,
            "EXT_SOURCE mean weighted 2:1:3 over the available scores",
        ),
        _app(
            "DOCUMENT_COUNT",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _DOCUMENTS]),
            _DOCUMENTS,
            "number of documents provided",
        ),
        _app(
            "CONTACT_FLAGS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _CONTACT_FLAGS]),
            _CONTACT_FLAGS,
            "number of contact channels given",
        ),
        _app(
            "REGION_MISMATCHES",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _REGION_FLAGS]),
            _REGION_FLAGS,
            "number of home / work / registration address mismatches",
        ),
        _app(
            "BUREAU_REQUESTS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c) for c in _BUREAU_REQUESTS]),
            _BUREAU_REQUESTS,
            "credit bureau enquiries over all periods",
        ),
        _app(
            "BUILDING_NULLS",
            FeatureKind.COUNT,
            pl.sum_horizontal([col(c).is_null() for c in _BUILDING]),
            _BUILDING,
            "number of housing-building columns not filled in",
        ),
        _app(
            "SOCIAL_DEF30_RATIO",
            r,
            div(col("DEF_30_CNT_SOCIAL_CIRCLE"), col("OBS_30_CNT_SOCIAL_CIRCLE")),
            ("DEF_30_CNT_SOCIAL_CIRCLE", "OBS_30_CNT_SOCIAL_CIRCLE"),
            "defaults / observations in the social circle (30 days)",
        ),
        _app(
            "SOCIAL_DEF60_RATIO",
            r,
            div(col("DEF_60_CNT_SOCIAL_CIRCLE"), col("OBS_60_CNT_SOCIAL_CIRCLE")),
            ("DEF_60_CNT_SOCIAL_CIRCLE", "OBS_60_CNT_SOCIAL_CIRCLE"),
            "defaults / observations in the social circle (60 days)",
        ),
        _app(
            "REGION_RATING_GAP",
            r,
            col("REGION_RATING_CLIENT_W_CITY") - col("REGION_RATING_CLIENT"),
            ("REGION_RATING_CLIENT_W_CITY", "REGION_RATING_CLIENT"),
            "region rating with city minus without",
        ),
        _app(
            "INCOME_TO_REGION_POPULATION",
            r,
            income * col("REGION_POPULATION_RELATIVE"),
            ("AMT_INCOME_TOTAL", "REGION_POPULATION_RELATIVE"),
            "income scaled by the region's relative population",
        ),
    ]
    return out
