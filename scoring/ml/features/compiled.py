"""The feature expressions compiled to numpy, for one applicant's rows.

The batch build runs each feature's polars expression over whole tables. For one applicant
polars' fixed cost per query (planning, threads, a few microseconds per expression) is most
of the time, so serving evaluates the *same expression objects* a second way: each one is
read once from its serialised form (``Expr.meta.serialize``) and turned into a tree of numpy
closures. There is no second definition that could drift: a feature added or changed in
``application.py``, ``history_*.py`` or ``interactions.py`` is compiled from its new
expression, an operation this compiler does not know is refused when it compiles (never
guessed at), and the parity test compares every feature with the batch build.

Values are float64 arrays with NaN for null (booleans as 1.0 / 0.0) and object arrays with
None for text. Polars keeps null and NaN apart; here they coincide, which is exact for these
definitions because the inputs hold no NaN after normalisation and every ratio goes through
:func:`scoring.ml.features.base.div` (a NaN can only appear as the last step of an
application ratio, where the matrix turns it into missing anyway). The parity test holds it.

Aggregations run over :class:`Groups`: rows sorted by group, reduced per segment with
``ufunc.reduceat``, so the same closure serves the per-applicant aggregates (one group) and
the per-credit ones (a group per bureau credit or previous loan).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "CompiledExpr",
    "Groups",
    "Rows",
    "UnsupportedExpression",
    "aggregate",
    "compile_expr",
    "compile_exprs",
    "compiled",
    "evaluate",
    "group_by",
    "left_join",
    "with_columns",
]


class UnsupportedExpression(ValueError):
    """A feature expression uses an operation the numpy compiler does not implement."""


@dataclass
class Rows:
    """A table's rows as columns (float64 with NaN for missing, or object with None)."""

    columns: dict[str, np.ndarray]
    n: int
    #: Row-level results of shared sub-expressions (the same mask serves many features).
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def take(self, index: np.ndarray) -> Rows:
        return Rows({c: v[index] for c, v in self.columns.items()}, len(index))


@dataclass
class Groups:
    """Rows (already sorted so each group is contiguous) split into non-empty segments."""

    starts: np.ndarray  # first row of each group
    ids: np.ndarray  # the group of each row
    sizes: np.ndarray

    @property
    def count(self) -> int:
        return len(self.starts)

    @classmethod
    def single(cls, n: int) -> Groups:
        return cls(np.zeros(1, dtype=np.intp), np.zeros(n, dtype=np.intp), np.array([n]))


Fn = Callable[[Rows, "Groups | None"], Any]


@dataclass(frozen=True)
class CompiledExpr:
    """One expression as a numpy function of (rows, groups); ``name`` is its output name.

    ``simple`` is (aggregation, column, ddof) when the expression is a plain aggregation
    of one column (most history features): :func:`aggregate` computes those for all
    columns at once.
    """

    name: str
    fn: Fn
    simple: tuple[str, str, int] | None = None

    def __call__(self, rows: Rows, groups: Groups | None = None) -> Any:
        return self.fn(rows, groups)


def compile_expr(expr: pl.Expr) -> CompiledExpr:
    """The numpy form of ``expr`` (raises :class:`UnsupportedExpression` for what it lacks)."""
    tree = json.loads(expr.meta.serialize(format="json"))
    return CompiledExpr(expr.meta.output_name(), _compile(tree), _simple_aggregation(tree))


def _simple_aggregation(node: Any) -> tuple[str, str, int] | None:
    while isinstance(node, dict) and ("Alias" in node or _is_float_cast(node)):
        node = node["Alias"][0] if "Alias" in node else node["Cast"]["expr"]
    if not (isinstance(node, dict) and "Agg" in node):
        return None
    ((name, inner),) = node["Agg"].items()
    ddof = 0
    if name in ("Min", "Max"):
        inner = inner["input"]
    elif name == "Std":
        inner, ddof = inner
    elif name not in ("Mean", "Sum"):
        return None
    if isinstance(inner, dict) and "Column" in inner:
        return name, inner["Column"], int(ddof)
    return None


