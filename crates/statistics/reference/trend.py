from fractions import Fraction as F
import numpy as np
def chi(x,n):
    t=range(1,6); N=sum(n); X=sum(x)
    sxt=sum(a*b for a,b in zip(x,t)); snt=sum(a*b for a,b in zip(n,t)); snt2=sum(a*b*b for a,b in zip(n,t))
    num=F(N)*(F(N)*sxt-F(X)*snt)**2; den=F(X)*(N-X)*(F(N)*snt2-F(snt)**2)
    return float(num/den), N*sxt-X*snt
print(chi([120,130,150,160,175],[1000,1000,1010,1005,990]))
print(chi([50,52,49,51,50],[500,510,495,505,500]))
print(chi([200,180,170,150,140],[1000,1000,1000,1000,1000]))
# WLS
import mpmath as mp
mp.mp.dps=40
def wls(v,lo,up):
    t=[mp.mpf(i) for i in range(1,6)]
    v=[mp.mpf(str(a)) for a in v]; se=[(mp.mpf(str(u))-mp.mpf(str(l)))/mp.mpf('3.92') for l,u in zip(lo,up)]
    w=[1/s**2 for s in se]; W=sum(w)
    tb=sum(a*b for a,b in zip(w,t))/W; yb=sum(a*b for a,b in zip(w,v))/W
    sxx=sum(a*(b-tb)**2 for a,b in zip(w,t)); sxy=sum(a*(b-tb)*(c-yb) for a,b,c in zip(w,t,v))
    slope=sxy/sxx
    return mp.nstr(slope**2*sxx,17), mp.nstr(slope,17)
print(wls([600,580,570,540,520],[560,545,535,505,485],[640,615,605,575,555]))
print(wls([78.1,78.3,78.0,78.4,78.2],[77.5,77.7,77.4,77.8,77.6],[78.7,78.9,78.6,79.0,78.8]))
