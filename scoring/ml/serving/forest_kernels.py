"""The numba kernels behind :mod:`scoring.ml.serving.forest` (compiled on first use, then
cached on disk), kept apart from the Python that prepares their arrays."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_ZERO = 1e-35  # LightGBM treats |x| <= kZeroThreshold as zero


@njit(cache=True, inline="always")
def _goes_left(x: float, threshold: float, op: int, nan_left: bool, zero_missing: bool) -> bool:
    if math.isnan(x):
        return nan_left
    if zero_missing and -_ZERO <= x <= _ZERO:
        return nan_left
    if op == 0:
        return x <= threshold
    return x < threshold


@njit(cache=True, inline="always")
def _leaf_reached(row, node, feature, threshold, op, nan_left, zero_missing, left, right):
    """The leaf a row reaches from the tree's root ``node``."""
    while feature[node] >= 0:
        if _goes_left(np.float64(row[feature[node]]), threshold[node], op[node], nan_left[node],
                      zero_missing[node]):  # fmt: skip
            node = left[node]
        else:
            node = right[node]
    return node


@njit(cache=True)
def predict(X, feature, threshold, op, nan_left, zero_missing, left, right, value, roots,
            tree_model, out):  # fmt: skip
    """out[i, m] += sum of model m's leaf values reached by row i."""
    for i in range(X.shape[0]):
        row = X[i]
        for t in range(roots.shape[0]):
            node = _leaf_reached(row, roots[t], feature, threshold, op, nan_left, zero_missing,
                                 left, right)  # fmt: skip
            out[i, tree_model[t]] += value[node]


@njit(cache=True)
def k_tables(slot_ptr, slot_z, k_ptr, k_out):
    """K(B) = sum_{k} w(k, d) e_{|B|-k}(z_B) for every subset B of every leaf's path."""
    n_leaves = slot_ptr.shape[0] - 1
    for leaf in range(n_leaves):
        s0 = slot_ptr[leaf]
        d = slot_ptr[leaf + 1] - s0
        if d == 0:
            continue
        size = 1 << d
        w = np.empty(d)
        for k in range(d):
            w[k] = math.exp(math.lgamma(k + 1) + math.lgamma(d - k) - math.lgamma(d + 1))
        # e[B, m]: elementary symmetric polynomial of degree m of {z_j : j in B}
        e = np.zeros((size, d + 1))
        e[0, 0] = 1.0
        count = np.zeros(size, dtype=np.int64)
        for b in range(1, size):
            top = 0
            while (b >> (top + 1)) > 0:
                top += 1
            rest = b ^ (1 << top)
            z = slot_z[s0 + top]
            count[b] = count[rest] + 1
            e[b, 0] = 1.0
            for m in range(1, count[b] + 1):
                e[b, m] = e[rest, m] + z * e[rest, m - 1]
        base = k_ptr[leaf]
        for b in range(size):
            c = count[b]
            if c == d:
                k_out[base + b] = 0.0  # never used: some j is always left out
                continue
            total = 0.0
            for k in range(c + 1):
                total += w[k] * e[b, c - k]
            k_out[base + b] = total


@njit(cache=True)
def expected_value(leaf_value, slot_ptr, slot_z):
    total = 0.0
    for leaf in range(leaf_value.shape[0]):
        z = 1.0
        for s in range(slot_ptr[leaf], slot_ptr[leaf + 1]):
            z *= slot_z[s]
        total += leaf_value[leaf] * z
    return total


@njit(cache=True, inline="always")
def _shap_row(row, feature, threshold, op, nan_left, zero_missing, value, tree_weight,
              leaf_node, leaf_tree, path_ptr, path_node, path_left, path_slot, slot_ptr,
              slot_feature, slot_z, k_ptr, k, phi_row, go_left):  # fmt: skip
    for node in range(feature.shape[0]):
        f = feature[node]
        if f >= 0:
            go_left[node] = _goes_left(np.float64(row[f]), threshold[node], op[node],
                                       nan_left[node], zero_missing[node])  # fmt: skip
    prediction = 0.0
    for leaf in range(leaf_node.shape[0]):
        v = value[leaf_node[leaf]] * tree_weight[leaf_tree[leaf]]
        s0 = slot_ptr[leaf]
        d = slot_ptr[leaf + 1] - s0
        full = (1 << d) - 1
        a = full
        for p in range(path_ptr[leaf], path_ptr[leaf + 1]):
            if go_left[path_node[p]] != path_left[p]:
                a &= ~(1 << path_slot[p])
        if a == full:
            prediction += v
        zc = v
        for s in range(d):
            if not (a >> s) & 1:
                zc *= slot_z[s0 + s]
        if zc == 0.0:
            continue
        base = k_ptr[leaf]
        k_a = k[base + a]
        for s in range(d):
            f = slot_feature[s0 + s]
            if (a >> s) & 1:
                phi_row[f] += zc * (1.0 - slot_z[s0 + s]) * k[base + (a ^ (1 << s))]
            else:
                phi_row[f] -= zc * k_a
    return prediction