def _is_float_cast(node: dict[str, Any]) -> bool:
    return "Cast" in node and node["Cast"]["dtype"] == {"Literal": "Float64"}


def compile_exprs(exprs: Sequence[pl.Expr]) -> list[CompiledExpr]:
    return [compile_expr(e) for e in exprs]


# --- frame operations: what the blocks do between expressions ---------------------------------


def with_columns(rows: Rows, exprs: Sequence[CompiledExpr]) -> Rows:
    """Like ``LazyFrame.with_columns``: every expression sees the input columns only."""
    if not exprs:
        return rows
    with np.errstate(all="ignore"):
        added = {e.name: _full(e.fn(rows, None), rows.n) for e in exprs}
    return Rows({**rows.columns, **added}, rows.n)


def evaluate(rows: Rows, exprs: Sequence[CompiledExpr]) -> dict[str, Any]:
    """Each row-level expression's value over ``rows`` (an array, or a scalar literal)."""
    with np.errstate(all="ignore"):
        return {e.name: e.fn(rows, None) for e in exprs}


def group_by(rows: Rows, keys: Sequence[str]) -> tuple[Rows, Groups, list[tuple[Any, ...]]]:
    """Rows sorted into contiguous groups of equal ``keys`` (null is a key of its own, as in
    polars; the original order kept within each group), the groups, and each group's key."""
    if rows.n == 0:
        return rows, Groups(np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.intp)), []
    codes = np.zeros(rows.n, dtype=np.int64)
    for key in keys:
        values = rows.columns[key]
        missing = np.isnan(values)
        uniques, inverse = np.unique(np.where(missing, 0.0, values), return_inverse=True)
        code = np.where(missing, len(uniques), inverse)
        codes = codes * (len(uniques) + 1) + code
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    boundary = np.empty(rows.n, dtype=bool)
    boundary[0] = True
    np.not_equal(codes[1:], codes[:-1], out=boundary[1:])
    starts = np.flatnonzero(boundary)
    ids = np.cumsum(boundary) - 1
    sizes = np.diff(np.append(starts, rows.n))
    sorted_rows = rows.take(order)
    group_keys = [
        tuple(None if np.isnan(v) else v for v in (sorted_rows.columns[k][s] for k in keys))
        for s in starts
    ]
    return sorted_rows, Groups(starts, ids, sizes), group_keys


def aggregate(
    rows: Rows, exprs: Sequence[CompiledExpr], groups: Groups | None = None
) -> dict[str, np.ndarray]:
    """Each aggregation over ``groups`` (all rows as one group by default)."""
    groups = groups or Groups.single(rows.n)
    with np.errstate(all="ignore"):
        out = _simple_aggregations(rows, [e for e in exprs if e.simple], groups)
        for e in exprs:
            if not e.simple:
                out[e.name] = _full(e.fn(rows, groups), groups.count)
    return {e.name: out[e.name] for e in exprs}


def _simple_aggregations(
    rows: Rows, exprs: list[CompiledExpr], groups: Groups
) -> dict[str, np.ndarray]:
    """Plain column aggregations, every column at once: one matrix, one reduction per kind."""
    if not exprs:
        return {}
    columns = list(dict.fromkeys(e.simple[1] for e in exprs))  # type: ignore[index]
    where = {c: j for j, c in enumerate(columns)}
    matrix = np.column_stack([rows.columns[c] for c in columns]).astype(np.float64, copy=False)
    valid = ~np.isnan(matrix)
    count = np.add.reduceat(valid.astype(np.int64), groups.starts, axis=0)
    total = np.add.reduceat(np.where(valid, matrix, 0.0), groups.starts, axis=0)
    kinds = {e.simple[0] for e in exprs}  # type: ignore[index]
    stats: dict[str, np.ndarray] = {"Sum": total}  # no values -> 0, as in polars
    if kinds & {"Mean", "Std"}:
        stats["Mean"] = np.where(count > 0, total / count, np.nan)
    if "Min" in kinds:
        low = np.minimum.reduceat(np.where(valid, matrix, np.inf), groups.starts, axis=0)
        stats["Min"] = np.where(count > 0, low, np.nan)
    if "Max" in kinds:
        high = np.maximum.reduceat(np.where(valid, matrix, -np.inf), groups.starts, axis=0)
        stats["Max"] = np.where(count > 0, high, np.nan)
    out = {}
    squares = None
    for e in exprs:
        kind, column, ddof = e.simple  # type: ignore[misc]
        j = where[column]
        if kind == "Std":
            if squares is None:
                deviation = np.where(valid, matrix - stats["Mean"][groups.ids], 0.0)
                squares = np.add.reduceat(deviation * deviation, groups.starts, axis=0)
            n = count[:, j]
            out[e.name] = np.where(n > ddof, np.sqrt(squares[:, j] / (n - ddof)), np.nan)
        else:
            out[e.name] = stats[kind][:, j]
    return out


