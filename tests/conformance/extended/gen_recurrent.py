import numpy as np, onnx, os, shutil, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx import helper, numpy_helper, TensorProto
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'recurrent')
shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
rng=np.random.default_rng(7)
def vi(name, arr):
    t={np.float32:TensorProto.FLOAT,np.int32:TensorProto.INT32,np.float64:TensorProto.DOUBLE}[arr.dtype.type]
    return helper.make_tensor_value_info(name, t, arr.shape)
def save(name, node, inputs, outputs, opset=14):
    d=os.path.join(ROOT,name); os.makedirs(d+'/test_data_set_0')
    g=helper.make_graph([node], name, [vi(k,v) for k,v in inputs if v is not None], [vi(k,v) for k,v in outputs])
    m=helper.make_model(g, opset_imports=[helper.make_opsetid('',opset)]); m.ir_version=8
    onnx.save(m, d+'/model.onnx')
    i=0
    for k,v in inputs:
        if v is None: continue
        open(f'{d}/test_data_set_0/input_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString()); i+=1
    for i,(k,v) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString())

ACT={'Sigmoid':lambda x,a,b:1/(1+np.exp(-x)),'Tanh':lambda x,a,b:np.tanh(x),'Relu':lambda x,a,b:np.maximum(x,0),
     'LeakyRelu':lambda x,a,b:np.where(x<0,a*x,x),'HardSigmoid':lambda x,a,b:np.clip(a*x+b,0,1),'Affine':lambda x,a,b:a*x+b,
     'ScaledTanh':lambda x,a,b:a*np.tanh(b*x),'Elu':lambda x,a,b:np.where(x<0,a*(np.exp(x)-1),x),'Softsign':lambda x,a,b:x/(1+np.abs(x)),
     'Softplus':lambda x,a,b:np.log1p(np.exp(x)),'ThresholdedRelu':lambda x,a,b:np.where(x>a,x,0)}
DEF={'LeakyRelu':(0.01,0),'HardSigmoid':(0.2,0.5),'Affine':(1,0),'ScaledTanh':(1,1),'Elu':(1,0),'ThresholdedRelu':(1,0)}
USES={'LeakyRelu':(1,0),'HardSigmoid':(1,1),'Affine':(1,1),'ScaledTanh':(1,1),'Elu':(1,0),'ThresholdedRelu':(1,0)}
def mkacts(names, alphas, betas):
    out=[]; ai=bi=0
    for n in names:
        a,b=DEF.get(n,(0,0)); ua,ub=USES.get(n,(0,0))
        if ua and ai<len(alphas): a=alphas[ai]; ai+=1
        if ub and bi<len(betas): b=betas[bi]; bi+=1
        out.append(lambda x,f=ACT[n],a=a,b=b: f(x,a,b))
    return out

def ref(kind, X, W, R, B, lens, h0, c0, P, direction, acts, clip, layout, lbr, input_forget):
    if layout: X=X.transpose(1,0,2)
    seq,batch,_=X.shape; nd=W.shape[0]; H=R.shape[2]
    G={'LSTM':4,'GRU':3,'RNN':1}[kind]
    if B is None: B=np.zeros((nd,2*G*H),np.float32)
    if lens is None: lens=np.full(batch,seq)
    if h0 is not None and layout: h0=h0.transpose(1,0,2)
    if c0 is not None and layout: c0=c0.transpose(1,0,2)
    Y=np.zeros((seq,nd,batch,H),np.float64); Yh=np.zeros((nd,batch,H)); Yc=np.zeros((nd,batch,H))
    per={'LSTM':3,'GRU':2,'RNN':1}[kind]
    cl=(lambda v: np.clip(v,-clip,clip)) if clip else (lambda v:v)
    for d in range(nd):
        rev = direction=='reverse' or d==1
        f=acts[d*per:(d+1)*per]
        Wd,Rd=W[d].astype(np.float64),R[d].astype(np.float64); Wb,Rb=B[d,:G*H],B[d,G*H:]
        for b in range(batch):
            h=h0[d,b].astype(np.float64) if h0 is not None else np.zeros(H)
            c=c0[d,b].astype(np.float64) if c0 is not None else np.zeros(H)
            L=lens[b]
            ts=range(L-1,-1,-1) if rev else range(L)
            for t in ts:
                x=X[t,b].astype(np.float64)
                if kind=='RNN':
                    h=f[0](cl(x@Wd.T+h@Rd.T+Wb+Rb))
                elif kind=='LSTM':
                    g=x@Wd.T+h@Rd.T+Wb+Rb
                    gi,go,gf,gc=g[:H],g[H:2*H],g[2*H:3*H],g[3*H:]
                    if P is not None:
                        pi,po,pf=P[d,:H],P[d,H:2*H],P[d,2*H:]
                        gi=gi+pi*c; gf=gf+pf*c
                    i_=f[0](cl(gi))
                    f_=1-i_ if input_forget else f[0](cl(gf))
                    ct=f[1](cl(gc))
                    c=f_*c+i_*ct
                    if P is not None: go=go+po*c
                    o=f[0](cl(go))
                    h=o*f[2](c)
                else:
                    xw=x@Wd.T+Wb
                    z=f[0](cl(xw[:H]+h@Rd[:H].T+Rb[:H]))
                    r=f[0](cl(xw[H:2*H]+h@Rd[H:2*H].T+Rb[H:2*H]))
                    if lbr: ht=f[1](cl(xw[2*H:]+r*(h@Rd[2*H:].T+Rb[2*H:])))
                    else: ht=f[1](cl(xw[2*H:]+(r*h)@Rd[2*H:].T+Rb[2*H:]))
                    h=(1-z)*ht+z*h
                Y[t,d,b]=h
            Yh[d,b]=h; Yc[d,b]=c
    if layout: Y=Y.transpose(2,0,1,3); Yh=Yh.transpose(1,0,2); Yc=Yc.transpose(1,0,2)
    return Y.astype(np.float32),Yh.astype(np.float32),Yc.astype(np.float32)

