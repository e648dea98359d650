"""Fast exact prediction and TreeSHAP for the ensemble's trees, in one compiled pass.

Why this exists: the libraries' own single-row calls are slow for serving. Measured on this
machine with 800-tree models over 600 features, one row: LightGBM ``pred_contrib`` 12 ms,
XGBoost ``pred_contribs`` 24 ms (plus a DMatrix), CatBoost ``ShapValues`` 43 ms, and even
plain prediction 2.6 ms for the three. The budget is 2 ms for prediction and 15 ms with
SHAP. So the trees are read from the native model files (the bundle keeps those, and the
libraries stay the reference) into flat arrays, and numba evaluates them.

The SHAP values are the same quantity the libraries compute: path-dependent TreeSHAP
(Lundberg et al. 2020), with each library's own node covers (LightGBM data counts, XGBoost
hessian sums, CatBoost leaf weights). Tests compare them with the native outputs.

How it is fast. For a leaf ``l`` with value ``v``, let ``P`` be the distinct features on its
path (``d = |P|``), ``z_j`` the product of cover fractions of the path's nodes on feature j,
and ``A`` the features whose path conditions the row satisfies. The leaf's share of the
path-dependent value function is ``f(S) = v * prod_{j in S} 1[j in A] * prod_{j not in S}
z_j``, a game on ``P`` alone, whose Shapley values work out to

    phi_j = v * Z(P \\ A) * (1 - z_j) * K(A \\ {j})     for j in A
    phi_j = -v * Z(P \\ A) * K(A)                      for j not in A

with ``Z(B) = prod_{j in B} z_j`` and ``K(B) = sum_{S subset of B} w(|S|, d) Z(B \\ S)``,
``w(k, d) = k! (d - k - 1)! / d!``. ``K`` depends only on the tree, so it is tabulated for
every subset of every leaf's path when the model is loaded (2^d numbers a leaf; depth is
capped by the training profiles), and a row costs O(leaves x depth) instead of TreeSHAP's
O(leaves x depth^2) with its recursion. The expected value (``phi_0``) is ``sum_l v_l
Z(P_l)``. Everything is float64, so base + contributions equals the prediction to ~1e-12.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.ml.serving import forest_kernels as kernels

#: Deepest path (distinct features) a leaf may have: its table has 2^d entries.
MAX_PATH_FEATURES = 16
#: From this many rows SHAP spreads over numba's threads (one per core), where allowed:
#: fewer rows are not worth starting them.
THREADED_FROM_ROWS = 32
#: From this many rows SHAP goes leaf by leaf over blocks of BLOCK_ROWS rows, reading each
#: leaf's path and K table once a block. Measured on 2 cores over the full bundle (20,146
#: leaves, 721 features), one core: 500 rows 476 ms against ~1,060 row by row; 17 rows (a
#: counteroffer search) 21 ms against 46. One row alone is faster row by row.
BLOCKED_FROM_ROWS = 4
BLOCK_ROWS = 32
_threads_allowed = True
_LEFT_IF_LE, _LEFT_IF_LT = 0, 1  # LightGBM and CatBoost: x <= t goes left; XGBoost: x < t


def shap_threads_allow(allowed: bool) -> None:
    """Whether SHAP over many rows may use a thread per core in this process (the default).

    A process that is one of a pool sized to the cores (a Celery worker: one process per
    core) turns them off: its threads would only compete with its siblings' for the same
    cores. Measured on 2 cores over 500-row chunks: one threaded process 2,117 rows/s on
    1.32 cores, two of them 2,995; one kept to its own core 1,654, two of them 3,207.
    """
    global _threads_allowed
    _threads_allowed = allowed


class ForestError(ValueError):
    """A model this module cannot represent exactly."""


@dataclass
class Trees:
    """Nodes of one or more trees in parallel lists (indices local to this object)."""

    feature: list[int]
    threshold: list[float]
    op: list[int]
    nan_left: list[bool]
    zero_missing: list[bool]
    left: list[int]
    right: list[int]
    value: list[float]
    cover: list[float]
    roots: list[int]

    @classmethod
    def empty(cls) -> Trees:
        return cls([], [], [], [], [], [], [], [], [], [])

    def add(
        self,
        *,
        feature: int = -1,
        threshold: float = 0.0,
        op: int = 0,
        nan_left: bool = True,
        zero_missing: bool = False,
        value: float = 0.0,
        cover: float = 0.0,
    ) -> int:
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.op.append(op)
        self.nan_left.append(nan_left)
        self.zero_missing.append(zero_missing)
        self.left.append(-1)
        self.right.append(-1)
        self.value.append(value)
        self.cover.append(cover)
        return len(self.feature) - 1


# --- reading the native models ------------------------------------------------------------


def trees_from_lightgbm(booster: Any) -> tuple[Trees, float]:
    """LightGBM's trees (numerical splits only) and its constant (always 0)."""
    dump = booster.dump_model()
    trees = Trees.empty()
    for info in dump["tree_info"]:
        trees.roots.append(_lgb_node(trees, info["tree_structure"]))
    return trees, 0.0