def _full(value: Any, n: int) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.shape == (n,):
        return value
    if isinstance(value, str) or value is None:
        return np.full(n, value, dtype=object)
    return np.full(n, value, dtype=np.float64)


# --- the compiler -------------------------------------------------------------------------


_SHARED: dict[str, Fn] = {}


def _compile(node: Any) -> Fn:
    """The numpy function of a serialised node. Identical sub-trees share one function, and
    a row-level one keeps its result per :class:`Rows`, so a mask used by thirty features
    (active credits, the last 12 months) is computed once."""
    key = json.dumps(node, sort_keys=True)
    fn = _SHARED.get(key)
    if fn is None:
        fn = _compile_node(node)
        costly = isinstance(node, dict) and {"BinaryExpr", "Ternary", "Function"} & node.keys()
        if costly and '"Agg"' not in key and '"Len"' not in key:
            fn = _cached(fn)
        _SHARED[key] = fn
    return fn


def _cached(fn: Fn) -> Fn:
    def cached(rows: Rows, groups: Groups | None) -> Any:
        result = rows.cache.get(cached)
        if result is None:
            result = rows.cache[cached] = fn(rows, groups)
        return result

    return cached


def _compile_node(node: Any) -> Fn:
    if node == "Len":
        return _len
    if not isinstance(node, dict) or len(node) != 1:
        raise UnsupportedExpression(f"cannot compile expression node {node!r}")
    ((kind, body),) = node.items()
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise UnsupportedExpression(f"cannot compile polars {kind} expressions")
    return handler(body)


def _alias(body: list[Any]) -> Fn:
    return _compile(body[0])


def _column(name: str) -> Fn:
    def column(rows: Rows, groups: Groups | None) -> np.ndarray:
        return rows.columns[name]

    return column


def _literal(body: dict[str, Any]) -> Fn:
    value = _literal_value(body)
    return lambda rows, groups: value


def _literal_value(body: dict[str, Any]) -> Any:
    ((kind, inner),) = body.items()
    if kind == "Dyn":
        ((_, number),) = inner.items()
        return float(number)
    if kind == "Scalar":
        ((dtype, value),) = inner.items()
        if dtype == "Null":
            return np.nan
        if dtype == "String":
            return value
        if dtype in ("Float64", "Float32", "Int64", "Int32", "UInt32", "Boolean"):
            return float(value)
        if dtype == "List":
            return pl.read_ipc_stream(io.BytesIO(bytes(value))).to_series().to_list()
    raise UnsupportedExpression(f"cannot compile literal {body!r}")


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype == object)


def _null_mask(value: Any) -> Any:
    if isinstance(value, str):
        return False
    if value is None:
        return True
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.equal(value, None)
    return np.isnan(value)


def _text_compare(op: str, left: Any, right: Any, validity: bool) -> Any:
    """``==`` / ``!=`` over text (object arrays compare element by element in numpy)."""
    if op not in ("Eq", "NotEq"):
        raise UnsupportedExpression(f"cannot compile {op} over text")
    same = np.asarray(left == right, dtype=np.float64)
    out = same if op == "Eq" else 1.0 - same
    if not validity:
        out = np.where(_null_mask(left) | _null_mask(right), np.nan, out)
    return out


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "Plus": np.add,
    "Minus": np.subtract,
    "Multiply": np.multiply,
    "TrueDivide": np.true_divide,
}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "Eq": lambda a, b: a == b,
    "NotEq": lambda a, b: a != b,
    "Gt": lambda a, b: a > b,
    "GtEq": lambda a, b: a >= b,
    "Lt": lambda a, b: a < b,
    "LtEq": lambda a, b: a <= b,
}


