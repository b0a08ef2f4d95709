import numpy as np, onnx, os, shutil
from onnx import helper, numpy_helper, TensorProto as TP
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'controlflow'); shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
def save(name, graph, inputs, outputs, opset):
    d=os.path.join(ROOT,name); os.makedirs(d+'/test_data_set_0')
    m=helper.make_model(graph, opset_imports=[helper.make_opsetid('',opset)]); m.ir_version=8
    onnx.save(m, d+'/model.onnx')
    for i,(k,v) in enumerate(inputs): open(f'{d}/test_data_set_0/input_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString())
    for i,(k,v) in enumerate(outputs): open(f'{d}/test_data_set_0/output_{i}.pb','wb').write(numpy_helper.from_array(v,k).SerializeToString())
T=helper.make_tensor_value_info
# Loop: M only, cond omitted; body adds outer 'inc' to carried, scan outputs carried*iter ; cond via Less(iter, limit) where limit outer
body=helper.make_graph([
  helper.make_node('Add',['v_in','inc'],['v_out']),
  helper.make_node('Cast',['i'],['i_f'],to=TP.FLOAT),
  helper.make_node('Mul',['v_out','i_f'],['s']),
  helper.make_node('Less',['i','limit'],['c_out']),
], 'body', [T('i',TP.INT64,[]),T('c',TP.BOOL,[]),T('v_in',TP.FLOAT,[2])], [T('c_out',TP.BOOL,[]),T('v_out',TP.FLOAT,[2]),T('s',TP.FLOAT,[2])])
for name,M,limit,with_cond in [('loop_m_only',5,100,False),('loop_cond_stops',10,2,True),('loop_zero_trips',0,100,True)]:
    g=helper.make_graph([helper.make_node('Loop',['M','cond' if with_cond else '','v0'],['v_final','scan'],body=body)], name,
       [T('M',TP.INT64,[]),T('v0',TP.FLOAT,[2]),T('inc',TP.FLOAT,[2]),T('limit',TP.INT64,[])]+([T('cond',TP.BOOL,[])] if with_cond else []),
       [T('v_final',TP.FLOAT,[2]),T('scan',TP.FLOAT,None)])
    v=np.array([1,2],np.float32); inc=np.array([0.5,-1],np.float32); scans=[]
    i=0; cond=True
    while i<M and cond:
        v=v+inc; scans.append(v*i); cond= i<limit; i+=1
    scan=np.stack(scans) if scans else np.zeros((0,2),np.float32)
    ins=[('M',np.array(M,np.int64)),('v0',np.array([1,2],np.float32)),('inc',inc),('limit',np.array(limit,np.int64))]+([('cond',np.array(True))] if with_cond else [])
    save(name,g,ins,[('v_final',v.astype(np.float32)),('scan',scan.astype(np.float32))],13)
# If inside Loop, reading outer scope both levels
then_g=helper.make_graph([helper.make_node('Add',['acc_in','x'],['t'])],'then',[],[T('t',TP.FLOAT,[3])])
else_g=helper.make_graph([helper.make_node('Sub',['acc_in','x'],['e'])],'else',[],[T('e',TP.FLOAT,[3])])
body2=helper.make_graph([
  helper.make_node('Identity',['c'],['c_out']),
  helper.make_node('Mod',['i','two'],['m']),
  helper.make_node('Equal',['m','zero'],['even']),
  helper.make_node('If',['even'],['acc_out'],then_branch=then_g,else_branch=else_g),
],'body2',[T('i',TP.INT64,[]),T('c',TP.BOOL,[]),T('acc_in',TP.FLOAT,[3])],[T('c_out',TP.BOOL,[]),T('acc_out',TP.FLOAT,[3])])
g=helper.make_graph([helper.make_node('Loop',['M','','a0'],['a'],body=body2)],'loop_if',
  [T('M',TP.INT64,[]),T('a0',TP.FLOAT,[3]),T('x',TP.FLOAT,[3])],[T('a',TP.FLOAT,[3])],
  initializer=[numpy_helper.from_array(np.array(2,np.int64),'two'),numpy_helper.from_array(np.array(0,np.int64),'zero')])
x=np.array([1,2,3],np.float32); a=np.zeros(3,np.float32)
for i in range(5): a = a+x if i%2==0 else a-x
save('loop_if_nested',g,[('M',np.array(5,np.int64)),('a0',np.zeros(3,np.float32)),('x',x)],[('a',a)],13)
# Scan 9+: 2 states, 2 scan inputs (one reversed, one axis 1), 2 scan outputs (one reversed, one axis 1)
sb=helper.make_graph([
  helper.make_node('Add',['s1','a'],['s1o']),
  helper.make_node('Mul',['s2','b'],['s2o']),
  helper.make_node('Identity',['s1o'],['o1']),
  helper.make_node('Add',['s2o','a'],['o2']),
],'sb',[T('s1',TP.FLOAT,[2]),T('s2',TP.FLOAT,[2]),T('a',TP.FLOAT,[2]),T('b',TP.FLOAT,[2])],
   [T('s1o',TP.FLOAT,[2]),T('s2o',TP.FLOAT,[2]),T('o1',TP.FLOAT,[2]),T('o2',TP.FLOAT,[2])])
g=helper.make_graph([helper.make_node('Scan',['i1','i2','A','B'],['f1','f2','O1','O2'],body=sb,num_scan_inputs=2,
   scan_input_directions=[1,0],scan_input_axes=[0,1],scan_output_directions=[1,0],scan_output_axes=[0,1])],'scan9',
   [T('i1',TP.FLOAT,[2]),T('i2',TP.FLOAT,[2]),T('A',TP.FLOAT,[4,2]),T('B',TP.FLOAT,[2,4])],
   [T('f1',TP.FLOAT,[2]),T('f2',TP.FLOAT,[2]),T('O1',TP.FLOAT,[4,2]),T('O2',TP.FLOAT,[2,4])])
rng=np.random.default_rng(0)
A=rng.standard_normal((4,2)).astype(np.float32); B=rng.standard_normal((2,4)).astype(np.float32)
s1=np.array([1,1],np.float32); s2=np.array([2,3],np.float32); o1=[];o2=[]
for t in range(4):
    a=A[3-t]; b=B[:,t]
    s1=s1+a; s2=s2*b; o1.append(s1.copy()); o2.append(s2+a)
O1=np.stack(o1[::-1]); O2=np.stack(o2,axis=1)
save('scan9_multi',g,[('i1',np.array([1,1],np.float32)),('i2',np.array([2,3],np.float32)),('A',A),('B',B)],[('f1',s1),('f2',s2),('O1',O1),('O2',O2)],11)
# Scan 8 with sequence_lens
sb8=helper.make_graph([helper.make_node('Add',['s','x'],['so']),helper.make_node('Identity',['so'],['o'])],'sb8',
   [T('s',TP.FLOAT,[2]),T('x',TP.FLOAT,[2])],[T('so',TP.FLOAT,[2]),T('o',TP.FLOAT,[2])])
g=helper.make_graph([helper.make_node('Scan',['lens','init','X'],['fin','O'],body=sb8,num_scan_inputs=1,directions=[1])],'scan8',
   [T('lens',TP.INT32,[2]),T('init',TP.FLOAT,[2,2]),T('X',TP.FLOAT,[2,3,2])],[T('fin',TP.FLOAT,[2,2]),T('O',TP.FLOAT,[2,3,2])])
X=rng.standard_normal((2,3,2)).astype(np.float32); init=np.array([[0,0],[1,1]],np.float32); lens=np.array([3,2],np.int32)
fin=np.zeros((2,2),np.float32); O=np.zeros((2,3,2),np.float32)
for b in range(2):
    s=init[b].copy()
    for t in range(lens[b]):
        s=s+X[b,lens[b]-1-t]; O[b,t]=s
    fin[b]=s
save('scan8_lens',g,[('lens',lens),('init',init),('X',X)],[('fin',fin),('O',O)],8)
print('ok')