def _lgb_node(trees: Trees, node: dict) -> int:
    if "leaf_value" in node:
        return trees.add(value=float(node["leaf_value"]), cover=float(node.get("leaf_count", 0)))
    if node.get("decision_type", "<=") != "<=":
        raise ForestError("LightGBM categorical splits are not supported")
    threshold = float(node["threshold"])
    missing = node.get("missing_type", "None")
    default_left = bool(node.get("default_left", True))
    if missing == "None":
        # LightGBM reads NaN as 0.0 here, then compares.
        nan_left, zero_missing = threshold >= 0.0, False
    elif missing == "Zero":
        nan_left, zero_missing = default_left, True
    else:
        nan_left, zero_missing = default_left, False
    index = trees.add(
        feature=int(node["split_feature"]),
        threshold=threshold,
        op=_LEFT_IF_LE,
        nan_left=nan_left,
        zero_missing=zero_missing,
        cover=float(node["internal_count"]),
    )
    left = _lgb_node(trees, node["left_child"])
    right = _lgb_node(trees, node["right_child"])
    trees.left[index], trees.right[index] = left, right
    return index


def trees_from_xgboost(booster: Any) -> tuple[Trees, float]:
    """XGBoost's trees (gbtree, numerical splits) and its base margin."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    if learner["gradient_booster"]["name"] != "gbtree":
        raise ForestError("only XGBoost gbtree models are supported")
    trees = Trees.empty()
    for tree in learner["gradient_booster"]["model"]["trees"]:
        if any(int(t) != 0 for t in tree.get("split_type", [])):
            raise ForestError("XGBoost categorical splits are not supported")
        left, right = tree["left_children"], tree["right_children"]
        offset = len(trees.feature)
        for i in range(len(left)):
            is_leaf = left[i] == -1
            trees.add(
                feature=-1 if is_leaf else int(tree["split_indices"][i]),
                threshold=float(np.float32(tree["split_conditions"][i])),
                op=_LEFT_IF_LT,
                nan_left=bool(tree["default_left"][i]),
                value=float(np.float32(tree["split_conditions"][i])) if is_leaf else 0.0,
                cover=float(tree["sum_hessian"][i]),
            )
            if not is_leaf:
                trees.left[offset + i] = offset + left[i]
                trees.right[offset + i] = offset + right[i]
        trees.roots.append(offset)
    base_score = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    objective = learner["objective"]["name"]
    if objective != "binary:logistic":
        raise ForestError(f"unsupported XGBoost objective {objective}")
    base_score = float(np.float32(base_score))
    return trees, math.log(base_score / (1.0 - base_score))


def trees_from_catboost(model: Any) -> tuple[Trees, float]:
    """CatBoost's oblivious trees (float features only) as ordinary trees, and its bias."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        model.save_model(path, format="json")
        with open(path) as handle:
            dump = json.load(handle)
    info = dump["features_info"]
    if info.get("categorical_features"):
        raise ForestError("CatBoost categorical features are not supported")
    flat = {}
    for feature in info.get("float_features", []):
        nan_treatment = feature.get("nan_value_treatment", "AsIs")
        flat[feature["feature_index"]] = (
            feature["flat_feature_index"],
            nan_treatment != "AsTrue",  # AsFalse / AsIs: "x > border" is false for NaN
        )
    scale, bias = dump.get("scale_and_bias", [1.0, [0.0]])
    bias = bias[0] if isinstance(bias, list) else bias
    trees = Trees.empty()
    for tree in dump["oblivious_trees"]:
        splits = tree.get("splits", [])
        values = [scale * float(v) for v in tree["leaf_values"]]
        weights = [float(w) for w in tree["leaf_weights"]]
        if any(s.get("split_type", "FloatFeature") != "FloatFeature" for s in splits):
            raise ForestError("CatBoost splits on non-float features are not supported")
        # Leaf index bit k is split k's outcome ("x > border"); the root tests the last
        # split so that the leaves of each subtree are contiguous in index order.
        trees.roots.append(_catboost_subtree(trees, splits, values, weights, flat, 0))
    return trees, float(bias)