def _binary(body: dict[str, Any]) -> Fn:
    left, right, op = _compile(body["left"]), _compile(body["right"]), body["op"]
    if op in _ARITHMETIC:
        ufunc = _ARITHMETIC[op]

        def arithmetic(rows: Rows, groups: Groups | None) -> Any:
            return ufunc(left(rows, groups), right(rows, groups))

        return arithmetic
    if op in _COMPARISONS:
        compare = _COMPARISONS[op]

        def comparison(rows: Rows, groups: Groups | None) -> Any:
            a, b = left(rows, groups), right(rows, groups)
            if _is_text(a) or _is_text(b):
                return _text_compare(op, a, b, validity=False)
            out = np.asarray(compare(a, b), dtype=np.float64)
            return np.where(np.isnan(a) | np.isnan(b), np.nan, out)

        return comparison
    if op in ("EqValidity", "NotEqValidity"):
        negate = op == "NotEqValidity"

        def eq_missing(rows: Rows, groups: Groups | None) -> Any:
            a, b = left(rows, groups), right(rows, groups)
            if _is_text(a) or _is_text(b):
                out = _text_compare("Eq", a, b, validity=True)
            else:
                same = (a == b) | (np.isnan(a) & np.isnan(b))
                out = np.asarray(same, dtype=np.float64)
            return 1.0 - out if negate else out

        return eq_missing
    if op in ("And", "Or"):
        is_and = op == "And"

        def kleene(rows: Rows, groups: Groups | None) -> Any:
            a, b = left(rows, groups), right(rows, groups)
            decided = 0.0 if is_and else 1.0
            short = (a == decided) | (b == decided)
            unknown = np.isnan(a) | np.isnan(b)
            return np.where(short, decided, np.where(unknown, np.nan, 1.0 - decided))

        return kleene
    raise UnsupportedExpression(f"cannot compile binary operator {op}")


def _ternary(body: dict[str, Any]) -> Fn:
    predicate = _compile(body["predicate"])
    truthy, falsy = _compile(body["truthy"]), _compile(body["falsy"])

    def ternary(rows: Rows, groups: Groups | None) -> Any:
        # A null predicate takes the `otherwise` branch, as in polars.
        chosen = predicate(rows, groups) == 1.0
        return np.where(chosen, truthy(rows, groups), falsy(rows, groups))

    return ternary


_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def _cast(body: dict[str, Any]) -> Fn:
    inner = _compile(body["expr"])
    dtype = body["dtype"].get("Literal") if isinstance(body["dtype"], dict) else None
    strict = body.get("options") == "Strict"
    if dtype in ("Float64", "Float32", "Boolean"):
        if next(iter(body["expr"])) in ("Agg", "BinaryExpr", "Function"):
            return inner  # numbers already (booleans are 1.0 / 0.0 here)

        def to_float(rows: Rows, groups: Groups | None) -> Any:
            value = inner(rows, groups)
            if _is_text(value):
                raise UnsupportedExpression("text cast to a number is not compiled")
            return value

        return to_float
    if dtype == "Int64":

        def to_int(rows: Rows, groups: Groups | None) -> Any:
            value = inner(rows, groups)
            if not _is_text(value):
                return np.trunc(value)
            if strict:
                raise UnsupportedExpression("strict text cast to an integer is not compiled")
            # polars' non-strict parse: optional sign and digits only, anything else null.
            values = value if isinstance(value, np.ndarray) else np.array([value], dtype=object)
            return np.array(
                [
                    float(int(v)) if v is not None and _INT_TEXT.fullmatch(v) else np.nan
                    for v in values
                ]
            )

        return to_int
    raise UnsupportedExpression(f"cannot compile a cast to {body['dtype']!r}")


