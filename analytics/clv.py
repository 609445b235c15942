"""The maths of the predictions: BG/NBD and Gamma-Gamma, fitted by maximum
likelihood on numpy and SciPy (docs/analytics.md, "Predictions").

- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
  while alive, a customer buys at a Poisson rate λ ~ Gamma(r, alpha); after each
  repeat purchase they drop out with probability p ~ Beta(a, b). A customer
  is summarised by x (repeat purchases: distinct periods with a purchase after
  the first), t_x (the time of the last one, from the first) and T (the time
  from the first to the end of the observation), in periods (days or weeks).
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): the value of a
  customer's purchases is Gamma(p, nu) with nu ~ Gamma(q, gamma), independent of the
  purchase process; a customer with x > 0 is summarised by x and the mean
  value m_x of their repeat purchases.

What this module guarantees:

- The fits maximise the exact log-likelihoods of the papers, summed over the
  distinct summaries (identical (x, t_x, T) triples, or (x, m_x) pairs, are
  counted once with their weight), with their analytic gradients, by L-BFGS-B
  on the logarithms of the parameters (so every parameter stays positive).
  On the CDNOW sample they give the published parameters (tests/analytics).
- Customers with x = 0 (one purchase, nothing since) are part of the BG/NBD
  fit: under the model they cannot have dropped out (a drop-out follows a
  repeat purchase), so P(alive) = 1 whatever their T; their expected
  purchases still fall as T grows (a long wait says their rate λ is low).
  They carry no repeat values, so the Gamma-Gamma fit leaves them out and
  their expected spend is the population mean p·gamma/(q - 1).
- Everything is vectorised over customers; nothing here knows Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SciPy is imported where it is used: importing it takes about 0.4 s, and every
# process (each manage.py command, worker and test run) loads this module
# through the analytics app, while only a fit or a prediction needs SciPy.

# Bounds on the logarithms of the parameters: e^±12 is far beyond any
# plausible fit, and keeps every term of the likelihoods finite.
_LOG_BOUND = 12.0
_OPTIONS = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}


class FitFailed(ValueError):
    """The data cannot identify the model (too few customers or repeat purchases),
    or the optimiser did not converge."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float
    customers: int


def _grouped(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of `columns` and how often each occurs."""
    stacked = np.column_stack([np.asarray(column, dtype=float) for column in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def _check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (x.shape == t_x.shape == T.shape):
        raise ValueError("x, t_x and T must have the same shape")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T) or np.any((x == 0) & (t_x != 0)):
        raise ValueError("need x >= 0, 0 <= t_x <= T, and t_x = 0 when x = 0")


def bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's BG/NBD log-likelihood at (r, alpha, a, b), and its gradient
    with respect to the parameters (shape (4, n))."""
    from scipy.special import betaln, digamma, gammaln

    r, alpha, a, b = params
    repeat = x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.full_like(x, -np.inf)
    bx1 = np.where(repeat, b + x - 1, 1.0)
    a4[repeat] = (np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x))[repeat]
    tail = np.logaddexp(a3, a4)
    w4 = np.exp(a4 - tail)  # 0 for x = 0
    w3 = 1.0 - w4
    grad = np.empty((4, x.size))
    grad[0] = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + T)
        - w4 * np.log(alpha + t_x)
    )
    grad[1] = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    grad[2] = digamma(a + b) - digamma(a + b + x) + w4 / a
    grad[3] = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
    return a1 + a2 + tail, grad


def gamma_gamma_log_likelihood(
    params: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's Gamma-Gamma log-likelihood of their mean repeat value
    `m` over `x` (> 0) purchases at (p, q, gamma), and its gradient (shape (3, n))."""
    from scipy.special import digamma, gammaln

    p, q, v = params
    px = p * x
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )
    grad = np.empty((3, x.size))
    grad[0] = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - np.log(v + m * x))
    grad[1] = digamma(px + q) - digamma(q) + np.log(v) - np.log(v + m * x)
    grad[2] = q / v - (px + q) / (v + m * x)
    return ll, grad


def _maximise(
    log_likelihood: object, start: np.ndarray, columns: list[np.ndarray], weights: np.ndarray
) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    total = weights.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        ll, grad = log_likelihood(params, *columns)  # type: ignore[operator]
        value = -(weights @ ll) / total
        gradient = -(grad @ weights) * params / total  # chain rule through exp
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        return value, gradient

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * start.size
    result = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=_OPTIONS
    )
    if not np.isfinite(result.fun) or not result.success:
        raise FitFailed(f"the optimiser stopped: {result.message}")
    return np.exp(result.x), -result.fun * total


def bgnbd_fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for customers (x, t_x, T).
    Raises FitFailed when fewer than 2 customers bought again (the drop-out
    process cannot be seen) or the optimiser fails; ValueError on an
    impossible summary."""
    x, t_x, T = (np.asarray(column, dtype=float) for column in (x, t_x, T))
    _check_summary(x, t_x, T)
    if np.count_nonzero(x) < 2:
        raise FitFailed("fewer than 2 customers bought again")
    columns, weights = _grouped(x, t_x, T)
    params, ll = _maximise(bgnbd_log_likelihood, np.zeros(4), columns, weights)
    r, alpha, a, b = (float(value) for value in params)
    return BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=float(ll), customers=int(x.size))


