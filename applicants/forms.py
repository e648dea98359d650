"""The new-application form a loan officer fills in plain terms.

The officer enters dates and amounts; the form turns them into the Kaggle application row
(DAYS_* offsets counted back from the day of application, "not employed" as the 365243
sentinel) and validates that row with `scoring.ml.schema.records.clean_application`, the same rules
the REST API and CSV batches apply. Errors come back beside the field the officer typed.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from applicants.models import Applicant, LoanApplication
from credscope_site.validators import BIGINT_MAX
from scoring.ml.schema.contract import NO_CONTRACT, REGION_COLUMN, InputContract, Region
from scoring.ml.schema.records import APPLICATION_BOUNDS, APPLICATION_TABLE, clean_application
from scoring.ml.schema.tables import APPLICATION_VOCABULARIES, DAYS_SENTINEL, Kind
from scoring.models import Outcome

# Kaggle column -> the form field it is entered in; errors on a column are shown there.
COLUMN_FIELDS: dict[str, str] = {
    "NAME_CONTRACT_TYPE": "contract_type",
    "CODE_GENDER": "gender",
    "FLAG_OWN_CAR": "owns_car",
    "FLAG_OWN_REALTY": "owns_realty",
    "OWN_CAR_AGE": "car_age",
    "CNT_CHILDREN": "children",
    "CNT_FAM_MEMBERS": "family_members",
    "AMT_INCOME_TOTAL": "income",
    "AMT_CREDIT": "credit",
    "AMT_ANNUITY": "annuity",
    "AMT_GOODS_PRICE": "goods_price",
    "NAME_INCOME_TYPE": "income_type",
    "NAME_EDUCATION_TYPE": "education",
    "NAME_FAMILY_STATUS": "family_status",
    "NAME_HOUSING_TYPE": "housing",
    "OCCUPATION_TYPE": "occupation",
    "ORGANIZATION_TYPE": "organization",
    "DAYS_BIRTH": "birth_date",
    "DAYS_EMPLOYED": "employed_since",
    "EXT_SOURCE_1": "ext_source_1",
    "EXT_SOURCE_2": "ext_source_2",
    "EXT_SOURCE_3": "ext_source_3",
    REGION_COLUMN: "region",
}

#: Inputs the form asks for only when the active model version requires them, in an officer's
#: words (Home Credit's column descriptions); dates become DAYS_* offsets like the others.
#: A required column not named here is asked for under its own name (never a dead end).
EXTRA_LABELS: dict[str, str] = {
    "DAYS_LAST_PHONE_CHANGE": "Phone number last changed on",
    "DAYS_REGISTRATION": "Registration last changed on",
    "DAYS_ID_PUBLISH": "Identity document issued on",
    "REGION_RATING_CLIENT": "Home Credit's rating of the region (1 best, 3 worst)",
    "REGION_RATING_CLIENT_W_CITY": "Home Credit's rating of the region and city (1 best, 3 worst)",
    "OWN_CAR_AGE": "Car age (years)",
    **{f"FLAG_DOCUMENT_{n}": f"Provided document no. {n}" for n in range(2, 22)},
}
EXTRA_SECTION = "Also required by the active model"

MIN_AGE_YEARS, MAX_AGE_YEARS = 18, 100

# The shared validator speaks in DAYS_* offsets; an officer entered dates.
PLAIN_MESSAGES: dict[str, str] = {
    "DAYS_BIRTH": "The applicant must be between 18 and 100 years old.",
}

# Fields shown in each block of the page, in order (the template walks these).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Applicant", ("full_name", "birth_date", "gender", "external_id")),
    (
        "Loan requested",
        ("contract_type", "credit", "annuity", "goods_price"),
    ),
    (
        "Income and work",
        (
            "income",
            "income_type",
            "employed_since",
            "not_employed",
            "occupation",
            "organization",
            "education",
        ),
    ),
    (
        "Family and housing",
        (
            "family_status",
            "children",
            "family_members",
            "housing",
            "region",
            "owns_realty",
            "owns_car",
            "car_age",
        ),
    ),
    ("External credit scores (optional)", ("ext_source_1", "ext_source_2", "ext_source_3")),
)

_YES_NO = [("N", "No"), ("Y", "Yes")]
_AMOUNT = {
    "max_digits": 14,
    "decimal_places": 2,
    "min_value": Decimal("0.01"),
    "error_messages": {
        "min_value": "Enter an amount greater than 0.",
        "max_digits": "Enter an amount below 1,000,000,000,000.",
        "max_whole_digits": "Enter an amount below 1,000,000,000,000.",
        "max_decimal_places": "Enter at most 2 decimal places.",
    },
}
_SCORE = {
    "required": False,
    "min_value": 0,
    "max_value": 1,
    "help_text": "Between 0 and 1, from an external bureau; leave empty if not known.",
    "widget": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
}


def _choices(column: str, blank: str | None = None) -> list[tuple[str, str]]:
    values = [(v, v) for v in APPLICATION_VOCABULARIES[column] if v not in ("XNA", "Unknown")]
    return ([("", blank)] if blank is not None else []) + values


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _amount_widget() -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"})


def days_before(day: datetime.date, today: datetime.date) -> int:
    """Kaggle's DAYS_* convention: whole days from the application day, the past negative."""
    return (day - today).days


