"""Synthetic application rows (application_train / application_test columns).

Marginals come from the fitted tables (:mod:`scoring.ml.synth.base`); dependence between
columns comes from a few latent variables through Gaussian copulas: ``wealth`` (income,
credit amounts, car, education, region), the behaviour segment (EXT_SOURCE_* only, see
:mod:`scoring.ml.synth.oracle`), age, and a building latent for the housing block. The quirks of
the real data are reproduced on purpose: DAYS_EMPLOYED = 365243 with ORGANIZATION_TYPE = XNA
and FLAG_EMP_PHONE = 0 for pensioners and the unemployed, CODE_GENDER = XNA (rare), the
building columns missing together, AVG / MODE / MEDI versions of a statistic close to each
other.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from scoring.ml.schema.tables import APPLICATION_TEST_HEADER, BUILDING_STEMS, DAYS_SENTINEL
from scoring.ml.synth import oracle
from scoring.ml.synth.base import (
    Columns,
    category,
    code,
    correlated_uniform,
    fitted,
    quantile,
    quantile_atoms,
    rate,
    round_to,
)

T = "application_train"
#: CODE_GENDER = XNA frequency in the full Kaggle train file (4 of 307,511 rows).
GENDER_XNA_RATE = 4 / 307_511
_EDUCATION_ORDER = (
    "Lower secondary",
    "Secondary / secondary special",
    "Incomplete higher",
    "Higher education",
    "Academic degree",
)
_RATING_ORDER = ("3,3", "3,2", "3,1", "2,2", "2,1", "1,1")  # poorer regions first


def _ordered(key: str, order: tuple[str, ...], u: np.ndarray) -> np.ndarray:
    """Values of a fitted frequency table in a meaningful ``order``, so that a uniform
    correlated with a latent moves along that order."""
    values, probs = fitted()["categories"][key]
    p = np.array([probs[values.index(v)] if v in values else 0.0 for v in order])
    cumulative = np.cumsum(p) / p.sum()
    return np.minimum(np.searchsorted(cumulative, u, side="right"), len(order) - 1)


def generate_applications(
    rng: np.random.Generator, ids: np.ndarray, is_test: np.ndarray, segment: np.ndarray
) -> tuple[Columns, dict[str, np.ndarray]]:
    """Columns of application_test's header (no TARGET) for clients ``ids``.

    Returns the columns and the EXT_SOURCE latents (NaN where the score is not written).
    """
    n = ids.size
    u = rng.random
    cols: Columns = {"SK_ID_CURR": ids.astype(np.int64)}
    wealth = rng.standard_normal(n)

    revolving_rate = np.where(
        is_test,
        fitted()["categories"]["NAME_CONTRACT_TYPE.test"][1][1],
        fitted()["categories"]["NAME_CONTRACT_TYPE.train"][1][1],
    )
    revolving = u(n) < revolving_rate
    cols["NAME_CONTRACT_TYPE"] = np.where(
        revolving,
        code(T, "NAME_CONTRACT_TYPE", "Revolving loans"),
        code(T, "NAME_CONTRACT_TYPE", "Cash loans"),
    )
    gender = category("CODE_GENDER", T, "CODE_GENDER", u(n))
    gender = np.where(u(n) < GENDER_XNA_RATE, code(T, "CODE_GENDER", "XNA"), gender)
    cols["CODE_GENDER"] = gender
    male = gender == code(T, "CODE_GENDER", "M")

    income_type = category("NAME_INCOME_TYPE", T, "NAME_INCOME_TYPE", u(n))
    not_employed = (income_type == code(T, "NAME_INCOME_TYPE", "Pensioner")) | (
        income_type == code(T, "NAME_INCOME_TYPE", "Unemployed")
    )
    cols["NAME_INCOME_TYPE"] = income_type
    pensioner = income_type == code(T, "NAME_INCOME_TYPE", "Pensioner")
    days_birth = np.where(
        pensioner,
        quantile("DAYS_BIRTH.pensioner", u(n)),
        quantile("DAYS_BIRTH.other", u(n)),
    ).round()
    cols["DAYS_BIRTH"] = days_birth.astype(np.int64)
    employed_days = np.maximum(
        quantile("DAYS_EMPLOYED.employed", u(n)).round(), days_birth + 18 * 365
    )
    cols["DAYS_EMPLOYED"] = np.where(
        not_employed, DAYS_SENTINEL, np.minimum(employed_days, -1)
    ).astype(np.int64)
    organization = category("ORGANIZATION_TYPE.employed", T, "ORGANIZATION_TYPE", u(n))
    cols["ORGANIZATION_TYPE"] = np.where(
        not_employed, code(T, "ORGANIZATION_TYPE", "XNA"), organization
    )
    occupation_f = category("OCCUPATION_TYPE.employed.F", T, "OCCUPATION_TYPE", u(n))
    occupation_m = category("OCCUPATION_TYPE.employed.M", T, "OCCUPATION_TYPE", u(n))
    cols["OCCUPATION_TYPE"] = np.where(not_employed, -1, np.where(male, occupation_m, occupation_f))

    education = _ordered(
        "NAME_EDUCATION_TYPE", _EDUCATION_ORDER, correlated_uniform(wealth, 0.5, rng)
    )
    cols["NAME_EDUCATION_TYPE"] = np.array(
        [code(T, "NAME_EDUCATION_TYPE", v) for v in _EDUCATION_ORDER]
    )[education]
    cols["AMT_INCOME_TOTAL"] = quantile("AMT_INCOME_TOTAL", correlated_uniform(wealth, 0.85, rng))
    _amounts(rng, cols, wealth, revolving)

    _household(rng, cols, wealth, male)
    _region(rng, cols, wealth)

    cols["DAYS_REGISTRATION"] = np.maximum(quantile("DAYS_REGISTRATION", u(n)).round(), days_birth)
    cols["DAYS_ID_PUBLISH"] = np.maximum(
        quantile("DAYS_ID_PUBLISH", u(n)).round(), days_birth + 14 * 365
    ).astype(np.int64)
    cols["DAYS_LAST_PHONE_CHANGE"] = quantile("DAYS_LAST_PHONE_CHANGE", u(n)).round()
    _flags(rng, cols, not_employed)
    cols["HOUR_APPR_PROCESS_START"] = (
        quantile("HOUR_APPR_PROCESS_START", u(n)).round().astype(np.int64)
    )
    latents = _ext_sources(rng, cols, segment, days_birth)
    _building(rng, cols, wealth)
    _social_circle(rng, cols)
    _bureau_requests(rng, cols)
    assert set(cols) == set(APPLICATION_TEST_HEADER), set(APPLICATION_TEST_HEADER) ^ set(cols)
    return cols, latents


def _household(
    rng: np.random.Generator, cols: Columns, wealth: np.ndarray, male: np.ndarray
) -> None:
    """Family status, children and household size, housing, car and home ownership."""
    n, u = wealth.size, rng.random
    family = category("NAME_FAMILY_STATUS", T, "NAME_FAMILY_STATUS", u(n))
    couple = np.isin(
        family,
        [code(T, "NAME_FAMILY_STATUS", "Married"), code(T, "NAME_FAMILY_STATUS", "Civil marriage")],
    )
    cols["NAME_FAMILY_STATUS"] = family
    # Couples have most of the children: shift their draw towards the upper quantiles.
    children_u = np.where(couple, 0.25 + 0.75 * u(n), 0.85 * u(n))
    cols["CNT_CHILDREN"] = quantile("CNT_CHILDREN", children_u).round().astype(np.int64)
    cols["CNT_FAM_MEMBERS"] = (cols["CNT_CHILDREN"] + np.where(couple, 2, 1)).astype(float)
    for name in ("NAME_TYPE_SUITE", "NAME_HOUSING_TYPE", "WEEKDAY_APPR_PROCESS_START"):
        cols[name] = category(name, T, name, u(n))
    car_rate = np.where(male, rate("FLAG_OWN_CAR.M"), rate("FLAG_OWN_CAR.F"))
    own_car = correlated_uniform(wealth, 0.4, rng) < car_rate
    cols["FLAG_OWN_CAR"] = np.where(
        own_car, code(T, "FLAG_OWN_CAR", "Y"), code(T, "FLAG_OWN_CAR", "N")
    )
    cols["OWN_CAR_AGE"] = np.where(own_car, quantile("OWN_CAR_AGE", u(n)).round(), np.nan)
    own_realty = u(n) < rate("FLAG_OWN_REALTY")
    cols["FLAG_OWN_REALTY"] = np.where(
        own_realty, code(T, "FLAG_OWN_REALTY", "Y"), code(T, "FLAG_OWN_REALTY", "N")
    )


def _region(rng: np.random.Generator, cols: Columns, wealth: np.ndarray) -> None:
    """The region's relative population and its ratings (poorer regions rate worse)."""
    n = wealth.size
    population_u = correlated_uniform(wealth, 0.3, rng)
    # One value per region, as in the real data (the form offers them as a list).
    cols["REGION_POPULATION_RELATIVE"] = quantile_atoms("REGION_POPULATION_RELATIVE", population_u)
    rating_u = ndtr(0.8 * _normal(population_u) + 0.6 * rng.standard_normal(n))
    ratings = np.array([[int(c) for c in pair.split(",")] for pair in _RATING_ORDER])
    pair = ratings[_ordered("REGION_RATINGS", _RATING_ORDER, rating_u)]
    cols["REGION_RATING_CLIENT"] = pair[:, 0].astype(np.int64)
    cols["REGION_RATING_CLIENT_W_CITY"] = pair[:, 1].astype(np.int64)