def _function(body: dict[str, Any]) -> Fn:
    inputs = body["input"]
    function = body["function"]
    name, options = (function, None) if isinstance(function, str) else next(iter(function.items()))
    if name == "Boolean":
        name, options = (options, None) if isinstance(options, str) else next(iter(options.items()))
    if name == "ReplaceStrict":
        return _replace_strict(inputs)
    if name == "IsIn":
        return _is_in(inputs)
    args = [_compile(i) for i in inputs]
    if name == "Negate":
        return lambda rows, groups: -args[0](rows, groups)
    if name == "Pow":
        if options == "Sqrt":
            return _unary_float(args[0], np.sqrt)
        if options == "Generic":

            def power(rows: Rows, groups: Groups | None) -> Any:
                return np.power(args[0](rows, groups), args[1](rows, groups))

            return power
    if name in ("IsNull", "IsNotNull"):
        negate = name == "IsNotNull"

        def nulls(rows: Rows, groups: Groups | None) -> Any:
            mask = _null_mask(args[0](rows, groups))
            return np.asarray(~mask if negate else mask, dtype=np.float64)

        return nulls
    if name == "FillNull":

        def fill_null(rows: Rows, groups: Groups | None) -> Any:
            value = args[0](rows, groups)
            return np.where(np.isnan(value), args[1](rows, groups), value)

        return fill_null
    if name == "Clip":
        has_min, has_max = options["has_min"], options["has_max"]

        def clip(rows: Rows, groups: Groups | None) -> Any:
            value, rest = args[0](rows, groups), [a(rows, groups) for a in args[1:]]
            if has_min:
                value = np.maximum(value, rest.pop(0))  # NaN stays NaN
            if has_max:
                value = np.minimum(value, rest.pop(0))
            return value

        return clip
    if name in _HORIZONTAL:
        if name in ("SumHorizontal", "MeanHorizontal") and not options.get("ignore_nulls", True):
            raise UnsupportedExpression(f"{name} without ignore_nulls is not compiled")
        reduce = _HORIZONTAL[name]
        return lambda rows, groups: reduce([a(rows, groups) for a in args])
    raise UnsupportedExpression(f"cannot compile polars function {function!r}")


def _unary_float(arg: Fn, ufunc: Callable[[Any], Any]) -> Fn:
    def apply(rows: Rows, groups: Groups | None) -> Any:
        return ufunc(arg(rows, groups))

    return apply


def _stack(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.vstack(np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in values]))
    return matrix, ~np.isnan(matrix)


def _sum_horizontal(values: list[Any]) -> Any:
    matrix, valid = _stack(values)
    return np.where(valid, matrix, 0.0).sum(axis=0)  # all null -> 0, as in polars


def _mean_horizontal(values: list[Any]) -> Any:
    matrix, valid = _stack(values)
    count = valid.sum(axis=0)
    return np.where(count > 0, np.where(valid, matrix, 0.0).sum(axis=0) / count, np.nan)


def _min_horizontal(values: list[Any]) -> Any:
    matrix, valid = _stack(values)
    return np.where(valid.any(axis=0), np.where(valid, matrix, np.inf).min(axis=0), np.nan)


def _max_horizontal(values: list[Any]) -> Any:
    matrix, valid = _stack(values)
    return np.where(valid.any(axis=0), np.where(valid, matrix, -np.inf).max(axis=0), np.nan)


_HORIZONTAL = {
    "SumHorizontal": _sum_horizontal,
    "MeanHorizontal": _mean_horizontal,
    "MinHorizontal": _min_horizontal,
    "MaxHorizontal": _max_horizontal,
}


def _replace_strict(inputs: list[Any]) -> Fn:
    source, old, new, default = inputs
    arg = _compile(source)
    olds = _literal_value(old["Literal"])
    news = _literal_value(new["Literal"])
    fallback = _literal_value(default["Literal"])
    mapping = {o: float(v) for o, v in zip(olds, news, strict=True)}

    def replace(rows: Rows, groups: Groups | None) -> Any:
        values = arg(rows, groups)
        values = values if isinstance(values, np.ndarray) else np.array([values], dtype=object)
        return np.array([mapping.get(v, fallback) for v in values], dtype=np.float64)

    return replace