class ApplicationForm(forms.Form):
    """One applicant and one loan request, in an officer's terms."""

    full_name = forms.CharField(label="Applicant's full name", max_length=200)
    birth_date = forms.DateField(label="Date of birth", widget=_date_widget())
    gender = forms.ChoiceField(
        label="Gender",
        choices=Applicant.Gender.choices,
        initial=Applicant.Gender.UNKNOWN,
        help_text="Kept for fairness audits only; it never enters the decision.",
    )
    external_id = forms.IntegerField(
        label="Known applicant id",
        required=False,
        min_value=1,
        max_value=BIGINT_MAX,  # beyond it the database refuses the id (was a 500)
        help_text="The customer number (SK_ID_CURR) under which their credit history is known.",
    )
    contract_type = forms.ChoiceField(
        label="Contract type", choices=LoanApplication.ContractType.choices
    )
    credit = forms.DecimalField(
        label="Requested credit", widget=_amount_widget(), help_text="Total amount", **_AMOUNT
    )
    annuity = forms.DecimalField(
        label="Loan annuity", widget=_amount_widget(), help_text="Yearly repayment", **_AMOUNT
    )
    goods_price = forms.DecimalField(
        label="Price of the goods",
        required=False,
        widget=_amount_widget(),
        help_text="For consumer loans; leave empty otherwise.",
        **_AMOUNT,
    )
    income = forms.DecimalField(
        label="Annual income", widget=_amount_widget(), help_text="Before tax", **_AMOUNT
    )
    income_type = forms.ChoiceField(
        label="Income type", choices=_choices("NAME_INCOME_TYPE"), initial="Working"
    )
    employed_since = forms.DateField(
        label="Employed since",
        required=False,
        widget=_date_widget(),
        help_text="Start date of the current job.",
    )
    not_employed = forms.BooleanField(
        label="Not employed (pensioner, unemployed)",
        required=False,
    )
    occupation = forms.ChoiceField(
        label="Occupation", required=False, choices=_choices("OCCUPATION_TYPE", "Not stated")
    )
    organization = forms.ChoiceField(
        label="Employer's sector",
        required=False,
        choices=_choices("ORGANIZATION_TYPE", "Not stated"),
    )
    education = forms.ChoiceField(
        label="Education",
        choices=_choices("NAME_EDUCATION_TYPE"),
        initial="Secondary / secondary special",
    )
    family_status = forms.ChoiceField(
        label="Family status", choices=_choices("NAME_FAMILY_STATUS"), initial="Married"
    )
    children = forms.IntegerField(label="Children", min_value=0, max_value=30, initial=0)
    family_members = forms.IntegerField(
        label="Household members",
        min_value=1,
        max_value=40,
        initial=1,
        help_text="Including the applicant.",
    )
    housing = forms.ChoiceField(
        label="Housing", choices=_choices("NAME_HOUSING_TYPE"), initial="House / apartment"
    )
    owns_realty = forms.ChoiceField(label="Owns a home", choices=_YES_NO, initial="N")
    owns_car = forms.ChoiceField(label="Owns a car", choices=_YES_NO, initial="N")
    car_age = forms.IntegerField(
        label="Car age (years)",
        required=False,
        min_value=0,
        max_value=100,
        help_text="Only if the applicant owns a car.",
    )
    ext_source_1 = forms.FloatField(label="External score 1", **_SCORE)
    ext_source_2 = forms.FloatField(label="External score 2", **_SCORE)
    ext_source_3 = forms.FloatField(label="External score 3", **_SCORE)

    region = forms.TypedChoiceField(
        label="Region where the applicant lives",
        coerce=float,
        empty_value=None,
        error_messages={
            "required": "Choose the region where the applicant lives.",
            "invalid_choice": "Choose a region from the list (the active model's regions).",
        },
        help_text="Listed by the region's share of the country's population, largest first "
        "(regions are anonymised in the model's data).",
    )
    region.wide = True  # a long list: shown across two columns where there is room

    def __init__(
        self,
        *args: Any,
        today: datetime.date | None = None,
        contract: InputContract = NO_CONTRACT,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.application_row: dict[str, Any] = {}
        self.contract = contract
        self._ask_for_region(contract.regions(), required=REGION_COLUMN in contract.required)
        self.column_fields = dict(COLUMN_FIELDS)
        self.extra_fields: list[str] = []
        for column in contract.required:
            name = self.column_fields.get(column)
            if name is None:
                self._ask_for(column)
            elif name in self.fields and not self.fields[name].required:
                self.fields[name].required = True
        # Required unless "not employed" is ticked: not labelled optional.
        self.fields["employed_since"].conditional = True
        for field in self.fields.values():
            widget_type = getattr(field.widget, "input_type", "")
            if widget_type == "date":
                field.widget.attrs["max"] = self.today.isoformat()

    def _ask_for_region(self, regions: list[Region], *, required: bool) -> None:
        """The region as a list of the model's training regions, most populous first; the
        chosen option's value is the raw REGION_POPULATION_RELATIVE. Without a list (no
        model) the question is left out."""
        if not regions:
            del self.fields["region"]
            return
        field = self.fields["region"]
        field.required = required
        field.choices = [("", "Choose the region"), *region_choices(regions)]

    def _ask_for(self, column: str) -> None:
        """A field for a required input the form does not otherwise ask for."""
        name = column.lower()
        label = EXTRA_LABELS.get(column, column)
        definition = APPLICATION_TABLE.column(column)
        bounds = APPLICATION_BOUNDS.get(column)
        if column.startswith("DAYS_"):
            field: forms.Field = forms.DateField(label=label, widget=_date_widget())
            field.widget.attrs["max"] = self.today.isoformat()
        elif definition.kind is Kind.CATEGORY:
            field = forms.ChoiceField(label=label, choices=[("", "Choose"), *_choices(column)])
        elif (
            bounds is not None
            and (bounds.minimum, bounds.maximum) == (0, 1)
            and (definition.kind is Kind.INT)
        ):
            field = forms.TypedChoiceField(
                label=label, choices=[("", "Choose"), (1, "Yes"), (0, "No")], coerce=int
            )
        elif column.startswith("REGION_RATING"):
            field = forms.TypedChoiceField(
                label=label, choices=[("", "Choose"), (1, "1"), (2, "2"), (3, "3")], coerce=int
            )
        elif definition.kind is Kind.INT:
            field = forms.IntegerField(label=label)
        else:
            field = forms.FloatField(label=label, widget=forms.NumberInput(attrs={"step": "any"}))
        if label == column:
            field.help_text = "Home Credit's column of this name, as the model was trained on it."
        self.fields[name] = field
        self.column_fields[column] = name
        self.extra_fields.append(column)

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        sections = [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in SECTIONS
        ]
        if self.extra_fields:
            extra = [self[self.column_fields[column]] for column in self.extra_fields]
            sections.append((EXTRA_SECTION, extra))
        return sections

    def clean_full_name(self) -> str:
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError("Enter the applicant's name.")
        return name

    def clean_birth_date(self) -> datetime.date:
        born = self.cleaned_data["birth_date"]
        if born >= self.today:
            raise forms.ValidationError("The date of birth must be in the past.")
        # The shared validator's bounds (18 to 100 years of 365.25 days), checked here too
        # so this error shows together with any other.
        age_days = (self.today - born).days
        if not MIN_AGE_YEARS * 365.25 <= age_days <= MAX_AGE_YEARS * 365.25:
            raise forms.ValidationError(PLAIN_MESSAGES["DAYS_BIRTH"])
        return born

    def clean_employed_since(self) -> datetime.date | None:
        since = self.cleaned_data.get("employed_since")
        if since is not None and since > self.today:
            raise forms.ValidationError("The employment start date cannot be in the future.")
        return since

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, not_employed = data.get("employed_since"), data.get("not_employed")
        if not_employed and since is not None:
            self.add_error("employed_since", "Leave this empty when the applicant is not employed.")
        elif not not_employed and since is None and "employed_since" not in self.errors:
            self.add_error(
                "employed_since",
                "Enter the start date of the current job, or tick \u201cnot employed\u201d.",
            )
        if data.get("owns_car") == "N" and data.get("car_age") is not None:
            self.add_error("car_age", "Leave this empty when the applicant owns no car.")
        if self.errors:
            return data
        row, errors = clean_application(self._kaggle_row(data))
        errors.update(self.contract.errors(row, known=errors))
        self.add_service_errors(errors)
        if not errors:
            self.application_row = row
        return data

    def add_service_errors(self, errors: dict[str, str]) -> None:
        """Errors keyed by Kaggle column (the shared validator's, the service's) shown beside
        the field they came from; any other key goes above the form."""
        for column, message in errors.items():
            field = self.column_fields.get(column) or (column if column in self.fields else None)
            if field not in self.fields:
                field = None
                if column in APPLICATION_TABLE.column_names:  # named, for lack of a field
                    message = f"{column}: {message}"
            self.add_error(field, PLAIN_MESSAGES.get(column) or _sentence(message))

    def _kaggle_row(self, data: dict[str, Any]) -> dict[str, Any]:
        """The application in Kaggle columns; empty optional fields are left out."""
        if data["not_employed"]:
            days_employed = DAYS_SENTINEL
            organization = "XNA"  # Home Credit's rows for the not-employed always say XNA
        else:
            days_employed = days_before(data["employed_since"], self.today)
            organization = data.get("organization") or None
        row: dict[str, Any] = {
            "NAME_CONTRACT_TYPE": data["contract_type"],
            "CODE_GENDER": data["gender"],
            "FLAG_OWN_CAR": data["owns_car"],
            "FLAG_OWN_REALTY": data["owns_realty"],
            "OWN_CAR_AGE": _float(data.get("car_age")),
            "CNT_CHILDREN": data["children"],
            "CNT_FAM_MEMBERS": _float(data["family_members"]),
            "AMT_INCOME_TOTAL": _float(data["income"]),
            "AMT_CREDIT": _float(data["credit"]),
            "AMT_ANNUITY": _float(data["annuity"]),
            "AMT_GOODS_PRICE": _float(data.get("goods_price")),
            "NAME_INCOME_TYPE": data["income_type"],
            "NAME_EDUCATION_TYPE": data["education"],
            "NAME_FAMILY_STATUS": data["family_status"],
            "NAME_HOUSING_TYPE": data["housing"],
            "OCCUPATION_TYPE": data.get("occupation") or None,
            "ORGANIZATION_TYPE": organization,
            "DAYS_BIRTH": days_before(data["birth_date"], self.today),
            "DAYS_EMPLOYED": days_employed,
            "EXT_SOURCE_1": data.get("ext_source_1"),
            "EXT_SOURCE_2": data.get("ext_source_2"),
            "EXT_SOURCE_3": data.get("ext_source_3"),
            REGION_COLUMN: data.get("region"),
        }
        for column in self.extra_fields:
            value = data.get(self.column_fields[column])
            if isinstance(value, datetime.date):
                value = days_before(value, self.today)
            row[column] = value
        return {column: value for column, value in row.items() if value is not None}


def region_choices(regions: list[Region]) -> list[tuple[str, str]]:
    """(raw value, label) per region: its share of the population (first, so a narrow select
    still shows it), to as many digits as it takes to tell neighbours apart, and how many
    training applicants lived there."""
    for digits in range(2, 8):
        shares = [f"{region.share * 100:.{digits}g}%" for region in regions]
        if len(set(shares)) == len(shares):
            break
    choices = []
    for region, share in zip(regions, shares, strict=True):
        label = f"{share} of the population"
        if region.applicants is not None:
            label += f" ({region.applicants:,} training applicants)"
        choices.append((repr(region.share), label))
    return choices


def _float(value: Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def _sentence(message: str) -> str:
    """A validator's message ("must be ...") as a sentence beside a field."""
    message = message.strip()
    if message.startswith("must "):
        message = "This value " + message
    elif message == "this field is required":
        message = "This field is required"
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


class OverrideForm(forms.Form):
    """A reviewer's final decision on a referred application."""

    outcome = forms.ChoiceField(
        label="Your decision",
        choices=[(Outcome.APPROVE, "Approve"), (Outcome.REJECT, "Reject")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose approve or reject."},
    )
    justification = forms.CharField(
        label="Justification",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text="Required. It is stored with your decision and shown in the audit trail.",
        error_messages={"required": "Write why you decide this way: it goes on the record."},
    )


class BatchUploadForm(forms.Form):
    """One CSV file; its content is checked by `applicants.services.batch_intake`, the size
    here first so a huge upload is refused before it is read into memory."""

    file = forms.FileField(
        label="CSV file of applications",
        help_text="UTF-8 CSV with a header line of Home Credit application column names.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": "Choose a CSV file to upload."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CREDSCOPE_BATCH_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes. "
                "Split it into smaller batches."
            )
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file (comma-separated values).")
        return upload
