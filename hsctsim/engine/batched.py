"""Batched draws for plain Weibull multi-state models, with vectorisable log and exp.

An option (``hsctsim.simulate(..., batched=True)``), not the default: the event
days agree with the exact kernels' to a few units in the last place, not bit for
bit.  The exact kernels call libm's ``log`` and ``pow`` once per draw, and with
this numba and llvmlite those calls stay scalar (no SVML).  Here the patients of
a block move through the groups of a plain engine (:func:`hsctsim.engine.plain.is_plain`)
in topological order, and the draws of one transition for every patient of the
block in that group are one loop over contiguous arrays: SplitMix64, the uniform,
``log`` (twice) and ``exp`` written as polynomials on the bits of the doubles,
which LLVM turns into AVX2 code.

The draws are the exact kernels' draws: each patient's SplitMix64 stream, in the
same order (a patient draws, per group it enters, one variate per transition of
the group, in process order), and the same uniforms bit for bit.  Only the
arithmetic that turns a uniform into a day differs: ``scale * exp(log(E / m) /
shape)`` with polynomial ``log`` and ``exp`` (errors of a few ulps, tested)
instead of libm's ``scale * (E / m) ** (1 / shape)``.  So every patient's course
is the exact one, with days a few ulps apart, unless two transitions compete
within those ulps (tested: none in 10^5 ebmt4 patients); the cohort has the exact
path's distribution.  Days below ``exp(-708)`` (1e-307) come out as 0.

Supported: plain engines whose transitions are Weibull or exponential without
cure fraction, with a clock that restarts in each state (semi-Markov), and with
constant hazard multipliers (covariate strata) -- :func:`batch_plan` says why not
otherwise.
"""

import math
import struct
from decimal import Decimal

import numpy as np
from numba import njit, prange

from .hazards import EXPONENTIAL, WEIBULL
from .jitcache import key_on_engine
from .kernel import GOLDEN, mix64, stream_start
from .plain import is_plain

__all__ = ["BATCH", "batch_plan", "NotBatchable", "simulate_batched_into", "vec_exp", "vec_log"]

BATCH = 512  # patients per block; results do not depend on it

_U52, _U11, _U1 = np.uint64(52), np.uint64(11), np.uint64(1)
_MANT = np.uint64((1 << 52) - 1)
_ONE_BITS = np.uint64(0x3FF0000000000000)
_HALF_STEP = np.uint64(1 << 52)  # subtracting it from a double's bits halves it
_SQRT2_MANT = np.uint64(0x6A09E667F3BCD)  # mantissa bits of sqrt(2)
_INT_MAGIC = 6755399441055744.0  # 1.5 * 2^52: adding it leaves an integer in the low bits
_LOG_BIAS = np.uint64(0x4338000000000000 - 1023)
_EXP_BIAS = np.uint64(0x4338000000000000 - 1022)
_FLOAT_MAGIC_BITS = np.uint64(0x4330000000000000)  # 2^52: its bits | v are 2^52 + v
_TWO52 = 4503599627370496.0
_TWO_M53 = 2.0 ** -53
# log 2 = _LN2_HI + _LN2_LO: the high part keeps 21 bits, so k * _LN2_HI is exact for
# every exponent k; the low part is the rest, from 36 digits of log 2
_LN2_HI = struct.unpack("<d", struct.pack(
    "<Q", struct.unpack("<Q", struct.pack("<d", math.log(2.0)))[0] & ~((1 << 32) - 1)))[0]
_LN2_LO = float(Decimal("0.693147180559945309417232121458176568") - Decimal(_LN2_HI))
_INV_LN2 = 1.0 / math.log(2.0)
_EXP_HI = 710.0  # above: as at 710 (inf: exp overflows beyond 709.78)
_EXP_LO = -708.0  # below: 0 (exp would be subnormal)


class NotBatchable(ValueError):
    """The engine is outside what the batched path simulates (the message says why)."""


