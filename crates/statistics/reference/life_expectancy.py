"""Worked values for life expectancy (Chiang II abridged life table, Silcocks et al. 2001 variance)
and healthy life expectancy (Sullivan's method), computed at 50 significant digits with mpmath,
written from the method's definitions (Chiang 1968; Silcocks, Jenner and Reza 2001; Jagger et al.
2014, "Health expectancy calculation by the Sullivan method: a practical guide"), not from the
platform's code. Run: python3 crates/statistics/reference/life_expectancy.py
"""
import mpmath as mp

mp.mp.dps = 50
STARTS = [0, 1] + list(range(5, 95, 5))  # 20 bands: <1, 1-4, 5-9, ..., 85-89, 90+


def z(c):
    return mp.sqrt(2) * mp.erfinv(mp.mpf(c))


def life_table(deaths, pops):
    D = [mp.mpf(d) for d in deaths]
    P = [mp.mpf(p) for p in pops]
    k = len(STARTS)
    n = [mp.mpf(STARTS[i + 1] - STARTS[i]) for i in range(k - 1)]
    a = [mp.mpf("0.1")] + [mp.mpf("0.5")] * (k - 1)
    M = [D[i] / P[i] for i in range(k)]
    q = []
    for i in range(k - 1):
        # The band cannot lose more than all its entrants: q = 1 when deaths exceed P / (n a).
        if D[i] <= P[i] / n[i] / a[i]:
            q.append(n[i] * M[i] / (1 + n[i] * (1 - a[i]) * M[i]))
        else:
            q.append(mp.mpf(1))
    q.append(mp.mpf(1))
    l = [mp.mpf(100000)]
    for i in range(k - 1):
        l.append(l[i] * (1 - q[i]))
    d = [l[i] - (l[i + 1] if i + 1 < k else 0) for i in range(k)]
    L = [n[i] * (l[i + 1] + a[i] * d[i]) for i in range(k - 1)] + [l[k - 1] / M[k - 1]]
    T = [sum(L[i:]) for i in range(k)]
    e = [T[i] / l[i] if l[i] != 0 else mp.mpf(0) for i in range(k)]
    # Chiang's variance terms, with Silcocks' term for the open last band (its mean survival 1/M).
    W = []
    for i in range(k - 1):
        s2q = 0 if d[i] == 0 else q[i] ** 2 * (1 - q[i]) / D[i]
        W.append(l[i] ** 2 * ((1 - a[i]) * n[i] + e[i + 1]) ** 2 * s2q)
    W.append((l[k - 1] / 2) ** 2 * 4 / (D[k - 1] * M[k - 1] ** 2))
    se = [mp.sqrt(sum(W[i:]) / l[i] ** 2) for i in range(k)]
    return e, se, L, l


def report(name, deaths, pops):
    e, se, _, _ = life_table(deaths, pops)
    print(name)
    for i in (0, 1, 13, 19):
        row = [e[i], se[i]]
        for c in ("0.95", "0.998"):
            row += [e[i] - z(c) * se[i], e[i] + z(c) * se[i]]
        print(" ", STARTS[i], [mp.nstr(v, 17) for v in row])


def hle(deaths, pops, healthy, sample):
    e, se, L, l = life_table(deaths, pops)
    pi = [mp.mpf(h) for h in healthy]
    N = [mp.mpf(s) for s in sample]
    k = len(STARTS)
    out = []
    for i in (0, 13):
        h = sum(L[j] * pi[j] for j in range(i, k)) / l[i]
        v = sum(L[j] ** 2 * pi[j] * (1 - pi[j]) / N[j] for j in range(i, k)) / l[i] ** 2
        s = mp.sqrt(v)
        row = [h, s]
        for c in ("0.95", "0.998"):
            row += [h - z(c) * s, h + z(c) * s]
        out.append((STARTS[i], [mp.nstr(v, 17) for v in row]))
    return out


# A: the example population of PHEindicatormethods' phe_life_expectancy documentation (persons;
# Public Health England's life expectancy calculator's layout).
A_POPS = [7060, 35059, 46974, 48489, 43219, 38561, 46009, 57208, 61435, 55601, 50209, 56416, 46411,
          39820, 37978, 37039, 33288, 23306, 11936, 11936]
A_DEATHS = [17, 9, 4, 8, 20, 15, 24, 33, 50, 71, 100, 163, 263, 304, 536, 872, 1390, 1605, 1936, 1937]
report("A", A_DEATHS, A_POPS)

# B: a small district: 7,000 people, with bands where deaths exceed what the band can hold
# (q = 1 is not reached here) and zero deaths in young bands.
B_POPS = [70, 290, 380, 400, 390, 350, 380, 420, 450, 470, 480, 500, 480, 450, 420, 370, 300, 200, 120, 80]
B_DEATHS = [0, 0, 0, 0, 1, 0, 1, 1, 1, 2, 2, 4, 5, 7, 10, 14, 20, 25, 28, 30]
report("B", B_DEATHS, B_POPS)

# HLE on A with the proportion in good health falling with age, from survey samples of 300 a band.
GOOD = [0.98, 0.97, 0.96, 0.95, 0.93, 0.92, 0.9, 0.88, 0.86, 0.84, 0.81, 0.78, 0.74, 0.7, 0.65,
        0.6, 0.54, 0.47, 0.4, 0.33]
print("HLE A", hle(A_DEATHS, A_POPS, GOOD, [300] * 20))