def _normal(uniform: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(uniform, 1e-9, 1 - 1e-9))


def _amounts(
    rng: np.random.Generator, cols: Columns, wealth: np.ndarray, revolving: np.ndarray
) -> None:
    """Goods price, credit and annuity as Home Credit prices them (cash: goods price in steps
    of 4,500, credit = goods times an insurance factor, annuity a share of the credit;
    revolving: a round limit, annuity 5% of it)."""
    n = wealth.size
    size_u = correlated_uniform(wealth, 0.55, rng)
    goods = round_to(quantile("AMT_GOODS_PRICE.cash", size_u), 4500.0)
    goods = np.maximum(goods, 40500.0)
    factor = quantile("CREDIT_GOODS_RATIO.cash", rng.random(n))
    credit_cash = np.round(goods * factor * 2.0) / 2.0
    # Larger credits run longer, so their annuity is a smaller share of the credit.
    ratio_u = ndtr(-0.6 * _normal(size_u) + 0.8 * rng.standard_normal(n))
    annuity_cash = np.round(credit_cash * quantile("ANNUITY_RATIO.cash", ratio_u) * 2.0) / 2.0
    credit_revolving = quantile("AMT_CREDIT.revolving", size_u)
    credit_revolving = round_to(credit_revolving, 22500.0)
    credit_revolving = np.maximum(credit_revolving, 45000.0)
    cols["AMT_CREDIT"] = np.where(revolving, credit_revolving, credit_cash)
    annuity = np.where(revolving, credit_revolving * 0.05, annuity_cash)
    cols["AMT_ANNUITY"] = np.where(rng.random(n) < 4e-5, np.nan, annuity)
    goods_revolving = np.where(rng.random(n) < 0.008, np.nan, credit_revolving)
    cols["AMT_GOODS_PRICE"] = np.where(revolving, goods_revolving, goods)


