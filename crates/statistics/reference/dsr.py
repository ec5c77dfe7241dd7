import mpmath as mp
mp.mp.dps=50
ESP=[5000,5500,5500,5500,6000,6000,6500,7000,7000,7000,7000,6500,6000,5500,5000,4000,2500,1500,1000]
def z(c): return mp.sqrt(2)*mp.erfinv(mp.mpf(c))
def byar(O,c):
    zz=z(c); O=mp.mpf(O)
    return O*(1-1/(9*O)-zz/(3*mp.sqrt(O)))**3, (O+1)*(1-1/(9*(O+1))+zz/(3*mp.sqrt(O+1)))**3
def dsr(x,n,w=ESP,mult=100000):
    x=[mp.mpf(v) for v in x]; n=[mp.mpf(v) for v in n]; w=[mp.mpf(v) for v in w]
    O=sum(x); W=sum(w)
    d=mult*sum(xi*wi/ni for xi,wi,ni in zip(x,w,n))/W
    V=sum(xi*(wi/ni)**2 for xi,wi,ni in zip(x,w,n))/W**2
    out=[d]
    for c in ['0.95','0.998']:
        lo,up=byar(O,c)
        out += [d+mult*mp.sqrt(V/O)*(lo-O), d+mult*mp.sqrt(V/O)*(up-O)]
    return [mp.nstr(v,17) for v in out]
x1=[0,1,0,1,2,1,3,4,6,9,14,22,31,45,60,81,95,110,88]
n1=[5100,5300,5400,5600,5900,6200,6400,6900,7100,7000,6900,6700,6300,5600,4900,3900,2600,1500,700]
print('A',sum(x1),dsr(x1,n1))
x2=[0,0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1,2]   # O = 11? adjust to 10
x2=[0,0,0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,2]
print('B',sum(x2),dsr(x2,n1))
# custom standard population of 3 bands, multiplier 1000
print('C',dsr([12,30,58],[4000,3000,1500],w=[30,50,20],mult=1000))