DEFACT={'LSTM':['Sigmoid','Tanh','Tanh'],'GRU':['Sigmoid','Tanh'],'RNN':['Tanh']}
cases=[]
for kind in ['LSTM','GRU','RNN']:
    for direction in ['forward','reverse','bidirectional']:
        for layout in [0,1]:
            for ragged in [False,True]:
                cases.append(dict(kind=kind,direction=direction,layout=layout,ragged=ragged))
cases += [dict(kind='LSTM',direction='bidirectional',peep=True,clip=0.7,ragged=True),
          dict(kind='LSTM',direction='forward',input_forget=True,init=True),
          dict(kind='GRU',direction='bidirectional',lbr=1,ragged=True,init=True),
          dict(kind='GRU',direction='reverse',lbr=1,clip=0.5),
          dict(kind='RNN',direction='bidirectional',acts=['LeakyRelu','HardSigmoid'],alpha=[0.2,0.3],beta=[0.6]),
          dict(kind='LSTM',direction='forward',acts=['HardSigmoid','Affine','ScaledTanh'],alpha=[0.3,0.5],beta=[0.4,0.1,2.0],peep=True,init=True),
          dict(kind='GRU',direction='forward',acts=['Softsign','Elu'],nobias=True),
          dict(kind='RNN',direction='forward',acts=['Softplus'],layout=1,init=True),
          dict(kind='LSTM',direction='forward',zerolen=True,init=True)]
for ci,cs in enumerate(cases):
    kind=cs['kind']; nd=2 if cs['direction']=='bidirectional' else 1
    G={'LSTM':4,'GRU':3,'RNN':1}[kind]
    seq,batch,inp,H=5,3,4,3
    X=rng.standard_normal((seq,batch,inp)).astype(np.float32)
    layout=cs.get('layout',0)
    if layout: X=X.transpose(1,0,2).copy()
    W=(rng.standard_normal((nd,G*H,inp))*0.5).astype(np.float32); R=(rng.standard_normal((nd,G*H,H))*0.5).astype(np.float32)
    B=None if cs.get('nobias') else (rng.standard_normal((nd,2*G*H))*0.5).astype(np.float32)
    lens=np.array([5,2,4],np.int32) if cs.get('ragged') else None
    if cs.get('zerolen'): lens=np.array([5,0,3],np.int32)
    sh=(batch,nd,H) if layout else (nd,batch,H)
    h0=rng.standard_normal(sh).astype(np.float32) if cs.get('init') or cs.get('ragged') else None
    c0=rng.standard_normal(sh).astype(np.float32) if kind=='LSTM' and (cs.get('init') or cs.get('ragged')) else None
    P=(rng.standard_normal((nd,3*H))*0.5).astype(np.float32) if cs.get('peep') else None
    names=cs.get('acts'); 
    per={'LSTM':3,'GRU':2,'RNN':1}[kind]
    actnames=(names if names and len(names)==per*nd else names*nd if names else DEFACT[kind]*nd)
    acts=mkacts(actnames, cs.get('alpha',[]), cs.get('beta',[]))
    Y,Yh,Yc=ref(kind,X,W,R,B,lens,h0,c0,P,cs['direction'],acts,cs.get('clip'),layout,cs.get('lbr',0),cs.get('input_forget',0))
    attrs=dict(hidden_size=H,direction=cs['direction'])
    if layout: attrs['layout']=1
    if names: attrs['activations']=actnames
    if cs.get('alpha'): attrs['activation_alpha']=cs['alpha']
    if cs.get('beta'): attrs['activation_beta']=cs['beta']
    if cs.get('clip'): attrs['clip']=cs['clip']
    if cs.get('lbr'): attrs['linear_before_reset']=1
    if cs.get('input_forget'): attrs['input_forget']=1
    ins=[('X',X),('W',W),('R',R),('B',B),('L',lens),('h0',h0)]
    if kind=='LSTM': ins+=[('c0',c0),('P',P)]
    while ins[-1][1] is None: ins.pop()
    innames=[k if v is not None else '' for k,v in ins]
    outs=[('Y',Y),('Yh',Yh)]+([('Yc',Yc)] if kind=='LSTM' else [])
    node=helper.make_node(kind, innames, [k for k,_ in outs], **attrs)
    save(f'rnn_{ci:02d}_{kind}_{cs["direction"]}', node, ins, outs)
print(len(cases))