@njit(cache=True)
def shap_serial(X, feature, threshold, op, nan_left, zero_missing, left, right, value,
                tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left, path_slot,
                slot_ptr, slot_feature, slot_z, k_ptr, k, phi, pred):  # fmt: skip
    """One row after another: for a few rows (one applicant), where a block costs more to set
    up than it saves."""
    go_left = np.zeros(feature.shape[0], dtype=np.bool_)
    for i in range(X.shape[0]):
        pred[i] = _shap_row(X[i], feature, threshold, op, nan_left, zero_missing, value,
                            tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left,
                            path_slot, slot_ptr, slot_feature, slot_z, k_ptr, k, phi[i],
                            go_left)  # fmt: skip


@njit(cache=True, inline="always")
def _shap_block(X, i0, m, feature, threshold, op, nan_left, zero_missing, value, tree_weight,
                leaf_node, leaf_tree, path_ptr, path_node, path_left, path_slot, slot_ptr,
                slot_feature, slot_z, k_ptr, k, phi, pred, xt, go, a):  # fmt: skip
    """Rows ``i0 .. i0 + m`` leaf by leaf: each leaf's path and K table are read once for the
    block instead of once a row (a row alone streams all ~10 MB of them through the cache).
    Every row sees the same operations in the same order as in `_shap_row`, so its values
    are the same bits."""
    for r in range(m):
        for f in range(X.shape[1]):
            xt[f, r] = X[i0 + r, f]
    for node in range(feature.shape[0]):
        f = feature[node]
        if f >= 0:
            for r in range(m):
                go[node, r] = _goes_left(xt[f, r], threshold[node], op[node], nan_left[node],
                                         zero_missing[node])  # fmt: skip
    for r in range(m):
        pred[i0 + r] = 0.0
    for leaf in range(leaf_node.shape[0]):
        v = value[leaf_node[leaf]] * tree_weight[leaf_tree[leaf]]
        s0 = slot_ptr[leaf]
        d = slot_ptr[leaf + 1] - s0
        full = (1 << d) - 1
        for r in range(m):
            a[r] = full
        for p in range(path_ptr[leaf], path_ptr[leaf + 1]):
            node = path_node[p]
            side = path_left[p]
            keep = ~(1 << path_slot[p])
            for r in range(m):
                if go[node, r] != side:
                    a[r] &= keep
        base = k_ptr[leaf]
        for r in range(m):
            ar = a[r]
            i = i0 + r
            if ar == full:
                pred[i] += v
            zc = v
            for s in range(d):
                if not (ar >> s) & 1:
                    zc *= slot_z[s0 + s]
            if zc == 0.0:
                continue
            k_a = k[base + ar]
            for s in range(d):
                f = slot_feature[s0 + s]
                if (ar >> s) & 1:
                    phi[i, f] += zc * (1.0 - slot_z[s0 + s]) * k[base + (ar ^ (1 << s))]
                else:
                    phi[i, f] -= zc * k_a


@njit(cache=True)
def shap_blocked(X, feature, threshold, op, nan_left, zero_missing, left, right, value,
                 tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left, path_slot,
                 slot_ptr, slot_feature, slot_z, k_ptr, k, phi, pred, block):  # fmt: skip
    """Many rows on one core, ``block`` rows at a time (see `_shap_block`)."""
    n = X.shape[0]
    m0 = min(block, n)
    xt = np.empty((X.shape[1], m0), dtype=np.float64)
    go = np.zeros((feature.shape[0], m0), dtype=np.bool_)
    a = np.empty(m0, dtype=np.int64)
    for i0 in range(0, n, m0):
        _shap_block(X, i0, min(m0, n - i0), feature, threshold, op, nan_left, zero_missing,
                    value, tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left,
                    path_slot, slot_ptr, slot_feature, slot_z, k_ptr, k, phi, pred, xt, go,
                    a)  # fmt: skip


@njit(cache=True, parallel=True)
def shap_parallel(X, feature, threshold, op, nan_left, zero_missing, left, right, value,
                  tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left, path_slot,
                  slot_ptr, slot_feature, slot_z, k_ptr, k, phi, pred, block):  # fmt: skip
    """`shap_blocked` with the blocks spread over numba's threads."""
    n = X.shape[0]
    m0 = min(block, n)
    for b in prange((n + m0 - 1) // m0):
        i0 = b * m0
        xt = np.empty((X.shape[1], m0), dtype=np.float64)
        go = np.zeros((feature.shape[0], m0), dtype=np.bool_)
        a = np.empty(m0, dtype=np.int64)
        _shap_block(X, i0, min(m0, n - i0), feature, threshold, op, nan_left, zero_missing,
                    value, tree_weight, leaf_node, leaf_tree, path_ptr, path_node, path_left,
                    path_slot, slot_ptr, slot_feature, slot_z, k_ptr, k, phi, pred, xt, go,
                    a)  # fmt: skip


@njit(cache=True)
def explained_logits(X, feature, threshold, op, nan_left, zero_missing, left, right, value,
                     roots, tree_weight, out):  # fmt: skip
    """out[i] = the prediction `_shap_row` sums for row i (each tree's reached leaf, weighted,
    added in tree order: the same bits), by walking each tree's one path instead of scoring
    every leaf."""
    for i in range(X.shape[0]):
        row = X[i]
        total = 0.0
        for t in range(roots.shape[0]):
            node = _leaf_reached(row, roots[t], feature, threshold, op, nan_left, zero_missing,
                                 left, right)  # fmt: skip
            total += value[node] * tree_weight[t]
        out[i] = total