def _catboost_subtree(
    trees: Trees,
    splits: list[dict],
    values: list[float],
    weights: list[float],
    flat: dict[int, tuple[int, bool]],
    leaf_offset: int,
    level: int | None = None,
) -> int:
    depth = len(splits)
    level = depth - 1 if level is None else level
    if level < 0:
        return trees.add(value=values[leaf_offset], cover=weights[leaf_offset])
    split = splits[level]
    feature, nan_left = flat[split["float_feature_index"]]
    span = 1 << level
    cover = sum(weights[leaf_offset : leaf_offset + 2 * span])
    index = trees.add(
        feature=feature,
        threshold=float(np.float32(split["border"])),
        op=_LEFT_IF_LE,
        nan_left=nan_left,
        cover=cover,
    )
    left = _catboost_subtree(trees, splits, values, weights, flat, leaf_offset, level - 1)
    right = _catboost_subtree(trees, splits, values, weights, flat, leaf_offset + span, level - 1)
    trees.left[index], trees.right[index] = left, right
    return index


# --- the compiled forest ------------------------------------------------------------------


class Forest:
    """Several tree models combined as ``bias + sum_m weight_m * model_m(x)``.

    ``predict`` gives that sum (``predict_margins`` each model's own raw margin); ``shap``
    its exact TreeSHAP contributions per feature, in the same units, with
    ``expected_value + contributions.sum(axis=1) == predict(X)``.
    """

    def __init__(
        self,
        models: list[tuple[Trees, float]],
        weights: list[float],
        n_features: int,
        bias: float = 0.0,
    ) -> None:
        if len(models) != len(weights):
            raise ValueError("one weight per model")
        self.n_features = n_features
        self.n_models = len(models)
        self.model_constants = np.array([c for _, c in models], dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        # The models' constants (XGBoost's base margin, CatBoost's bias) fold into the bias.
        self.bias = float(bias) + float(self.weights @ self.model_constants)
        self._nodes, cover, self._roots, self._tree_model = _flatten([t for t, _ in models])
        if self._nodes[0].size and int(self._nodes[0].max()) >= n_features:
            raise ForestError(f"a tree splits on a feature beyond the {n_features} given")
        self._tree_weight = self.weights[self._tree_model]
        self._leaves = _leaf_paths(self._nodes, cover, self._roots)
        self._k = np.zeros(int(self._leaves["k_ptr"][-1]), dtype=np.float64)
        kernels.k_tables(
            self._leaves["slot_ptr"], self._leaves["slot_z"], self._leaves["k_ptr"], self._k
        )
        leaf_value = (
            self._nodes[7][self._leaves["leaf_node"]] * self._tree_weight[self._leaves["leaf_tree"]]
        )
        self.expected_value = self.bias + float(
            kernels.expected_value(leaf_value, self._leaves["slot_ptr"], self._leaves["slot_z"])
        )

    @property
    def n_trees(self) -> int:
        return len(self._roots)

    @property
    def n_leaves(self) -> int:
        return len(self._leaves["leaf_node"])

    @property
    def table_bytes(self) -> int:
        """Memory held for SHAP (the K tables and paths)."""
        return int(self._k.nbytes + sum(a.nbytes for a in self._leaves.values()))

    def predict_margins(self, X: np.ndarray) -> np.ndarray:
        """Each model's raw margin (its constant included): shape (rows, models)."""
        X = _as_matrix(X, self.n_features)
        out = np.zeros((X.shape[0], self.n_models), dtype=np.float64)
        kernels.predict(X, *self._nodes, self._roots, self._tree_model, out)
        return out + self.model_constants

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``bias + sum_m weight_m * margin_m`` for each row."""
        margins = self.predict_margins(X) - self.model_constants
        return margins @ self.weights + self.bias

    def explained_logits(self, X: np.ndarray) -> np.ndarray:
        """The prediction :meth:`shap` returns for each row, to the bit, without its
        contributions: a walk down each tree (microseconds a row) instead of every leaf."""
        X = _as_matrix(X, self.n_features)
        out = np.zeros(X.shape[0], dtype=np.float64)
        kernels.explained_logits(X, *self._nodes, self._roots, self._tree_weight, out)
        return out + self.bias

    def shap(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (rows, features) and the prediction they explain (rows,)."""
        X = _as_matrix(X, self.n_features)
        phi = np.zeros((X.shape[0], self.n_features), dtype=np.float64)
        pred = np.zeros(X.shape[0], dtype=np.float64)
        leaves = self._leaves
        rows = X.shape[0]
        if rows < BLOCKED_FROM_ROWS:
            kernel, block = kernels.shap_serial, ()
        elif _threads_allowed and rows >= THREADED_FROM_ROWS:
            kernel, block = kernels.shap_parallel, (BLOCK_ROWS,)
        else:
            kernel, block = kernels.shap_blocked, (BLOCK_ROWS,)
        kernel(
            X,
            *self._nodes,
            self._tree_weight,
            leaves["leaf_node"],
            leaves["leaf_tree"],
            leaves["path_ptr"],
            leaves["path_node"],
            leaves["path_left"],
            leaves["path_slot"],
            leaves["slot_ptr"],
            leaves["slot_feature"],
            leaves["slot_z"],
            leaves["k_ptr"],
            self._k,
            phi,
            pred,
            *block,
        )
        return phi, pred + self.bias


def _as_matrix(X: np.ndarray, n_features: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"expected rows of {n_features} features, got shape {X.shape}")
    return np.ascontiguousarray(X, dtype=np.float32)


def _flatten(
    models: list[Trees],
) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]:
    """All models' nodes in one set of arrays (global indices)."""
    columns: dict[str, list] = {k: [] for k in ("f", "t", "o", "n", "z", "l", "r", "v", "c")}
    roots, tree_model = [], []
    for m, trees in enumerate(models):
        offset = len(columns["f"])
        columns["f"] += trees.feature
        columns["t"] += trees.threshold
        columns["o"] += trees.op
        columns["n"] += trees.nan_left
        columns["z"] += trees.zero_missing
        columns["l"] += [c + offset if c >= 0 else -1 for c in trees.left]
        columns["r"] += [c + offset if c >= 0 else -1 for c in trees.right]
        columns["v"] += trees.value
        columns["c"] += trees.cover
        roots += [r + offset for r in trees.roots]
        tree_model += [m] * len(trees.roots)
    nodes = (
        np.asarray(columns["f"], dtype=np.int32),
        np.asarray(columns["t"], dtype=np.float64),
        np.asarray(columns["o"], dtype=np.int8),
        np.asarray(columns["n"], dtype=np.bool_),
        np.asarray(columns["z"], dtype=np.bool_),
        np.asarray(columns["l"], dtype=np.int32),
        np.asarray(columns["r"], dtype=np.int32),
        np.asarray(columns["v"], dtype=np.float64),
    )
    return (
        nodes,
        np.asarray(columns["c"], dtype=np.float64),
        np.asarray(roots, dtype=np.int32),
        np.asarray(tree_model, dtype=np.int32),
    )