def batch_plan(eng):
    """The arrays :func:`simulate_batched_into` takes, for a plain Weibull engine.

    Returns ``(group_ptr, group_members, next_group, inv_shape, scale, mult)``:
    groups numbered in topological order (group 0 opens at day 0), the processes
    of group ``g`` are ``group_members[group_ptr[g]:group_ptr[g + 1]]``; the
    event of process ``q`` leads to group ``next_group[q]`` (-1: the course
    ends); the day of ``q`` drawn at ``t`` is ``t + scale[q] * (E / mult[q]) **
    inv_shape[q]``.

    Raises
    ------
    NotBatchable
    """
    n = len(eng.family)
    if not is_plain(eng):
        raise NotBatchable("the batched path takes plain multi-state models only")
    inv_shape, scale, mult = np.ones(n), np.ones(n), np.ones(n)
    for q in range(n):
        if eng.susceptible[q] != 1.0:
            raise NotBatchable("the batched path takes transitions without cure fraction")
        if not eng.clock_reset[q]:
            raise NotBatchable('the batched path takes clock = "reset" only')
        if eng.entry_day[q, 0] > 0.0 or np.isfinite(eng.entry_day[q, 1]):
            raise NotBatchable("the batched path takes constant hazard ratios only")
        mult[q] = eng.entry_mult[q, 0] if eng.entry_day[q, 0] <= 0.0 else 1.0
        if eng.family[q] == WEIBULL:
            inv_shape[q], scale[q] = 1.0 / eng.par[q, 0], eng.par[q, 1]
        elif eng.family[q] == EXPONENTIAL:
            scale[q] = 1.0 / eng.par[q, 0]
        else:
            raise NotBatchable("the batched path takes Weibull and exponential transitions only")
    rows = [tuple(int(q) for q in eng.open_idx[eng.open_ptr[r]:eng.open_ptr[r + 1]])
            for r in range(n + 1)]
    order = []  # groups, depth first from day 0, reversed post-order = topological
    seen = set()

    def visit(g):
        seen.add(g)
        for e in g:
            if rows[e] and rows[e] not in seen and not eng.terminal[e]:
                visit(rows[e])
        order.append(g)

    if rows[n]:
        visit(rows[n])
    order.reverse()
    number = {g: i for i, g in enumerate(order)}
    group_ptr = np.cumsum([0] + [len(g) for g in order]).astype(np.int64)
    members = np.array([q for g in order for q in g], np.int64)
    next_group = np.array([-1 if eng.terminal[q] else number.get(rows[q], -1)
                           for q in range(n)], np.int64)
    return group_ptr, members, next_group, inv_shape, scale, mult


@njit(cache=True, inline="always", error_model="numpy")
def vec_log(x, n, bits, kbits, out):
    """``out[:n] = log(x[:n])`` for positive normal finite ``x``, to a few ulps.

    ``bits`` and ``kbits`` are uint64 scratch of length ``>= n``.  ``log x = k log 2
    + 2 atanh(s)``, ``x = 2^k m`` with ``m`` in ``[sqrt(1/2), sqrt(2))``, ``s = (m - 1)
    / (m + 1)``, the series of ``atanh`` to ``s^21`` (``|s| <= 0.172``).
    """
    xb = x.view(np.uint64)
    for j in range(n):
        b = xb[j]
        mant = b & _MANT
        big = np.uint64(1) if mant > _SQRT2_MANT else np.uint64(0)
        bits[j] = (mant | _ONE_BITS) - big * _HALF_STEP
        kbits[j] = (b >> _U52) + _LOG_BIAS + big
    m_ = bits.view(np.float64)
    k_ = kbits.view(np.float64)
    for j in range(n):
        m = m_[j]
        k = k_[j] - _INT_MAGIC
        s = (m - 1.0) / (m + 1.0)
        z = s * s
        # 1/3 + z/5 + ... + z^9/21 in Estrin's order: a short chain of dependent
        # operations (Horner's is ten deep, and the loop waited on it)
        z2 = z * z
        z4 = z2 * z2
        p = ((1.0 / 3.0 + z * (1.0 / 5.0)) + z2 * (1.0 / 7.0 + z * (1.0 / 9.0))) + z4 * (
            ((1.0 / 11.0 + z * (1.0 / 13.0)) + z2 * (1.0 / 15.0 + z * (1.0 / 17.0)))
            + z4 * (1.0 / 19.0 + z * (1.0 / 21.0)))
        out[j] = k * _LN2_HI + (k * _LN2_LO + 2.0 * s + 2.0 * s * (z * p))


