import mpmath as mp
mp.mp.dps=50
def funnel(p,N,prob):
    p=mp.mpf(p); N=mp.mpf(N)
    z=mp.sqrt(2)*mp.erfinv(2*mp.mpf(prob)-1)
    z2=z*z; c=1/z2+1/N; F=p*(N/z2+1)
    D=(8*p*(N/z2+1))**2-64*c*p*(N*(p*(N/z2+2)-1)+z2*(p-1))
    return [mp.nstr((F-sg*mp.sqrt(D)/8)/c/N,17) for sg in (1,-1)]
for p,N in [('0.2',50),('0.2',1000),('0.65',100),('0.03',20000)]:
    print(p,N,funnel(p,N,'0.975'),funnel(p,N,'0.999'))
# pooled p from counts
