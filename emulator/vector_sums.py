"""Lengths, dot products and matrix products of (N, 3) vectors, the very numbers numpy gives.

``np.linalg.norm(a, axis=1)`` sums the squares left to right, ``sqrt((x² + y²) + z²)``, and
``np.einsum("ij,ij->i", a, b)`` sums its products as ``0 + ((x·x' + z·z') + y·y')``.  Both reduce
along rows of three, which numpy does one short row at a time; written out on the components
they are plain element-wise operations, several times faster, with the same bits
(``tests/emulator/test_vector_sums.py`` checks both against numpy).
"""

from __future__ import annotations

import numpy as np


def vector_norm(a: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(a, axis=1)`` of an (N, 3) array."""
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    out = x * x
    out += y * y
    out += z * z
    return np.sqrt(out, out=out)


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.einsum("ij,ij->i", a, b)`` of two (N, 3) arrays."""
    out = a[:, 0] * b[:, 0]
    out += a[:, 2] * b[:, 2]
    out += a[:, 1] * b[:, 1]
    out += 0.0  # einsum's sum starts at +0.0: a sum of -0.0 terms is +0.0
    return out


def unit_components(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The components of ``a / np.linalg.norm(a, axis=1)[:, None]``, as three (N,) arrays."""
    length = vector_norm(a)
    return a[:, 0] / length, a[:, 1] / length, a[:, 2] / length


def rows_times(a: np.ndarray, b: np.ndarray, many: bool = False) -> np.ndarray:
    """``a @ b`` of (N, 3) rows by a vector or a 3x3 matrix; with ``many``, every row gets the
    number numpy gives it in a product of many rows.

    numpy multiplies a single row by a vector (``dot``) or by a transposed matrix (``gemv``)
    along another route than many rows (``gemv``, ``gemm``), and the fused multiply-adds of the
    two routes can round the last bit differently.  A batch cut from a larger product (a chunk,
    or the hits of a chunk) may hold one row: ``many`` doubles it and keeps the first result.
    """
    if many and a.shape[0] == 1:
        return (np.concatenate([a, a]) @ b)[:1]
    return a @ b
