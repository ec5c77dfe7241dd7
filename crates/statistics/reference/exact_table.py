import mpmath as mp
mp.mp.dps=40
from scipy.stats import chi2
def exact(O,c):
    a=(1-mp.mpf(c))/2
    O=mp.mpf(O)
    lo = mp.mpf(0) if O==0 else mp.findroot(lambda x: mp.gammainc(O,0,x,regularized=True)-a, chi2.ppf(float(a),2*float(O))/2)
    up = mp.findroot(lambda x: mp.gammainc(O+1,x,mp.inf,regularized=True)-a, chi2.ppf(1-float(a),2*float(O)+2)/2)
    # scipy check
    slo = 0 if O==0 else chi2.ppf(float(a),2*float(O))/2
    sup = chi2.isf(float(a),2*float(O)+2)/2
    assert abs(slo-float(lo))<=1e-12*max(1e-300,float(lo)) , (O,c,slo,lo)
    assert abs(sup-float(up))<=1e-12*float(up), (O,c,sup,up)
    return lo,up
rows=[]
for c in ['0.9','0.95','0.99','0.998']:
    for O in [str(i) for i in range(0,21)]+['0.5','2.5','50','100','500','1000','10000']:
        lo,up=exact(O,c)
        rows.append(f"        ({float(O)!r}, {c}, {mp.nstr(lo,17)}, {mp.nstr(up,17)}),")
print("\n".join(rows))