def _flags(rng: np.random.Generator, cols: Columns, not_employed: np.ndarray) -> None:
    n = not_employed.size
    employed = ~not_employed

    def bern(p: float | np.ndarray) -> np.ndarray:
        return (rng.random(n) < p).astype(np.int64)

    cols["FLAG_MOBIL"] = np.ones(n, dtype=np.int64)
    cols["FLAG_EMP_PHONE"] = employed.astype(np.int64)
    cols["FLAG_WORK_PHONE"] = bern(employed * rate("FLAG_WORK_PHONE.employed"))
    for name in ("FLAG_CONT_MOBILE", "FLAG_PHONE", "FLAG_EMAIL"):
        cols[name] = bern(rate(name))
    cols["REG_REGION_NOT_LIVE_REGION"] = bern(rate("REG_REGION_NOT_LIVE_REGION"))
    cols["REG_CITY_NOT_LIVE_CITY"] = bern(rate("REG_CITY_NOT_LIVE_CITY"))
    # Working somewhere else than one lives or is registered: one shared draw keeps the
    # region and city flags nested as in the real rows.
    away = rng.random(n)
    for name in (
        "REG_REGION_NOT_WORK_REGION",
        "LIVE_REGION_NOT_WORK_REGION",
        "REG_CITY_NOT_WORK_CITY",
        "LIVE_CITY_NOT_WORK_CITY",
    ):
        cols[name] = (employed & (away < rate(f"{name}.employed"))).astype(np.int64)
    for i in range(2, 22):
        cols[f"FLAG_DOCUMENT_{i}"] = bern(rate(f"FLAG_DOCUMENT_{i}"))


