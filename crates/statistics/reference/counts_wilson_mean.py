"""Worked values for counts.rs (Byar, exact Poisson), proportion.rs (Wilson) and mean.rs
(Student's t), in mpmath at 50 digits, cross-checked against scipy. Run: python3 this.py"""
import mpmath as mp
from scipy.stats import chi2, t

mp.mp.dps = 50


def z(c):
    return mp.sqrt(2) * mp.erfinv(mp.mpf(c))  # Φ⁻¹(1 − α/2)


def byar(o, c):
    o, zz = mp.mpf(o), z(c)
    lower = o * (1 - 1 / (9 * o) - zz / (3 * mp.sqrt(o))) ** 3 if o > 0 else None
    upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + zz / (3 * mp.sqrt(o + 1))) ** 3
    return lower, upper


def exact(o, c):
    a = (1 - mp.mpf(c)) / 2
    lower = 0 if o == 0 else mp.findroot(lambda x: mp.gammainc(o, 0, x, regularized=True) - a, o)
    upper = mp.findroot(lambda x: mp.gammainc(o + 1, 0, x, regularized=True) - (1 - a), o + 1)
    scipy = (0 if o == 0 else chi2.ppf(float(a), 2 * o) / 2, chi2.ppf(1 - float(a), 2 * o + 2) / 2)
    return lower, upper, scipy


def wilson(x, n, c):
    zz, x, n = z(c), mp.mpf(x), mp.mpf(n)
    s = zz * mp.sqrt(zz**2 + 4 * x * (1 - x / n))
    return [(2 * x + zz**2 + sign * s) / (2 * (n + zz**2)) for sign in (-1, 1)]


def mean_t(values, c):
    k = len(values)
    v = [mp.mpf(str(x)) for x in values]
    m = sum(v) / k
    s = mp.sqrt(sum((x - m) ** 2 for x in v) / (k - 1))
    a = (1 - mp.mpf(c)) / 2
    cdf = lambda x: 1 - mp.betainc((k - 1) / mp.mpf(2), mp.mpf(1) / 2, 0, (k - 1) / ((k - 1) + x * x), regularized=True) / 2
    tq = mp.findroot(lambda x: cdf(x) - (1 - a), t.ppf(1 - float(a), k - 1))
    return m, m - tq * s / mp.sqrt(k), m + tq * s / mp.sqrt(k)


for c in ["0.95", "0.998"]:
    for o in [0, 1, 5, 9, 10, 25, 100, 1234]:
        print("count", c, o, [None if v is None else mp.nstr(v, 17) for v in byar(o, c)], exact(o, c))
for x, n, c in [(0, 10, "0.95"), (1, 10, "0.95"), (5, 10, "0.95"), (10, 10, "0.95"), (65, 100, "0.95"),
                (12345, 67890, "0.95"), (0, 10, "0.998"), (65, 100, "0.998"), (12345, 67890, "0.998")]:
    print("wilson", x, n, c, [mp.nstr(v, 17) for v in wilson(x, n, c)])
for values in [[1, 2, 3, 4, 5], [12.5, 13.1, 11.8], [70.2, 81.4, 77.7, 79.9, 82.3, 75.0, 80.1, 78.8, 76.4, 79.0], [5, 5.5]]:
    for c in ["0.95", "0.998"]:
        print("mean", values, c, [mp.nstr(v, 17) for v in mean_t(values, c)])