def _leaf_paths(
    nodes: tuple[np.ndarray, ...], cover: np.ndarray, roots: np.ndarray
) -> dict[str, np.ndarray]:
    """For every leaf: its path (node, side, slot) and its distinct features with z."""
    feature, left, right = nodes[0], nodes[5], nodes[6]
    leaf_node, leaf_tree = [], []
    path_ptr, path_node, path_left, path_slot = [0], [], [], []
    slot_ptr, slot_feature, slot_z, k_ptr = [0], [], [], [0]
    for t, root in enumerate(roots):
        stack: list[tuple[int, list[tuple[int, bool]]]] = [(int(root), [])]
        while stack:
            node, path = stack.pop()
            if feature[node] >= 0:
                stack.append((int(right[node]), [*path, (node, False)]))
                stack.append((int(left[node]), [*path, (node, True)]))
                continue
            slots: dict[int, int] = {}
            zs: list[float] = []
            for parent, went_left in path:
                child = left[parent] if went_left else right[parent]
                # A node no training row reached says nothing: its fraction is 0.
                fraction = cover[child] / cover[parent] if cover[parent] > 0 else 0.0
                slot = slots.setdefault(int(feature[parent]), len(slots))
                if slot == len(zs):
                    zs.append(1.0)
                zs[slot] *= fraction
                path_node.append(parent)
                path_left.append(went_left)
                path_slot.append(slot)
            if len(slots) > MAX_PATH_FEATURES:
                raise ForestError(
                    f"a leaf path tests {len(slots)} distinct features; at most "
                    f"{MAX_PATH_FEATURES} are supported (cap the trees' depth)"
                )
            leaf_node.append(node)
            leaf_tree.append(t)
            path_ptr.append(len(path_node))
            slot_feature += list(slots)
            slot_z += zs
            slot_ptr.append(len(slot_feature))
            k_ptr.append(k_ptr[-1] + (1 << len(slots)))
    return {
        "leaf_node": np.asarray(leaf_node, dtype=np.int32),
        "leaf_tree": np.asarray(leaf_tree, dtype=np.int32),
        "path_ptr": np.asarray(path_ptr, dtype=np.int64),
        "path_node": np.asarray(path_node, dtype=np.int32),
        "path_left": np.asarray(path_left, dtype=np.bool_),
        "path_slot": np.asarray(path_slot, dtype=np.int32),
        "slot_ptr": np.asarray(slot_ptr, dtype=np.int64),
        "slot_feature": np.asarray(slot_feature, dtype=np.int32),
        "slot_z": np.asarray(slot_z, dtype=np.float64),
        "k_ptr": np.asarray(k_ptr, dtype=np.int64),
    }