def _ext_sources(
    rng: np.random.Generator, cols: Columns, segment: np.ndarray, days_birth: np.ndarray
) -> dict[str, np.ndarray]:
    n = segment.size
    z = oracle.age_z(days_birth)
    decades, missing = fitted()["categories"]["EXT_SOURCE_1.missing_by_decade"]
    decade = np.clip(np.floor(-days_birth / 3652.5), decades[0], decades[-1]).astype(int)
    missing_rate = {
        "EXT_SOURCE_1": np.array(missing)[decade - int(decades[0])],
        "EXT_SOURCE_2": rate("EXT_SOURCE_2.missing"),
        "EXT_SOURCE_3": rate("EXT_SOURCE_3.missing"),
    }
    latents = {}
    for name, (loading, slope, noise) in oracle.EXT_LATENT.items():
        latent = (
            -loading * oracle.SEGMENT_SCORE[segment] + slope * z + noise * rng.standard_normal(n)
        )
        present = rng.random(n) >= missing_rate[name]
        score = quantile(name, np.clip(ndtr(latent / oracle.ext_total_sd(name)), 1e-9, 1 - 1e-9))
        cols[name] = np.where(present, score, np.nan)
        latents[name] = np.where(present, latent, np.nan)
    return latents


def _building(rng: np.random.Generator, cols: Columns, wealth: np.ndarray) -> None:
    """The housing block: present for about half the applicants, stems missing together
    (AVG, MODE, MEDI of a stem always share their gaps), values of a stem close together."""
    n = wealth.size
    present = rng.random(n) < rate("building.present")
    size = 0.5 * wealth + np.sqrt(0.75) * rng.standard_normal(n)
    for stem in BUILDING_STEMS:
        stem_present = present & (rng.random(n) < rate(f"building.{stem}_AVG"))
        base = 0.7 * size + np.sqrt(0.51) * rng.standard_normal(n)
        for stat, spread in (("AVG", 0.0), ("MODE", 0.12), ("MEDI", 0.05)):
            u_stat = ndtr(base + spread * rng.standard_normal(n))
            values = np.round(quantile(f"{stem}_{stat}", u_stat), 4)
            cols[f"{stem}_{stat}"] = np.where(stem_present, values, np.nan)
    total_present = present & (rng.random(n) < rate("building.TOTALAREA_MODE"))
    total = np.round(
        quantile("TOTALAREA_MODE", ndtr(0.7 * size + np.sqrt(0.51) * rng.standard_normal(n))), 4
    )
    cols["TOTALAREA_MODE"] = np.where(total_present, total, np.nan)
    for name in (
        "FONDKAPREMONT_MODE",
        "HOUSETYPE_MODE",
        "WALLSMATERIAL_MODE",
        "EMERGENCYSTATE_MODE",
    ):
        cols[name] = np.where(present, category(name, T, name, rng.random(n)), -1)


def _social_circle(rng: np.random.Generator, cols: Columns) -> None:
    n = cols["SK_ID_CURR"].size
    missing = rng.random(n) < rate("SOCIAL_CIRCLE.missing")
    seen = rng.random(n)
    obs30 = quantile("OBS_30_CNT_SOCIAL_CIRCLE", seen).round()
    obs60 = np.maximum(quantile("OBS_60_CNT_SOCIAL_CIRCLE", seen).round(), obs30)
    defaulted = rng.random(n)
    def30 = np.minimum(quantile("DEF_30_CNT_SOCIAL_CIRCLE", defaulted).round(), obs30)
    def60 = np.minimum(
        np.maximum(quantile("DEF_60_CNT_SOCIAL_CIRCLE", defaulted).round(), def30), obs60
    )
    for name, values in (
        ("OBS_30_CNT_SOCIAL_CIRCLE", obs30),
        ("DEF_30_CNT_SOCIAL_CIRCLE", def30),
        ("OBS_60_CNT_SOCIAL_CIRCLE", obs60),
        ("DEF_60_CNT_SOCIAL_CIRCLE", def60),
    ):
        cols[name] = np.where(missing, np.nan, values)


def _bureau_requests(rng: np.random.Generator, cols: Columns) -> None:
    n = cols["SK_ID_CURR"].size
    missing = rng.random(n) < rate("AMT_REQ.missing")
    activity = rng.standard_normal(n)
    for period in ("HOUR", "DAY", "WEEK", "MON", "QRT", "YEAR"):
        name = f"AMT_REQ_CREDIT_BUREAU_{period}"
        values = quantile(name, correlated_uniform(activity, 0.6, rng)).round()
        cols[name] = np.where(missing, np.nan, values)
