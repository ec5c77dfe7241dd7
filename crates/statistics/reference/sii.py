import numpy as np, mpmath as mp
mp.mp.dps=40
z95=mp.sqrt(2)*mp.erfinv(mp.mpf('0.95'))
pops=[52000,50500,49800,51200,50100,49000,48700,50300,51800,50600]
def fit(vals, pops):
    P=sum(mp.mpf(p) for p in pops); a=[mp.mpf(p)/P for p in pops]
    b=[];c=mp.mpf(0)
    for ai in a: b.append(c+ai/2); c+=ai
    X=mp.matrix([[mp.sqrt(ai), bi*mp.sqrt(ai)] for ai,bi in zip(a,b)])
    y=mp.matrix([mp.sqrt(ai)*v for ai,v in zip(a,vals)])
    # least squares via normal equations in high precision
    beta=mp.lu_solve(X.T*X, X.T*y)
    # check against numpy lstsq
    Xn=np.array([[float(X[i,0]),float(X[i,1])] for i in range(len(a))]); yn=np.array([float(v) for v in y])
    nb=np.linalg.lstsq(Xn,yn,rcond=None)[0]
    return beta[0],beta[1],nb, a,b
# identity: life expectancy-like values with SE
le=[74.1,75.0,75.9,76.6,77.5,78.2,79.0,79.6,80.5,81.3]
A,B,nb,a,b=fit([mp.mpf(str(v)) for v in le],pops)
print('identity A,B',mp.nstr(A,17),mp.nstr(B,17),nb,'SII',mp.nstr(B,17),'RII',mp.nstr((A+B)/A,17))
se=[0.30,0.28,0.29,0.27,0.26,0.27,0.25,0.26,0.24,0.25]
# analytic sd of B under identity: B = sum cB*y
P=sum(pops); 
import numpy as np
an=np.array([p/P for p in pops]); bn=np.array([float(x) for x in b])
sa=an.sum(); sab=(an*bn).sum(); sabb=(an*bn*bn).sum(); det=sa*sabb-sab**2
cB=an*(sa*bn-sab)/det
sdB=np.sqrt(((cB*np.array(se))**2).sum()); print('sdB',sdB)
# log scale: rates per person with 95% limits
rates=[0.0123,0.0110,0.0101,0.0095,0.0088,0.0080,0.0074,0.0069,0.0061,0.0055]
lo=[0.0113,0.0101,0.0092,0.0086,0.0080,0.0072,0.0066,0.0062,0.0054,0.0048]
up=[0.0134,0.0120,0.0111,0.0105,0.0097,0.0089,0.0083,0.0077,0.0069,0.0063]
h=lambda v: mp.log(mp.mpf(str(v)))
A,B,nb,_,_=fit([h(v) for v in rates],pops)
Ap=mp.exp(A); Bp=mp.exp(A+B)
print('log A,B',mp.nstr(A,17),mp.nstr(B,17),nb,'SII*1e5',mp.nstr((Bp-Ap)*100000,17),'RII',mp.nstr(Bp/Ap,17))
print('log se', [mp.nstr((h(u)-h(l))/(2*z95),17) for l,u in zip(lo,up)][:3])
# logit: proportions
props=[0.31,0.29,0.27,0.25,0.24,0.22,0.20,0.19,0.17,0.15]
pl=[0.29,0.27,0.25,0.23,0.22,0.20,0.18,0.17,0.15,0.13]
pu=[0.33,0.31,0.29,0.27,0.26,0.24,0.22,0.21,0.19,0.17]
g=lambda v: mp.log(mp.mpf(str(v))/(1-mp.mpf(str(v))))
A,B,nb,_,_=fit([g(v) for v in props],pops)
Ap=1/(1+mp.exp(-A)); Bp=1/(1+mp.exp(-(A+B)))
print('logit A,B',mp.nstr(A,17),mp.nstr(B,17),nb,'SII*100',mp.nstr((Bp-Ap)*100,17),'RII',mp.nstr(Bp/Ap,17))