def gamma_gamma_fit(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from customers with x > 0
    repeat purchases of mean value m > 0 (others are left out). Raises
    FitFailed with fewer than 2 such customers or when the optimiser fails."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    if np.count_nonzero(keep) < 2:
        raise FitFailed("fewer than 2 customers with repeat purchases of positive value")
    columns, weights = _grouped(x[keep], m[keep])
    params, ll = _maximise(gamma_gamma_log_likelihood, np.zeros(3), columns, weights)
    p, q, v = (float(value) for value in params)
    return GammaGamma(p=p, q=q, v=v, log_likelihood=float(ll), customers=int(keep.sum()))


def bgnbd_p_alive(model: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) for each customer (FHL 2005, eq. 11): 1 for x = 0."""
    x, t_x, T = (np.asarray(column, dtype=float) for column in (x, t_x, T))
    repeat = x > 0
    bx1 = np.where(repeat, model.b + x - 1, 1.0)
    log_odds = (
        np.log(model.a)
        - np.log(bx1)
        + (model.r + x) * np.log((model.alpha + T) / (model.alpha + t_x))
    )
    return np.where(repeat, 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700.0))), 1.0)


def bgnbd_expected_purchases(
    model: BgNbd, horizon: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + horizon] | x, t_x, T] for each customer (FHL 2005,
    eq. 10), computed once per distinct summary."""
    from scipy.special import hyp2f1

    x, t_x, T = (np.asarray(column, dtype=float) for column in (x, t_x, T))
    stacked = np.column_stack([x, t_x, T])
    unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
    ux, ut, uT = unique[:, 0], unique[:, 1], unique[:, 2]
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = horizon / (alpha + uT + horizon)
    hyper = hyp2f1(r + ux, b + ux, a + b + ux - 1, z)
    ratio = np.exp((r + ux) * np.log((alpha + uT) / (alpha + uT + horizon)))
    numerator = (a + b + ux - 1) / (a - 1) * (1 - ratio * hyper)
    repeat = ux > 0
    bx1 = np.where(repeat, b + ux - 1, 1.0)
    odds = np.where(
        repeat,
        a / bx1 * np.exp(np.minimum((r + ux) * np.log((alpha + uT) / (alpha + ut)), 700.0)),
        0.0,
    )
    return (numerator / (1 + odds))[inverse.ravel()]


def gamma_gamma_expected_spend(model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[value of a purchase | x, m_x] (FHL "RFM and CLV", eq. 5): the
    population mean p·gamma/(q - 1) for x = 0 (and for m_x ≤ 0, which the model
    does not describe). Needs q > 1 for a finite mean; raises FitFailed otherwise."""
    if model.q <= 1:
        raise FitFailed("q <= 1: the mean value of a purchase is infinite under this fit")
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    mean = model.p * model.v / (model.q - 1)
    known = (x > 0) & (m > 0)
    conditional = (model.v + m * x) * model.p / (model.p * x + model.q - 1)
    return np.where(known, conditional, mean)


def bgnbd_simulate(
    *, r: float, alpha: float, a: float, b: float, T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(x, t_x) for customers first seen at 0 and observed until T, drawn
    from the BG/NBD process: for checks of the fit and the benchmark."""
    T = np.asarray(T, dtype=float)
    n = T.size
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    drop = rng.beta(a, b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0, size=active.size) / rate[active]
        bought = clock[active] <= T[active]
        active = active[bought]
        x[active] += 1
        t_x[active] = clock[active]
        survives = rng.random(active.size) >= drop[active]
        active = active[survives]
    return x, t_x


def gamma_gamma_simulate(
    *, p: float, q: float, v: float, x: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The mean value m_x of each customer's x repeat purchases drawn from the
    Gamma-Gamma model (0 where x = 0): the sum of x Gamma(p, nu) values is
    Gamma(p·x, nu)."""
    x = np.asarray(x, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=x.size)
    repeat = x > 0
    means = np.zeros(x.size)
    means[repeat] = rng.gamma(p * x[repeat], 1.0 / nu[repeat]) / x[repeat]
    return means
