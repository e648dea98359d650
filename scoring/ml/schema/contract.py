"""A model version's input contract, as its bundle's ``reference.json`` ``inputs`` records it
(written by :mod:`scoring.ml.training.reference_build`), applied to one application row.

Every door (REST API, CSV batch, web form) asks the active version's contract two things:
which inputs it *requires* (never missing in training and matters to the model), and whether
each value lies within the domain the model was trained on. The columns every application
needs whatever the model (`records.REQUIRED_APPLICATION_COLUMNS`: what is stored and shown)
are required by every contract.

Bundles written before inputs carried a ``required`` flag (or with no ``inputs`` at all)
require only those columns: nothing says what else they need, and refusing applicants on a
guess would be worse than scoring a thin application honestly (a missing input is never a
reason against the applicant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from scoring.ml.schema.records import APPLICATION_TABLE, REQUIRED_APPLICATION_COLUMNS

#: The application column naming the applicant's region by its share of the population:
#: regions are anonymised in the Home Credit data, so this share is how a region is known.
REGION_COLUMN = "REGION_POPULATION_RELATIVE"
REQUIRED_MESSAGE = "this field is required"


@dataclass(frozen=True)
class Region:
    """One region of the training data: its share of the population (the raw value the model
    takes) and how many training applicants lived there (None when the bundle did not say)."""

    share: float
    applicants: int | None = None


@dataclass(frozen=True)
class InputContract:
    """The inputs of one model version (``version`` empty: no model to ask)."""

    version: str = ""
    inputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The model feature quantiles (``reference.json`` ``features``), for older bundles
    #: without a list of regions.
    feature_quantiles: Mapping[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_reference(cls, reference: Mapping[str, Any], *, version: str) -> InputContract:
        features = reference.get("features", {})
        return cls(
            version=version,
            inputs=reference.get("inputs", {}),
            feature_quantiles={
                name: entry["quantiles"]
                for name, entry in features.items()
                if name == REGION_COLUMN and "quantiles" in entry
            },
        )

    @cached_property  # asked once per row of a batch: worked out once per contract
    def required(self) -> tuple[str, ...]:
        """The required columns, in the application table's order."""
        flagged = {name for name, entry in self.inputs.items() if entry.get("required")}
        needed = flagged | set(REQUIRED_APPLICATION_COLUMNS)
        return tuple(c.name for c in APPLICATION_TABLE.columns if c.name in needed)

    def missing(self, row: Mapping[str, Any], *, known: Mapping[str, str] = {}) -> dict[str, str]:
        """An error for each required column the row leaves out (columns already in `known`,
        another error about the same field, are left to that error)."""
        return {
            name: REQUIRED_MESSAGE
            for name in self.required
            if row.get(name) is None and name not in known
        }

    def domain_errors(self, row: Mapping[str, Any]) -> dict[str, str]:
        """Errors for values far outside what this version was trained on (the bundle's
        ``domain``: the robust training range widened by a margin), naming the range."""
        errors: dict[str, str] = {}
        model = f"model version {self.version}" if self.version else "the active model"
        domains = self._domains
        for name, value in row.items():
            domain = domains.get(name)
            if domain is None or isinstance(value, str):
                continue
            low, high = domain
            if not low <= value <= high:
                errors[name] = (
                    f"{value:g} is far outside what {model} was trained on "
                    f"(accepted: {low:,.6g} to {high:,.6g})"
                )
        return errors

    @cached_property  # asked for every value of every row of a batch
    def _domains(self) -> dict[str, tuple[float, float]]:
        return {
            name: tuple(entry["domain"])
            for name, entry in self.inputs.items()
            if entry and entry.get("domain") is not None
        }

    def errors(self, row: Mapping[str, Any], *, known: Mapping[str, str] = {}) -> dict[str, str]:
        """Everything this contract says against a row the shared rules already checked
        (their errors in `known`): each missing required input, and, when the row is otherwise
        valid, each value outside the trained domain."""
        found = self.missing(row, known=known)
        if not known and not found:
            found.update(self.domain_errors(row))
        return found

    def regions(self) -> list[Region]:
        """The regions an applicant may live in, most populous first: the distinct values of
        the training data as the bundle lists them, or (older bundles) the values its
        quantiles show it took: a point repeated on the grid holds at least 1% of the
        applicants, and the ends are the smallest and largest observed (a single point between
        two others may be interpolated, a value no region has)."""
        listed = (self.inputs.get(REGION_COLUMN) or {}).get("values")
        if listed:
            regions = [Region(float(value), int(count)) for value, count in listed]
        else:
            points = [float(p) for p in self.feature_quantiles.get(REGION_COLUMN) or []]
            taken = {p for p in points if points.count(p) > 1} | set(points[:1] + points[-1:])
            regions = [Region(value) for value in taken]
        return sorted(regions, key=lambda region: -region.share)


#: The contract when no model version can be asked: only the columns every application needs.
NO_CONTRACT = InputContract()
