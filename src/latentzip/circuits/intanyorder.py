"""Integer conditionals of an HCLT in any coding order (the fixed-point twin of
:mod:`.anyorder`), for mixture components whose tree's pre-order is not the coding order.

Per record and variable: ``up[v]`` (the observed leaf + 1, times the children's messages) and
``msg[v]`` (``E[v] @ up[v]``, sent to the parent), renormalised by shifts after every product
(:func:`latentzip.coding.fixedpoint.renorm`). Observing refreshes the path to the root;
predicting carries a belief from the root down the path to the variable, leaving out at each
step the branch it goes down. O(depth (K^2 + deg K)) per variable, exact in integers.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.coding.fixedpoint import exact_weights, renorm


@numba.njit(cache=True, inline="always")
def _leaf_factor(w, x, cum, vec):
    # the observed leaf + 1 (as in the pre-order kernels), or 1 for an unobserved variable
    if x >= 0:
        for a in range(vec.shape[0]):
            vec[a] = np.uint64(cum[w, x + 1, a] - cum[w, x, a]) + np.uint64(1)
    else:
        for a in range(vec.shape[0]):
            vec[a] = np.uint64(1)


@numba.njit(parallel=True, cache=True)
def observe(v, values, parent, child_ptr, child_idx, edges, cum, obs, up, msg):
    n, _, k = up.shape
    for r in numba.prange(n):
        obs[r, v] = values[r]
        w = v
        while True:
            _leaf_factor(w, obs[r, w], cum, up[r, w])
            renorm(up[r, w])
            for i in range(child_ptr[w], child_ptr[w + 1]):
                c = child_idx[i]
                for a in range(k):
                    up[r, w, a] *= msg[r, c, a]
                renorm(up[r, w])
            p = parent[w]
            if p < 0:
                break
            for a in range(k):
                s = np.uint64(0)
                for j in range(k):
                    s += np.uint64(edges[w, a, j]) * up[r, w, j]
                msg[r, w, a] = s
            renorm(msg[r, w])
            w = p


@numba.njit(parallel=True, cache=True)
def weights(path, prior, edges, cum, child_ptr, child_idx, obs, up, msg, out):
    """Latent weights (n, K) of the last variable of ``path`` (root .. u), 2**16 per row."""
    n, _, k = up.shape
    for r in numba.prange(n):
        down = np.empty(k, np.uint64)
        belief = np.empty(k, np.uint64)
        for a in range(k):
            down[a] = np.uint64(prior[a])
        for step in range(len(path) - 1):
            w, nxt = path[step], path[step + 1]
            _leaf_factor(w, obs[r, w], cum, belief)
            for a in range(k):
                belief[a] *= down[a]
            renorm(belief)
            for i in range(child_ptr[w], child_ptr[w + 1]):
                c = child_idx[i]
                if c != nxt:
                    for a in range(k):
                        belief[a] *= msg[r, c, a]
                    renorm(belief)
            for j in range(k):
                down[j] = np.uint64(0)
            for a in range(k):
                for j in range(k):
                    down[j] += belief[a] * np.uint64(edges[nxt, a, j])
            renorm(down)
        u = path[len(path) - 1]
        for a in range(k):
            down[a] *= up[r, u, a]
        renorm(down)
        exact_weights(down, out[r])
