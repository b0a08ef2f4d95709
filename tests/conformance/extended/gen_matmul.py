import numpy as np, onnx, os, shutil
from onnx import helper, numpy_helper, TensorProto
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'matmul')
shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
rng=np.random.default_rng(1)
NP2ONNX={np.float32:TensorProto.FLOAT,np.float64:TensorProto.DOUBLE,np.int32:TensorProto.INT32,np.int64:TensorProto.INT64,
 np.uint8:TensorProto.UINT8,np.int8:TensorProto.INT8,np.float16:TensorProto.FLOAT16,np.bool_:TensorProto.BOOL,np.uint16:TensorProto.UINT16,np.int16:TensorProto.INT16}
def vi(name, arr): return helper.make_tensor_value_info(name, NP2ONNX[arr.dtype.type], arr.shape)
def save(name, nodes, inputs, outputs, opset, extra_graphs=None):
    d=os.path.join(ROOT,name); os.makedirs(d+'/test_data_set_0')
    g=helper.make_graph(nodes, name, [vi(k,v) for k,v in inputs], [vi(k,v) for k,v in outputs])
    m=helper.make_model(g, opset_imports=[helper.make_opsetid('',opset)])
    m.ir_version=8
    onnx.save(m, d+'/model.onnx')
    for i,(k,v) in enumerate(inputs):
        open(f'{d}/test_data_set_0/input_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString())
    for i,(k,v) in enumerate(outputs):
        open(f'{d}/test_data_set_0/output_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString())

def f32(*s): return rng.standard_normal(s).astype(np.float32)
# ---------------- MatMul
for i,(sa,sb) in enumerate([((2,1,3,4),(5,4,6)),((4,),(2,4,3)),((2,3,4),(4,)),((4,),(4,)),((3,4),(2,1,4,5)),((1,3,4),(2,4,5)),((0,3,4),(4,2)),((2,3,0),(0,4))]):
    a=f32(*sa); b=f32(*sb)
    save(f'mm_matmul_{i}', [helper.make_node('MatMul',['a','b'],['y'])], [('a',a),('b',b)], [('y',np.matmul(a,b))], 13)
a=rng.integers(-100,100,(2,3,4)).astype(np.int32); b=rng.integers(-100,100,(4,5)).astype(np.int32)
save('mm_matmul_int32', [helper.make_node('MatMul',['a','b'],['y'])], [('a',a),('b',b)], [('y',np.matmul(a,b))], 13)
a=f32(2,3,4).astype(np.float64); b=f32(2,4,5).astype(np.float64)
save('mm_matmul_f64', [helper.make_node('MatMul',['a','b'],['y'])], [('a',a),('b',b)], [('y',np.matmul(a,b))], 13)
a=f32(3,4).astype(np.float16); b=f32(4,5).astype(np.float16)
save('mm_matmul_f16', [helper.make_node('MatMul',['a','b'],['y'])], [('a',a),('b',b)], [('y',np.matmul(a.astype(np.float32),b.astype(np.float32)).astype(np.float16))], 13)
# ---------------- Gemm
for i,(ta,tb,cs,al,be) in enumerate([(1,1,(3,1),0.5,2.0),(0,1,(5,),1.0,1.0),(1,0,(),1.0,0.5),(0,0,None,2.0,1.0),(0,0,(1,5),1.0,0.0)]):
    A=f32(4,3) if ta else f32(3,4); B=f32(5,4) if tb else f32(4,5)
    ins=[('A',A),('B',B)]; 
    Y=al*((A.T if ta else A)@(B.T if tb else B))
    if cs is not None:
        C=f32(*cs); ins.append(('C',C)); Y=Y+be*C
    save(f'mm_gemm_{i}', [helper.make_node('Gemm',[k for k,_ in ins],['Y'],transA=ta,transB=tb,alpha=al,beta=be)], ins, [('Y',Y.astype(np.float32))], 13)
A=rng.integers(-10,10,(3,4)).astype(np.int64); B=rng.integers(-10,10,(4,5)).astype(np.int64); C=rng.integers(-10,10,(5,)).astype(np.int64)
save('mm_gemm_int64', [helper.make_node('Gemm',['A','B','C'],['Y'])], [('A',A),('B',B),('C',C)], [('Y',A@B+C)], 13)
# ---------------- Einsum
for i,(eq,shapes) in enumerate([('bij,bjk->bik',[(2,3,4),(2,4,5)]),('ij,jk',[(3,4),(4,5)]),('...ij,...jk->...ik',[(2,1,3,4),(5,4,2)]),
        ('ii->i',[(4,4)]),('ii',[(4,4)]),('ij,ij->ij',[(3,4),(3,4)]),('i,j->ij',[(3,),(4,)]),('abc,cd,de->abe',[(2,3,4),(4,5),(5,6)]),
        ('bhqd,bhkd->bhqk',[(2,3,4,5),(2,3,6,5)]),('ij->ji',[(3,4)]),('ijk->',[(2,3,4)]),('iij->ji',[(3,3,4)]),('Ab,bc->Ac',[(2,3),(3,4)]),
        ('...,...->...',[(2,3),(3,)]),('ij,jk,kl',[(2,3),(3,4),(4,5)]), ('bij,bkj->bik', [(1,3,4),(2,5,4)])]):
    xs=[f32(*s) for s in shapes]
    names=[f'x{j}' for j in range(len(xs))]
    save(f'mm_einsum_{i}', [helper.make_node('Einsum',names,['y'],equation=eq)], list(zip(names,xs)), [('y',np.asarray(np.einsum(eq,*xs),dtype=np.float32))], 12)
a=rng.integers(-5,5,(3,4)).astype(np.int64); b=rng.integers(-5,5,(4,2)).astype(np.int64)
save('mm_einsum_int', [helper.make_node('Einsum',['a','b'],['y'],equation='ij,jk->ik')], [('a',a),('b',b)], [('y',np.einsum('ij,jk->ik',a,b))], 12)
# ---------------- MatMulInteger per-row/col zero points
A=rng.integers(0,255,(2,3,4)).astype(np.uint8); B=rng.integers(-128,127,(4,5)).astype(np.int8)
azp=rng.integers(0,255,(3,)).astype(np.uint8); bzp=rng.integers(-128,127,(5,)).astype(np.int8)
Y=np.matmul(A.astype(np.int32)-azp.astype(np.int32).reshape(3,1), B.astype(np.int32)-bzp.astype(np.int32))
save('mm_matmulinteger_rowcol', [helper.make_node('MatMulInteger',['A','B','azp','bzp'],['Y'])], [('A',A),('B',B),('azp',azp),('bzp',bzp)], [('Y',Y.astype(np.int32))], 10)
# ---------------- Quantize
x=f32(2,3,4)*50; s=np.array([0.5,1.0,2.0],np.float32); z=np.array([-3,0,5],np.int8)
y=np.clip(np.rint(x/s.reshape(1,3,1))+z.reshape(1,3,1),-128,127).astype(np.int8)
save('mm_quantize_axis_int8', [helper.make_node('QuantizeLinear',['x','s','z'],['y'],axis=1)], [('x',x),('s',s),('z',z)], [('y',y)], 13)
x=np.array([0.5,1.5,2.5,-0.5,-1.5,-2.5,1000,-1000],np.float32); s=np.array(1.0,np.float32)
save('mm_quantize_halfeven', [helper.make_node('QuantizeLinear',['x','s'],['y'])], [('x',x),('s',s)], [('y',np.clip(np.rint(x/s),0,255).astype(np.uint8))], 13)
z=np.array(0,np.int16)
save('mm_quantize_int16', [helper.make_node('QuantizeLinear',['x','s','z'],['y'])], [('x',x*100),('s',s),('z',z)], [('y',np.clip(np.rint(x*100/s),-32768,32767).astype(np.int16))], 21)
x=rng.integers(-128,127,(2,3,4)).astype(np.int8); s=np.array([0.5,1.0,2.0,4.0],np.float32); z=np.array([-3,0,5,7],np.int8)
save('mm_dequantize_axis_last', [helper.make_node('DequantizeLinear',['x','s','z'],['y'],axis=-1)], [('x',x),('s',s),('z',z)], [('y',((x.astype(np.float32)-z)*s).astype(np.float32))], 13)
x=rng.integers(-1000,1000,(5,)).astype(np.int32); s=np.array(0.25,np.float32)
save('mm_dequantize_int32', [helper.make_node('DequantizeLinear',['x','s'],['y'])], [('x',x),('s',s)], [('y',(x*s).astype(np.float32))], 13)
# blocked (opset 21)
x=f32(2,6,3)*20; s=np.abs(f32(2,2,3))+0.1; z=rng.integers(-10,10,(2,2,3)).astype(np.int8)
sr=np.repeat(s,3,axis=1); zr=np.repeat(z,3,axis=1)
save('mm_quantize_blocked', [helper.make_node('QuantizeLinear',['x','s','z'],['y'],axis=1,block_size=3)], [('x',x),('s',s),('z',z)], [('y',np.clip(np.rint(x/sr)+zr,-128,127).astype(np.int8))], 21)
q=rng.integers(-128,127,(2,6,3)).astype(np.int8)
save('mm_dequantize_blocked', [helper.make_node('DequantizeLinear',['x','s','z'],['y'],axis=1,block_size=3)], [('x',q),('s',s),('z',z)], [('y',((q.astype(np.float32)-zr)*sr).astype(np.float32))], 21)
# QLinearMatMul per-column b
a=rng.integers(0,255,(3,4)).astype(np.uint8); b=rng.integers(-128,127,(4,5)).astype(np.int8)
as_=np.array([0.02],np.float32); az=np.array([120],np.uint8); bs=np.abs(f32(5))*0.05+0.01; bz=np.zeros(5,np.int8); ys=np.array([0.1],np.float32); yz=np.array([10],np.int8)
acc=np.matmul(a.astype(np.int32)-120, b.astype(np.int32)).astype(np.float32)
mult=(as_[0]*bs/ys[0]).astype(np.float32)
y=np.clip(np.rint(acc*mult)+10,-128,127).astype(np.int8)
save('mm_qlinearmatmul_col', [helper.make_node('QLinearMatMul',['a','as','az','b','bs','bz','ys','yz'],['y'])], [('a',a),('as',as_),('az',az),('b',b),('bs',bs),('bz',bz),('ys',ys),('yz',yz)], [('y',y)], 10)
print('ok')
# QLinearConv per-channel, bias, padding, stride, int8
def conv2d(x, w, pad, stride):
    N,C,Hh,Ww=x.shape; M,_,kh,kw=w.shape
    xp=np.pad(x,((0,0),(0,0),(pad,pad),(pad,pad)))
    Ho=(Hh+2*pad-kh)//stride+1; Wo=(Ww+2*pad-kw)//stride+1
    y=np.zeros((N,M,Ho,Wo),np.int64)
    for i in range(Ho):
        for j in range(Wo):
            y[:,:,i,j]=np.einsum('nckl,mckl->nm',xp[:,:,i*stride:i*stride+kh,j*stride:j*stride+kw],w)
    return y
x=rng.integers(-128,127,(2,3,5,6)).astype(np.int8); xz=np.array(3,np.int8); xs=np.array(0.05,np.float32)
w=rng.integers(-128,127,(4,3,3,3)).astype(np.int8); wz=np.array([0,1,-2,3],np.int8); ws=(np.abs(f32(4))*0.01+0.005).astype(np.float32)
B=rng.integers(-500,500,(4,)).astype(np.int32); ys=np.array(0.7,np.float32); yz=np.array(-5,np.int8)
# padding is x_zero_point in the quantized domain -> 0 after shifting
acc=conv2d(x.astype(np.int64)-3, w.astype(np.int64)-wz.reshape(4,1,1,1), 1, 2)+B.reshape(1,4,1,1)
mult=(xs*ws/ys).astype(np.float32).reshape(1,4,1,1)
y=np.clip(np.rint(acc.astype(np.float32)*mult)+yz,-128,127).astype(np.int8)
save('mm_qlinearconv_perchannel', [helper.make_node('QLinearConv',['x','xs','xz','w','ws','wz','ys','yz','B'],['y'],pads=[1,1,1,1],strides=[2,2])],
     [('x',x),('xs',xs),('xz',xz),('w',w),('ws',ws),('wz',wz),('ys',ys),('yz',yz),('B',B)], [('y',y)], 10)
print('ok2')
