"""Development-time fitting of the generator's marginals to the real sample rows.

Run once, by a developer, when the fitted tables need refreshing::

    python -m scoring.ml.synth.fit ../shared/data/home_credit_sample

It writes ``scoring/ml/synth/fitted.json``: quantile tables, category frequencies and rates
measured on the real rows. The generator only reads that JSON; it never needs the sample
folder at run time. Nothing here copies rows: every table is a summary (at most a few dozen
knots per column, and the frequencies of category values or value combinations).

A quantile table is a monotone piecewise-linear function ``u -> x`` given by knots
``(us, xs)``. Values holding at least ``ATOM_MIN`` of the rows (round amounts such as an
income of 135,000, or a whole-number count) become flat pieces of the function, so they come
out of the generator with their real frequency; the rest is interpolated between quantiles.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

OUTPUT = Path(__file__).with_name("fitted.json")
ATOM_MIN = 0.004
MAX_ATOMS = 40
KNOTS = 40


def quantile_table(
    values: np.ndarray | pl.Series, knots: int = KNOTS, atoms: bool = True
) -> list[list[float]]:
    """Knots ``[us, xs]`` of a monotone quantile function with flat pieces for atoms.

    ``atoms=False`` gives a strictly increasing function (no flat piece), which the
    generator needs where it must be able to invert it (EXT_SOURCE_*).
    """
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    n = v.size
    uniq, counts = np.unique(v, return_counts=True)
    freq = counts / n
    # Integer sums before dividing, so an atom's lower end equals the previous upper end.
    upper = np.cumsum(counts) / n
    lower = (np.cumsum(counts) - counts) / n
    top = np.argsort(-freq, kind="stable")[:MAX_ATOMS]
    chosen = top[freq[top] >= ATOM_MIN] if atoms else top[:0]
    atom_values = set(uniq[chosen].tolist())
    points = [(float(lower[i]), float(uniq[i])) for i in chosen]
    points += [(float(upper[i]), float(uniq[i])) for i in chosen]
    tails = [0.001, 0.002, 0.005, 0.01, 0.015, 0.985, 0.99, 0.995, 0.998, 0.999]
    for u in sorted(set(np.linspace(0.0, 1.0, knots + 1).tolist() + tails)):
        x = float(v[min(round(u * (n - 1)), n - 1)])
        if x not in atom_values:
            points.append((float(u), x))
    points += [(0.0, float(v[0])), (1.0, float(v[-1]))]
    points.sort()
    us = np.array([p[0] for p in points])
    xs = np.maximum.accumulate(np.array([p[1] for p in points]))
    keep = np.ones(us.size, dtype=bool)
    keep[1:] = (np.diff(us) > 0) | (np.diff(xs) > 0)
    if not atoms:
        keep[1:] &= (np.diff(us) > 0) & (np.diff(xs) > 0)
    return [[round(float(u), 6) for u in us[keep]], [_sig(x) for x in xs[keep]]]


def _sig(x: float) -> float:
    return float(f"{x:.10g}")


def categories(series: pl.Series, keep_missing: bool = True) -> list[list]:
    """``[values, probabilities]`` sorted by frequency; ``None`` stands for an empty field."""
    counts = series.value_counts(sort=True)
    name = series.name
    values, probs = [], []
    total = series.len() if keep_missing else series.drop_nulls().len()
    for value, count in counts.iter_rows():
        if value is None and not keep_missing:
            continue
        values.append(value if not isinstance(value, float) else _sig(value))
        probs.append(round(count / total, 6))
    del name
    return [values, probs]


def combos(frame: pl.DataFrame, columns: list[str], max_rows: int = 80) -> list[list]:
    """Most frequent value combinations of ``columns``, as ``[rows, probabilities]``."""
    counts = frame.group_by(columns).len().sort(["len", *columns], descending=True)
    head = counts.head(max_rows)
    total = head["len"].sum()
    rows = [list(r[:-1]) for r in head.iter_rows()]
    return [rows, [round(c / total, 6) for c in head["len"].to_list()]]


def _read(folder: Path, table: str) -> pl.DataFrame:
    return pl.read_csv(folder / f"{table}.csv.gz", infer_schema_length=None)


def fit(folder: Path) -> dict:
    train, test = _read(folder, "application_train"), _read(folder, "application_test")
    app = pl.concat([train.drop("TARGET"), test])
    q: dict[str, list] = {}
    c: dict[str, list] = {}
    r: dict[str, float] = {}
    _fit_application(train, test, app, q, c, r)
    _fit_bureau(_read(folder, "bureau"), _read(folder, "bureau_balance"), q, c, r)
    _fit_previous(_read(folder, "previous_application"), q, c, r)
    _fit_monthly(
        _read(folder, "installments_payments"), _read(folder, "credit_card_balance"), q, c, r
    )
    return {"quantiles": q, "categories": c, "rates": r}


def _fit_application(
    train: pl.DataFrame, test: pl.DataFrame, app: pl.DataFrame, q: dict, c: dict, r: dict
) -> None:
    col = pl.col
    employed = app.filter(col("DAYS_EMPLOYED") != 365243)
    cash = app.filter(col("NAME_CONTRACT_TYPE") == "Cash loans")
    revolving = app.filter(col("NAME_CONTRACT_TYPE") == "Revolving loans")
    q["AMT_INCOME_TOTAL"] = quantile_table(app["AMT_INCOME_TOTAL"])
    q["AMT_GOODS_PRICE.cash"] = quantile_table(cash["AMT_GOODS_PRICE"])
    q["CREDIT_GOODS_RATIO.cash"] = quantile_table(cash["AMT_CREDIT"] / cash["AMT_GOODS_PRICE"])
    q["ANNUITY_RATIO.cash"] = quantile_table(cash["AMT_ANNUITY"] / cash["AMT_CREDIT"])
    q["AMT_CREDIT.revolving"] = quantile_table(revolving["AMT_CREDIT"])
    pension = app["NAME_INCOME_TYPE"] == "Pensioner"
    q["DAYS_BIRTH.pensioner"] = quantile_table(app.filter(pension)["DAYS_BIRTH"])
    q["DAYS_BIRTH.other"] = quantile_table(app.filter(~pension)["DAYS_BIRTH"])
    q["DAYS_EMPLOYED.employed"] = quantile_table(employed["DAYS_EMPLOYED"])
    plain = [
        "DAYS_REGISTRATION", "DAYS_ID_PUBLISH", "DAYS_LAST_PHONE_CHANGE", "OWN_CAR_AGE",
        "REGION_POPULATION_RELATIVE", "CNT_CHILDREN", "HOUR_APPR_PROCESS_START",
        "OBS_30_CNT_SOCIAL_CIRCLE", "DEF_30_CNT_SOCIAL_CIRCLE", "OBS_60_CNT_SOCIAL_CIRCLE",
        "DEF_60_CNT_SOCIAL_CIRCLE", "TOTALAREA_MODE",
    ]  # fmt: skip
    for name in plain + [n for n in app.columns if n.startswith("AMT_REQ_CREDIT_BUREAU_")]:
        q[name] = quantile_table(app[name].drop_nulls())
    for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"):
        q[name] = quantile_table(app[name].drop_nulls(), knots=64, atoms=False)
    for name in app.columns:
        if name.endswith(("_AVG", "_MODE", "_MEDI")) and app[name].dtype == pl.Float64:
            q[name] = quantile_table(app[name].drop_nulls())
    c["NAME_CONTRACT_TYPE.train"] = categories(train["NAME_CONTRACT_TYPE"])
    c["NAME_CONTRACT_TYPE.test"] = categories(test["NAME_CONTRACT_TYPE"])
    for name in (
        "CODE_GENDER",
        "NAME_TYPE_SUITE",
        "NAME_INCOME_TYPE",
        "NAME_EDUCATION_TYPE",
        "NAME_FAMILY_STATUS",
        "NAME_HOUSING_TYPE",
        "WEEKDAY_APPR_PROCESS_START",
    ):
        c[name] = categories(app[name])
    c["ORGANIZATION_TYPE.employed"] = categories(employed["ORGANIZATION_TYPE"])
    for gender in ("F", "M"):
        of_gender = employed.filter(col("CODE_GENDER") == gender)
        c[f"OCCUPATION_TYPE.employed.{gender}"] = categories(of_gender["OCCUPATION_TYPE"])
        r[f"FLAG_OWN_CAR.{gender}"] = float(
            (app.filter(col("CODE_GENDER") == gender)["FLAG_OWN_CAR"] == "Y").mean()
        )
    _fit_building(app, c, r)
    _fit_flags(app, employed, c, r)


def _fit_building(app: pl.DataFrame, c: dict, r: dict) -> None:
    """How often the building measures are present, and their categories."""
    col = pl.col
    building = app.filter(
        col("TOTALAREA_MODE").is_not_null()
        | col("APARTMENTS_AVG").is_not_null()
        | col("FLOORSMAX_AVG").is_not_null()
        | col("WALLSMATERIAL_MODE").is_not_null()
        | col("EMERGENCYSTATE_MODE").is_not_null()
        | col("YEARS_BEGINEXPLUATATION_AVG").is_not_null()
    )
    r["building.present"] = building.height / app.height
    for name in app.columns:
        if name.endswith("_AVG") or name in ("TOTALAREA_MODE",):
            r[f"building.{name}"] = float(building[name].is_not_null().mean())
    for name in (
        "FONDKAPREMONT_MODE",
        "HOUSETYPE_MODE",
        "WALLSMATERIAL_MODE",
        "EMERGENCYSTATE_MODE",
    ):
        c[name] = categories(building[name])
    pairs = app.select(
        pl.concat_str(
            [col("REGION_RATING_CLIENT"), col("REGION_RATING_CLIENT_W_CITY")], separator=","
        )
    ).to_series()
    c["REGION_RATINGS"] = categories(pairs)


def _fit_flags(app: pl.DataFrame, employed: pl.DataFrame, c: dict, r: dict) -> None:
    """Region ratings, flag rates, documents and the missing rates of optional inputs."""
    col = pl.col
    r["FLAG_OWN_REALTY"] = float((app["FLAG_OWN_REALTY"] == "Y").mean())
    for name in (
        "FLAG_MOBIL",
        "FLAG_CONT_MOBILE",
        "FLAG_PHONE",
        "FLAG_EMAIL",
        "REG_REGION_NOT_LIVE_REGION",
        "REG_CITY_NOT_LIVE_CITY",
    ):
        r[name] = float(app[name].mean())
    for name in (
        "FLAG_WORK_PHONE",
        "REG_REGION_NOT_WORK_REGION",
        "LIVE_REGION_NOT_WORK_REGION",
        "REG_CITY_NOT_WORK_CITY",
        "LIVE_CITY_NOT_WORK_CITY",
    ):
        r[f"{name}.employed"] = float(employed[name].mean())
    for i in range(2, 22):
        r[f"FLAG_DOCUMENT_{i}"] = float(app[f"FLAG_DOCUMENT_{i}"].mean())
    r["EXT_SOURCE_2.missing"] = float(app["EXT_SOURCE_2"].is_null().mean())
    r["EXT_SOURCE_3.missing"] = float(app["EXT_SOURCE_3"].is_null().mean())
    r["AMT_REQ.missing"] = float(app["AMT_REQ_CREDIT_BUREAU_YEAR"].is_null().mean())
    r["SOCIAL_CIRCLE.missing"] = float(app["OBS_30_CNT_SOCIAL_CIRCLE"].is_null().mean())
    decade = (col("DAYS_BIRTH") / -3652.5).floor().clip(2, 6)
    by_decade = app.group_by(decade.alias("d")).agg(col("EXT_SOURCE_1").is_null().mean()).sort("d")
    c["EXT_SOURCE_1.missing_by_decade"] = [
        by_decade["d"].to_list(),
        [round(v, 4) for v in by_decade["EXT_SOURCE_1"].to_list()],
    ]


def _fit_bureau(bureau: pl.DataFrame, balance: pl.DataFrame, q: dict, c: dict, r: dict) -> None:
    col = pl.col
    q["bureau.DAYS_CREDIT"] = quantile_table(bureau["DAYS_CREDIT"])
    c["bureau.CREDIT_TYPE"] = categories(bureau["CREDIT_TYPE"])
    c["bureau.CREDIT_CURRENCY"] = categories(bureau["CREDIT_CURRENCY"])
    for label, types in (
        (
            "consumer",
            [
                "Consumer credit",
                "Another type of loan",
                "Unknown type of loan",
                "Cash loan (non-earmarked)",
            ],
        ),
        ("card", ["Credit card"]),
        ("car", ["Car loan"]),
        ("mortgage", ["Mortgage", "Real estate loan"]),
        ("micro", ["Microloan"]),
        (
            "business",
            [
                "Loan for business development",
                "Loan for working capital replenishment",
                "Loan for the purchase of equipment",
            ],
        ),
    ):
        sums = bureau.filter(col("CREDIT_TYPE").is_in(types))["AMT_CREDIT_SUM"].drop_nulls()
        q[f"bureau.AMT_CREDIT_SUM.{label}"] = quantile_table(sums)
    active = bureau.filter(col("CREDIT_ACTIVE") == "Active")
    closed = bureau.filter(col("CREDIT_ACTIVE") == "Closed")
    q["bureau.duration"] = quantile_table(
        (bureau["DAYS_CREDIT_ENDDATE"] - bureau["DAYS_CREDIT"]).drop_nulls().clip(0, 20000)
    )
    q["bureau.fact_duration"] = quantile_table(
        (closed["DAYS_ENDDATE_FACT"] - closed["DAYS_CREDIT"]).drop_nulls().clip(0, None)
    )
    q["bureau.debt_fraction.active"] = quantile_table(
        (active["AMT_CREDIT_SUM_DEBT"] / active["AMT_CREDIT_SUM"]).drop_nulls().clip(0, 1.2)
    )
    q["bureau.update_after_fact"] = quantile_table(
        (closed["DAYS_CREDIT_UPDATE"] - closed["DAYS_ENDDATE_FACT"]).drop_nulls().clip(0, None)
    )
    q["bureau.update.active"] = quantile_table(active["DAYS_CREDIT_UPDATE"].clip(-3000, 0))
    q["bureau.AMT_ANNUITY.positive"] = quantile_table(
        bureau.filter(col("AMT_ANNUITY") > 0)["AMT_ANNUITY"]
    )
    q["bureau.AMT_CREDIT_MAX_OVERDUE.positive"] = quantile_table(
        bureau.filter(col("AMT_CREDIT_MAX_OVERDUE") > 0)["AMT_CREDIT_MAX_OVERDUE"]
    )
    q["bureau.CREDIT_DAY_OVERDUE.positive"] = quantile_table(
        bureau.filter(col("CREDIT_DAY_OVERDUE") > 0)["CREDIT_DAY_OVERDUE"]
    )
    c["bureau.CNT_CREDIT_PROLONG"] = categories(bureau["CNT_CREDIT_PROLONG"])
    for name, frame in (("active", active), ("closed", closed)):
        for column in (
            "DAYS_CREDIT_ENDDATE",
            "AMT_CREDIT_MAX_OVERDUE",
            "AMT_CREDIT_SUM_DEBT",
            "AMT_CREDIT_SUM_LIMIT",
            "AMT_ANNUITY",
        ):
            r[f"bureau.{column}.missing.{name}"] = float(frame[column].is_null().mean())
    r["bureau.annuity_positive"] = float((bureau["AMT_ANNUITY"].drop_nulls() > 0).mean())
    r["bureau.max_overdue_positive"] = float(
        (bureau["AMT_CREDIT_MAX_OVERDUE"].drop_nulls() > 0).mean()
    )
    r["bureau.sold"] = float((bureau["CREDIT_ACTIVE"] == "Sold").mean())
    joined = balance.join(bureau.select("SK_ID_BUREAU", "CREDIT_ACTIVE"), on="SK_ID_BUREAU")
    for name in ("Active", "Closed"):
        status = joined.filter(col("CREDIT_ACTIVE") == name)["STATUS"]
        c[f"bureau_balance.STATUS.{name}"] = categories(status)


def _fit_previous(prev: pl.DataFrame, q: dict, c: dict, r: dict) -> None:
    col = pl.col
    q["prev.DAYS_DECISION"] = quantile_table(prev["DAYS_DECISION"])
    kinds = (
        ("Cash loans", "cash"),
        ("Consumer loans", "consumer"),
        ("Revolving loans", "revolving"),
    )
    is_approved = col("NAME_CONTRACT_STATUS") == "Approved"
    for kind, label in kinds:
        for outcome, condition in (("approved", is_approved), ("other", ~is_approved)):
            frame = prev.filter((col("NAME_CONTRACT_TYPE") == kind) & condition)
            q[f"prev.DAYS_DECISION.{label}.{outcome}"] = quantile_table(frame["DAYS_DECISION"])
            if label != "revolving":
                amounts = frame.filter(col("AMT_APPLICATION") > 0)["AMT_APPLICATION"]
                q[f"prev.AMT_APPLICATION.{label}.{outcome}"] = quantile_table(amounts)
    q["prev.HOUR_APPR_PROCESS_START"] = quantile_table(prev["HOUR_APPR_PROCESS_START"])
    c["prev.NAME_CONTRACT_TYPE"] = categories(prev["NAME_CONTRACT_TYPE"])
    for kind in ("Cash loans", "Consumer loans", "Revolving loans"):
        c[f"prev.NAME_CONTRACT_STATUS.{kind}"] = categories(
            prev.filter(col("NAME_CONTRACT_TYPE") == kind)["NAME_CONTRACT_STATUS"]
        )
    profile = [
        "NAME_PORTFOLIO",
        "NAME_PRODUCT_TYPE",
        "NAME_YIELD_GROUP",
        "PRODUCT_COMBINATION",
        "CHANNEL_TYPE",
        "NAME_PAYMENT_TYPE",
        "CODE_REJECT_REASON",
        "NAME_SELLER_INDUSTRY",
        "NAME_GOODS_CATEGORY",
        "NAME_CASH_LOAN_PURPOSE",
    ]
    c["prev.profile.columns"] = [profile, []]
    groups = prev.group_by(["NAME_CONTRACT_TYPE", "NAME_CONTRACT_STATUS"])
    for (kind, status), frame in sorted(groups, key=lambda g: g[0]):
        c[f"prev.profile.{kind}.{status}"] = combos(frame, profile)
    for name in (
        "NAME_TYPE_SUITE",
        "NAME_CLIENT_TYPE",
        "WEEKDAY_APPR_PROCESS_START",
        "FLAG_LAST_APPL_PER_CONTRACT",
    ):
        c[f"prev.{name}"] = categories(prev[name])
    approved = prev.filter(col("NAME_CONTRACT_STATUS") == "Approved")
    for kind, label in (("Cash loans", "cash"), ("Consumer loans", "consumer")):
        ok = approved.filter((col("NAME_CONTRACT_TYPE") == kind) & (col("AMT_APPLICATION") > 0))
        q[f"prev.CREDIT_RATIO.{label}"] = quantile_table(
            (ok["AMT_CREDIT"] / ok["AMT_APPLICATION"]).clip(0.5, 2)
        )
        q[f"prev.CNT_PAYMENT.{label}"] = quantile_table(
            ok["CNT_PAYMENT"].drop_nulls().clip(1, None)
        )
    consumer = prev.filter(col("NAME_CONTRACT_TYPE") == "Consumer loans")
    q["prev.RATE_DOWN_PAYMENT"] = quantile_table(consumer["RATE_DOWN_PAYMENT"].drop_nulls())
    q["prev.SELLERPLACE_AREA.consumer"] = quantile_table(
        consumer["SELLERPLACE_AREA"].clip(-1, 20000)
    )
    q["prev.AMT_CREDIT.revolving"] = quantile_table(
        prev.filter((col("NAME_CONTRACT_TYPE") == "Revolving loans") & (col("AMT_CREDIT") > 0))[
            "AMT_CREDIT"
        ]
    )
    for group in ("high", "middle", "low_normal", "low_action"):
        frame = approved.filter((col("NAME_YIELD_GROUP") == group) & (col("CNT_PAYMENT") > 0))
        q[f"prev.ANNUITY_FACTOR.{group}"] = quantile_table(
            (frame["AMT_ANNUITY"] * frame["CNT_PAYMENT"] / frame["AMT_CREDIT"]).clip(1, 3)
        )
    finished = approved.filter(
        (col("DAYS_LAST_DUE") != 365243) & (col("DAYS_TERMINATION") != 365243)
    )
    q["prev.termination_after_last_due"] = quantile_table(
        (finished["DAYS_TERMINATION"] - finished["DAYS_LAST_DUE"]).drop_nulls().clip(0, 400)
    )
    early = approved.filter(col("DAYS_LAST_DUE") != 365243)
    r["prev.early_repayment"] = float(
        ((early["DAYS_LAST_DUE"] - early["DAYS_LAST_DUE_1ST_VERSION"]) < -31).mean()
    )
    r["prev.insured"] = float(approved["NFLAG_INSURED_ON_APPROVAL"].drop_nulls().mean())
    rates = prev.filter(col("RATE_INTEREST_PRIMARY").is_not_null())
    r["prev.rate_interest.present"] = rates.height / prev.height
    q["prev.RATE_INTEREST_PRIMARY"] = quantile_table(rates["RATE_INTEREST_PRIMARY"])
    q["prev.RATE_INTEREST_PRIVILEGED"] = quantile_table(rates["RATE_INTEREST_PRIVILEGED"])


def _fit_monthly(
    installments: pl.DataFrame, cards: pl.DataFrame, q: dict, c: dict, r: dict
) -> None:
    col = pl.col
    delay = (installments["DAYS_ENTRY_PAYMENT"] - installments["DAYS_INSTALMENT"]).drop_nulls()
    q["inst.delay.on_time"] = quantile_table(delay.filter(delay <= 0).clip(-120, 0))
    q["inst.delay.late"] = quantile_table(delay.filter(delay > 0).clip(1, 400))
    q["cc.AMT_CREDIT_LIMIT_ACTUAL"] = quantile_table(
        cards.filter(col("AMT_CREDIT_LIMIT_ACTUAL") > 0)["AMT_CREDIT_LIMIT_ACTUAL"]
    )
    drawn = cards.filter(col("AMT_DRAWINGS_ATM_CURRENT") > 0)
    q["cc.atm_fraction"] = quantile_table(
        (
            drawn["AMT_DRAWINGS_ATM_CURRENT"] / drawn["AMT_CREDIT_LIMIT_ACTUAL"].cast(pl.Float64)
        ).clip(0, 1.5)
    )
    pos = cards.filter(col("AMT_DRAWINGS_POS_CURRENT") > 0)
    q["cc.pos_fraction"] = quantile_table(
        (pos["AMT_DRAWINGS_POS_CURRENT"] / pos["AMT_CREDIT_LIMIT_ACTUAL"].cast(pl.Float64)).clip(
            0, 1.5
        )
    )
    r["cc.drawings.missing"] = float(cards["AMT_DRAWINGS_ATM_CURRENT"].is_null().mean())
    r["cc.payment_current.missing"] = float(cards["AMT_PAYMENT_CURRENT"].is_null().mean())


def main(argv: list[str]) -> None:
    folder = Path(argv[1] if len(argv) > 1 else "../shared/data/home_credit_sample")
    fitted = fit(folder)
    lines = ["{"]
    for section_index, (section, entries) in enumerate(fitted.items()):
        lines.append(f' "{section}": {{')
        items = list(entries.items())
        for i, (key, value) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}{comma}")
        lines.append(" }" + ("," if section_index < len(fitted) - 1 else ""))
    lines.append("}")
    OUTPUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(sys.argv)