def _is_in(inputs: list[Any]) -> Fn:
    arg = _compile(inputs[0])
    allowed = frozenset(_literal_value(inputs[1]["Literal"]))

    def is_in(rows: Rows, groups: Groups | None) -> Any:
        values = arg(rows, groups)
        values = values if isinstance(values, np.ndarray) else np.array([values], dtype=object)
        # nulls_equal=False: a null value is null, not "not in the list".
        return np.array(
            [np.nan if _null(v) else float(v in allowed) for v in values], dtype=np.float64
        )

    return is_in


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# --- aggregations -------------------------------------------------------------------------


def _need_groups(groups: Groups | None) -> Groups:
    if groups is None:
        raise UnsupportedExpression("an aggregation outside a group-by")
    return groups


def _len(rows: Rows, groups: Groups | None) -> np.ndarray:
    return _need_groups(groups).sizes.astype(np.float64)


def _segments(values: Any, rows: Rows, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), (rows.n,))
    valid = ~np.isnan(values)
    return values, valid


def _agg(body: dict[str, Any]) -> Fn:
    ((name, inner),) = body.items()
    if name in ("Min", "Max"):
        inner = inner["input"]
    ddof = 1
    if name == "Std":
        inner, ddof = inner
    if name == "NUnique":
        return _n_unique(inner)
    if name in ("Last", "First"):
        return _last(inner, first=name == "First")
    arg = _compile(inner)
    reducer = _REDUCERS.get(name)
    if reducer is None:
        raise UnsupportedExpression(f"cannot compile the {name} aggregation")

    def aggregation(rows: Rows, groups: Groups | None) -> np.ndarray:
        groups = _need_groups(groups)
        values, valid = _segments(arg(rows, groups), rows, groups)
        return reducer(values, valid, groups, ddof)

    return aggregation


def _counts(valid: np.ndarray, groups: Groups) -> np.ndarray:
    return np.add.reduceat(valid.astype(np.int64), groups.starts)


def _sums(values: np.ndarray, valid: np.ndarray, groups: Groups) -> np.ndarray:
    return np.add.reduceat(np.where(valid, values, 0.0), groups.starts)


def _mean(values: np.ndarray, valid: np.ndarray, groups: Groups, ddof: int) -> np.ndarray:
    count = _counts(valid, groups)
    return np.where(count > 0, _sums(values, valid, groups) / count, np.nan)


def _sum(values: np.ndarray, valid: np.ndarray, groups: Groups, ddof: int) -> np.ndarray:
    return _sums(values, valid, groups)  # no values -> 0, as in polars


def _min(values: np.ndarray, valid: np.ndarray, groups: Groups, ddof: int) -> np.ndarray:
    low = np.minimum.reduceat(np.where(valid, values, np.inf), groups.starts)
    return np.where(_counts(valid, groups) > 0, low, np.nan)


def _max(values: np.ndarray, valid: np.ndarray, groups: Groups, ddof: int) -> np.ndarray:
    high = np.maximum.reduceat(np.where(valid, values, -np.inf), groups.starts)
    return np.where(_counts(valid, groups) > 0, high, np.nan)


def _std(values: np.ndarray, valid: np.ndarray, groups: Groups, ddof: int) -> np.ndarray:
    count = _counts(valid, groups)
    mean = _sums(values, valid, groups) / count
    deviation = np.where(valid, values - mean[groups.ids], 0.0)
    squares = np.add.reduceat(deviation * deviation, groups.starts)
    return np.where(count > ddof, np.sqrt(squares / (count - ddof)), np.nan)


_REDUCERS: dict[str, Callable[[np.ndarray, np.ndarray, Groups, int], np.ndarray]] = {
    "Mean": _mean,
    "Sum": _sum,
    "Min": _min,
    "Max": _max,
    "Std": _std,
}