@njit(cache=True, inline="always", error_model="numpy")
def vec_exp(x, n, tmp, bits, out):
    """``out[:n] = exp(x[:n])`` for finite ``x``, to a few ulps (0 below ``-708``).

    ``tmp`` is float64 scratch and ``bits`` uint64 scratch, of length ``>= n``;
    ``out`` must not be ``x``.
    ``exp x = 2^k exp(r)``, ``k`` the integer nearest ``x / log 2``, ``|r| <=
    log(2) / 2``, ``exp(r)`` by its Taylor series to ``r^13``.
    """
    for j in range(n):
        xj = x[j]
        xc = _EXP_LO if xj < _EXP_LO else (_EXP_HI if xj > _EXP_HI else xj)
        t = xc * _INV_LN2 + _INT_MAGIC
        k = t - _INT_MAGIC
        r = (xc - k * _LN2_HI) - k * _LN2_LO
        # 1/2 + r/3! + ... + r^11/13! in Estrin's order (see vec_log)
        r2 = r * r
        r4 = r2 * r2
        p = ((0.5 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0 + r * (1.0 / 120.0))) + r4 * (
            ((1.0 / 720.0 + r * (1.0 / 5040.0)) + r2 * (1.0 / 40320.0 + r * (1.0 / 362880.0)))
            + r4 * ((1.0 / 3628800.0 + r * (1.0 / 39916800.0))
                    + r2 * (1.0 / 479001600.0 + r * (1.0 / 6227020800.0))))
        out[j] = 1.0 + (r + r * r * p)
        tmp[j] = t
    tb = tmp.view(np.uint64)
    for j in range(n):
        # 2^(k - 1) as a double: k + 1022 in the exponent bits (normal for -1021 <= k <=
        # 1024, which the clamp ensures); times 2 below, which overflows to inf as exp does
        bits[j] = (tb[j] - _EXP_BIAS) << _U52
    half_scale = bits.view(np.float64)
    for j in range(n):
        out[j] = 0.0 if x[j] < _EXP_LO else (out[j] * half_scale[j]) * 2.0


@njit(parallel=True, cache=True, error_model="numpy")
def simulate_batched_into(seed_key, patients, horizon, group_ptr, members, next_group,
                          inv_shape, scale, mult, out):
    """Simulate the patients numbered ``patients`` (see the module docstring).

    ``out`` (n, P): row ``i`` gets patient ``patients[i]``'s event days, inf where
    none, as the exact kernels write them (to a few ulps).  The plan arrays are
    :func:`batch_plan`'s.
    """
    n, n_proc = out.shape
    n_groups = group_ptr.size - 1
    for b in prange((n + BATCH - 1) // BATCH):
        lo = b * BATCH
        nb = min(n, lo + BATCH) - lo
        rng = np.empty(nb, np.uint64)
        t = np.zeros(nb)
        grp = np.zeros(nb, np.int64)
        idx = np.empty(nb, np.int64)
        rc = np.empty(nb, np.uint64)
        tc = np.empty(nb)
        bt = np.empty(nb)
        bj = np.empty(nb, np.int64)
        hi_bits = np.empty(nb, np.uint64)
        low = np.empty(nb)
        f1 = np.empty(nb)
        f2 = np.empty(nb)
        f3 = np.empty(nb)
        u1 = np.empty(nb, np.uint64)
        u2 = np.empty(nb, np.uint64)
        for i in range(nb):
            rng[i] = stream_start(seed_key, patients[lo + i])
            for q in range(n_proc):
                out[lo + i, q] = np.inf
        for g in range(n_groups):
            k = 0
            for i in range(nb):
                if grp[i] == g:
                    idx[k] = i
                    k += 1
            if k == 0:
                continue
            for j in range(k):
                rc[j] = rng[idx[j]]
                tc[j] = t[idx[j]]
                bt[j] = np.inf
                bj[j] = -1
            for jm in range(group_ptr[g], group_ptr[g + 1]):
                q = members[jm]
                # the uniform of the exact kernels, bit for bit: (float(z >> 11) + 0.5) 2^-53,
                # with the 53-bit integer made a double through the bits of 2^52
                for j in range(k):
                    s = rc[j] + GOLDEN
                    rc[j] = s
                    v = mix64(s) >> _U11
                    hi_bits[j] = (v >> _U1) | _FLOAT_MAGIC_BITS
                    low[j] = 1.0 if v & _U1 else 0.0
                hv = hi_bits.view(np.float64)
                for j in range(k):
                    f1[j] = ((hv[j] - _TWO52) * 2.0 + low[j] + 0.5) * _TWO_M53
                vec_log(f1, k, u1, u2, f2)  # f2 = log(u)
                m = mult[q]
                for j in range(k):
                    f1[j] = -f2[j] / m  # E / m, the exact kernels' target
                vec_log(f1, k, u1, u2, f2)
                a = inv_shape[q]
                for j in range(k):
                    f2[j] = a * f2[j]
                vec_exp(f2, k, f3, u1, f1)
                c = scale[q]
                for j in range(k):
                    d = tc[j] + c * f1[j]
                    if d < bt[j]:
                        bt[j] = d
                        bj[j] = q
            for j in range(k):
                i = idx[j]
                rng[i] = rc[j]
                if bj[j] >= 0 and bt[j] <= horizon:
                    out[lo + i, bj[j]] = bt[j]
                    t[i] = bt[j]
                    grp[i] = next_group[bj[j]]
                else:
                    grp[i] = -1


key_on_engine(globals())  # numba checks only this file: see engine/jitcache.py