def _n_unique(inner: Any) -> Fn:
    drop_nulls = (
        isinstance(inner, dict)
        and "Function" in inner
        and inner["Function"]["function"] == "DropNulls"
    )
    arg = _compile(inner["Function"]["input"][0] if drop_nulls else inner)

    def n_unique(rows: Rows, groups: Groups | None) -> np.ndarray:
        groups = _need_groups(groups)
        values = arg(rows, groups)
        out = np.empty(groups.count, dtype=np.float64)
        for g, (start, size) in enumerate(zip(groups.starts, groups.sizes, strict=True)):
            part = values[start : start + size].tolist()
            distinct = {v for v in part if not _null(v)}
            has_null = not drop_nulls and any(_null(v) for v in part)
            out[g] = len(distinct) + has_null
        return out

    return n_unique


def _last(inner: Any, *, first: bool) -> Fn:
    """``first``/``last``, optionally of ``sort_by(by, maintain_order=True)``: a stable sort
    with nulls first, so the last row is the latest (largest ``by``, the last such row in
    input order); a group whose ``by`` is all null keeps its input order."""
    by: Fn | None = None
    if isinstance(inner, dict) and "SortBy" in inner:
        sort = inner["SortBy"]
        options = sort["sort_options"]
        if (
            len(sort["by"]) != 1
            or options["descending"] != [False]
            or options["nulls_last"] != [False]
            or not options["maintain_order"]
            or first
        ):
            raise UnsupportedExpression("only last() of an ascending stable sort_by is compiled")
        by = _compile(sort["by"][0])
        inner = sort["expr"]
    arg = _compile(inner)

    def last(rows: Rows, groups: Groups | None) -> np.ndarray:
        groups = _need_groups(groups)
        values = np.broadcast_to(np.asarray(arg(rows, groups), dtype=np.float64), (rows.n,))
        if first:
            return values[groups.starts]
        position = np.arange(rows.n)
        if by is None:
            return values[groups.starts + groups.sizes - 1]
        keys, valid = _segments(by(rows, groups), rows, groups)
        latest = _max(keys, valid, groups, 0)
        any_key = _counts(valid, groups) > 0
        candidate = np.where(any_key[groups.ids], valid & (keys == latest[groups.ids]), True)
        chosen = np.maximum.reduceat(np.where(candidate, position, -1), groups.starts)
        return values[chosen]

    return last


_HANDLERS: Mapping[str, Callable[[Any], Fn]] = {
    "Alias": _alias,
    "Column": _column,
    "Literal": _literal,
    "BinaryExpr": _binary,
    "Ternary": _ternary,
    "Cast": _cast,
    "Function": _function,
    "Agg": _agg,
}


_COMPILED: dict[int, tuple[Sequence[pl.Expr], list[CompiledExpr]]] = {}


def compiled(exprs: Sequence[pl.Expr]) -> list[CompiledExpr]:
    """``exprs`` compiled once (memoised by identity: the feature lists are cached)."""
    entry = _COMPILED.get(id(exprs))
    if entry is None or entry[0] is not exprs:
        # Holding the list keeps its id from being reused by another one.
        entry = (exprs, compile_exprs(exprs))
        _COMPILED[id(exprs)] = entry
    return entry[1]


def left_join(rows: Rows, key: str, other: dict[str, np.ndarray], keys: list[Any]) -> Rows:
    """``rows`` with ``other``'s columns (one row per key in ``keys``) joined on ``key``; a
    row without a match, or with a null key, gets nulls (as polars' left join)."""
    position = {k: i for i, k in enumerate(keys) if k is not None}
    wanted = rows.columns[key]
    match = np.array(
        [-1 if v != v else position.get(v, -1) for v in wanted.tolist()], dtype=np.intp
    )
    found = match >= 0
    joined = {}
    for name, values in other.items():
        if len(values) == 0:
            joined[name] = np.full(rows.n, np.nan)
        else:
            joined[name] = np.where(found, values[np.maximum(match, 0)], np.nan)
    return Rows({**rows.columns, **joined}, rows.n)
