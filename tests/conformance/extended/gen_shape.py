import numpy as np, onnx, os, shutil
from onnx import helper, numpy_helper, TensorProto
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'shape')
shutil.rmtree(root, ignore_errors=True)
rng = np.random.default_rng(7)
NP2ONNX = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16,
           np.int64: TensorProto.INT64, np.int32: TensorProto.INT32, np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8,
           np.bool_: TensorProto.BOOL, np.object_: TensorProto.STRING, np.uint64: TensorProto.UINT64, np.int16: TensorProto.INT16}
def vi(name, arr):
    return helper.make_tensor_value_info(name, NP2ONNX[arr.dtype.type], list(arr.shape))
def case(name, op, inputs, outputs, opset, **attrs):
    """inputs: list of (name, array or None); outputs: list of (name, array)"""
    d = os.path.join(root, 'test_' + name); os.makedirs(os.path.join(d, 'test_data_set_0'))
    in_names = [n if a is not None else '' for n, a in inputs]
    node = helper.make_node(op, in_names, [n for n, _ in outputs], **attrs)
    g = helper.make_graph([node], name, [vi(n, a) for n, a in inputs if a is not None], [vi(n, a) for n, a in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    onnx.save(m, os.path.join(d, 'model.onnx'))
    k = 0
    for n, a in inputs:
        if a is None: continue
        open(os.path.join(d, 'test_data_set_0', 'input_%d.pb' % k), 'wb').write(numpy_helper.from_array(a, n).SerializeToString()); k += 1
    for k, (n, a) in enumerate(outputs):
        open(os.path.join(d, 'test_data_set_0', 'output_%d.pb' % k), 'wb').write(numpy_helper.from_array(a, n).SerializeToString())

x = rng.standard_normal((3, 4, 5)).astype(np.float32)
case('r18_mean_axes', 'ReduceMean', [('x', x), ('axes', np.array([0, -1], np.int64))], [('y', x.mean(axis=(0, 2)))], 18, keepdims=0)
case('r18_max_noop', 'ReduceMax', [('x', x), ('axes', np.array([], np.int64))], [('y', x)], 18, noop_with_empty_axes=1)
case('r18_sumsq_noop', 'ReduceSumSquare', [('x', x), ('axes', np.array([], np.int64))], [('y', x * x)], 18, noop_with_empty_axes=1)
case('r18_l2_all', 'ReduceL2', [('x', x)], [('y', np.sqrt((x * x).sum(keepdims=True)))], 18)
case('r18_l1_attr_ignored', 'ReduceL1', [('x', x), ('axes', np.array([1], np.int64))], [('y', np.abs(x).sum(axis=1, keepdims=True))], 18)
case('r13_sum_noaxes', 'ReduceSum', [('x', x)], [('y', x.sum(keepdims=True))], 13)
case('r13_max_attr', 'ReduceMax', [('x', x)], [('y', x.max(axis=1, keepdims=True))], 13, axes=[1])
xb = rng.random((3, 4)) > 0.5
case('r20_max_bool', 'ReduceMax', [('x', xb), ('axes', np.array([1], np.int64))], [('y', xb.any(axis=1, keepdims=True))], 20)
case('r20_min_bool', 'ReduceMin', [('x', xb), ('axes', np.array([0], np.int64))], [('y', xb.all(axis=0, keepdims=True))], 20)
xe = np.zeros((2, 0, 3), np.float32)
case('r18_sum_empty', 'ReduceSum', [('x', xe), ('axes', np.array([1], np.int64))], [('y', np.zeros((2, 1, 3), np.float32))], 18)
case('r18_max_empty', 'ReduceMax', [('x', xe), ('axes', np.array([1], np.int64))], [('y', np.full((2, 1, 3), -np.inf, np.float32))], 18)
case('r18_prod_empty', 'ReduceProd', [('x', xe), ('axes', np.array([1], np.int64))], [('y', np.ones((2, 1, 3), np.float32))], 18)
xl = (rng.standard_normal((2, 3, 4)) * 100).astype(np.float32)
m = xl.max(axis=1, keepdims=True)
case('r18_lse_large', 'ReduceLogSumExp', [('x', xl), ('axes', np.array([1], np.int64))], [('y', (np.log(np.exp(xl - m).sum(axis=1, keepdims=True)) + m).astype(np.float32))], 18)
xi = rng.integers(-50, 50, (4, 6, 5)).astype(np.int32)
case('r13_sum_int_mid', 'ReduceSum', [('x', xi), ('axes', np.array([0, 2], np.int64))], [('y', xi.sum(axis=(0, 2), dtype=np.int32))], 13, keepdims=0)
xh = rng.standard_normal((4, 8)).astype(np.float16)
case('r13_mean_half', 'ReduceMean', [('x', xh)], [('y', xh.astype(np.float32).mean(axis=0, keepdims=True).astype(np.float16))], 13, axes=[0])

s = rng.standard_normal((7, 4)).astype(np.float32)
case('split18_num_outputs', 'Split', [('x', s)], [('a', s[0:3]), ('b', s[3:6]), ('c', s[6:7])], 18, axis=0, num_outputs=3)
case('split18_input', 'Split', [('x', s), ('split', np.array([1, 3], np.int64))], [('a', s[:, :1]), ('b', s[:, 1:])], 18, axis=1)
case('split11_attr', 'Split', [('x', s)], [('a', s[:2]), ('b', s[2:])], 11, axis=0, split=[2, 5])
case('shape15_neg', 'Shape', [('x', x)], [('y', np.array([4, 5], np.int64))], 15, start=-2)
case('shape15_empty', 'Shape', [('x', x)], [('y', np.array([], np.int64))], 15, start=2, end=1)

big = rng.standard_normal((5, 6, 7, 8)).astype(np.float32)
for i, (st, en, ax, sp) in enumerate([([4, -1, 6], [-100, 0, 0], [0, 1, 2], [-2, -1, -3]),
                                      ([-1, 10], [-1000, -9223372036854775807], [3, 1], [-1, -2]),
                                      ([1, 0], [4, 8], [2, 3], [2, 3]),
                                      ([9223372036854775807], [-9223372036854775808], [0], [-9223372036854775807]),
                                      ([2], [2], [1], [1])]):
    sl = [slice(None)] * 4
    for a_, b_, c_, d_ in zip(st, en, ax, sp):
        if b_ < -1000: b_ = None  # numpy: end before start
        elif d_ < 0 and b_ == -1000: b_ = None
        sl[c_] = slice(a_, b_, d_)
    exp = big[tuple(sl)]
    case('slice_extra_%d' % i, 'Slice', [('x', big), ('starts', np.array(st, np.int64)), ('ends', np.array(en, np.int64)), ('axes', np.array(ax, np.int64)), ('steps', np.array(sp, np.int64))], [('y', exp)], 13)
case('slice1_attr', 'Slice', [('x', big)], [('y', big[:, 1:-1, :, -3:])], 1, starts=[1, -3], ends=[-1, 1000], axes=[1, 3])

import itertools
for i, perm in enumerate([(0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 2, 3), (0, 1, 3, 2), (2, 0, 3, 1)]):
    for dt in [np.float32, np.float16, np.int8, np.bool_, np.float64]:
        t = (rng.standard_normal((3, 17, 19, 5)) * 10).astype(dt)
        case('transpose_%d_%s' % (i, np.dtype(dt).name), 'Transpose', [('x', t)], [('y', np.transpose(t, perm))], 13, perm=list(perm))
ts = np.array([['a', 'bb', 'c'], ['d', 'e', 'ffff']], dtype=object)
case('transpose_string', 'Transpose', [('x', ts)], [('y', ts.T.copy())], 13)
case('gather_string', 'Gather', [('x', ts), ('i', np.array([2, -3, 1], np.int64))], [('y', ts[:, [2, 0, 1]])], 13, axis=1)
case('concat_string', 'Concat', [('a', ts), ('b', ts[:1])], [('y', np.concatenate([ts, ts[:1]]))], 13, axis=0)
xh2 = rng.standard_normal((4, 5, 6)).astype(np.float16)
case('gather_half_axis2', 'Gather', [('x', xh2), ('i', np.array([[5, 0], [-1, 2]], np.int32))], [('y', np.take(xh2, [[5, 0], [-1, 2]], axis=2))], 13, axis=2)
e = rng.standard_normal((3, 1, 4)).astype(np.float32)
case('expand_both', 'Expand', [('x', e), ('s', np.array([2, 1, 5, 1], np.int64))], [('y', e * np.ones((2, 1, 5, 4), np.float32))], 13)
case('tile_3d', 'Tile', [('x', e), ('r', np.array([2, 3, 1], np.int64))], [('y', np.tile(e, (2, 3, 1)))], 13)
d2s = rng.standard_normal((2, 18, 3, 5)).astype(np.float32)
b = 3
tmp = d2s.reshape(2, 2, b, b, 3, 5).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 9, 15)
case('d2s_crd_big', 'DepthToSpace', [('x', d2s)], [('y', tmp)], 13, blocksize=3, mode='CRD')
tmp = d2s.reshape(2, b, b, 2, 3, 5).transpose(0, 3, 4, 1, 5, 2).reshape(2, 2, 9, 15)
case('d2s_dcr_big', 'DepthToSpace', [('x', d2s)], [('y', tmp)], 13, blocksize=3, mode='DCR')
s2d = rng.standard_normal((2, 3, 6, 9)).astype(np.float32)
tmp = s2d.reshape(2, 3, 2, 3, 3, 3).transpose(0, 3, 5, 1, 2, 4).reshape(2, 27, 2, 3)
case('s2d_big', 'SpaceToDepth', [('x', s2d)], [('y', tmp)], 13, blocksize=3)

tk = rng.integers(0, 4, (3, 10, 4)).astype(np.float32)
def topk(x, k, axis, largest):
    idx = np.argsort(-x if largest else x, axis=axis, kind='stable')
    idx = np.take(idx, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)
for largest in (0, 1):
    for axis in (1, -1, 0):
        k = 3
        v, ix = topk(tk, k, axis, largest)
        case('topk_ties_l%d_a%d' % (largest, axis + 3), 'TopK', [('x', tk), ('k', np.array([k], np.int64))], [('v', v), ('i', ix)], 11, axis=axis, largest=largest)
v, ix = topk(tk, 0, 1, 1)
case('topk_k0', 'TopK', [('x', tk), ('k', np.array([0], np.int64))], [('v', v), ('i', ix)], 11, axis=1)
v, ix = topk(tk, 2, 2, 1)
case('topk_opset1', 'TopK', [('x', tk)], [('v', v), ('i', ix)], 1, k=2, axis=2)

data = rng.standard_normal((4, 5)).astype(np.float32)
idx = np.array([[0, 1, 0, 3, 3], [3, 2, 0, 0, 3]], np.int64)
upd = rng.standard_normal((2, 5)).astype(np.float32)
exp = data.copy()
for i in range(2):
    for j in range(5):
        exp[idx[i, j], j] = max(exp[idx[i, j], j], upd[i, j])
case('scatter_elements_max', 'ScatterElements', [('d', data), ('i', idx), ('u', upd)], [('y', exp)], 18, axis=0, reduction='max')
exp = data.copy()
for i in range(2):
    for j in range(5):
        exp[idx[i, j], j] += upd[i, j]
case('scatter_elements_add', 'ScatterElements', [('d', data), ('i', idx), ('u', upd)], [('y', exp)], 16, axis=0, reduction='add')
nd_idx = np.array([[1], [3], [1]], np.int64)
nd_upd = rng.standard_normal((3, 5)).astype(np.float32)
exp = data.copy()
for i in range(3):
    exp[nd_idx[i, 0]] = np.minimum(exp[nd_idx[i, 0]], nd_upd[i])
case('scatternd_min', 'ScatterND', [('d', data), ('i', nd_idx), ('u', nd_upd)], [('y', exp)], 18, reduction='min')

g = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
gi = rng.integers(-4, 4, (2, 3, 6, 1)).astype(np.int64)
exp = np.zeros((2, 3, 6, 5), np.float32)
for a_ in range(2):
    for b_ in range(3):
        for c_ in range(6):
            exp[a_, b_, c_] = g[a_, b_, gi[a_, b_, c_, 0]]
case('gathernd_batch2', 'GatherND', [('x', g), ('i', gi)], [('y', exp)], 13, batch_dims=2)

c = rng.integers(-5, 5, (3, 4, 5)).astype(np.int64)
cs = np.flip(np.cumsum(np.flip(c, 1), 1), 1) - c
case('cumsum_rev_excl_mid', 'CumSum', [('x', c), ('a', np.array(1, np.int32))], [('y', cs)], 14, exclusive=1, reverse=1)
tb = rng.random((2, 4, 5)) > 0.3
case('trilu_bool_lower', 'Trilu', [('x', tb), ('k', np.array(1, np.int64))], [('y', np.tril(tb, 1))], 14, upper=0)
ge = rng.standard_normal((3, 4)).astype(np.float16)
gei = np.array([[1, -1], [0, 2]], np.int64)
case('gather_elements_axis1_small', 'GatherElements', [('x', ge), ('i', gei)], [('y', np.take_along_axis(ge[:2], gei % 4, axis=1))], 13, axis=1)
am = rng.integers(0, 3, (3, 4, 5)).astype(np.int32)
case('argmax_mid_last', 'ArgMax', [('x', am)], [('y', (4 - 1 - np.argmax(np.flip(am, 1), axis=1)).astype(np.int64))], 13, axis=1, keepdims=0, select_last_index=1)
case('argmin_mid', 'ArgMin', [('x', am)], [('y', np.argmin(am, axis=1, keepdims=True).astype(np.int64))], 13, axis=1)
u = np.array(['b', 'a', 'b', 'c', 'a'], dtype=object)
case('unique_string', 'Unique', [('x', u)], [('y', np.array(['a', 'b', 'c'], dtype=object)), ('i', np.array([1, 0, 3], np.int64)), ('inv', np.array([1, 0, 1, 2, 0], np.int64)), ('c', np.array([2, 2, 1], np.int64))], 11)
case('nonzero_scalar', 'NonZero', [('x', np.array(3.0, np.float32))], [('y', np.zeros((1, 1), np.int64))], 13)
case('range_int64_neg', 'Range', [('a', np.array(10, np.int64)), ('b', np.array(-3, np.int64)), ('c', np.array(-4, np.int64))], [('y', np.arange(10, -3, -4, dtype=np.int64))], 11)
case('eyelike_k_neg', 'EyeLike', [('x', np.zeros((4, 3), np.int32))], [('y', np.eye(4, 3, k=-2, dtype=np.float32))], 9, k=-2, dtype=TensorProto.FLOAT)
case('constofshape_int', 'ConstantOfShape', [('s', np.array([2, 3], np.int64))], [('y', np.full((2, 3), 7, np.int32))], 9, value=numpy_helper.from_array(np.array([7], np.int32)))
case('reshape_zero_minus1', 'Reshape', [('x', big), ('s', np.array([0, -1, 8], np.int64))], [('y', big.reshape(5, 42, 8))], 14)
case('reshape_allowzero_empty', 'Reshape', [('x', np.zeros((0, 3), np.float32)), ('s', np.array([3, 0], np.int64))], [('y', np.zeros((3, 0), np.float32))], 14, allowzero=1)
case('squeeze_all', 'Squeeze', [('x', np.zeros((1, 3, 1, 2), np.float32))], [('y', np.zeros((3, 2), np.float32))], 13)
case('unsqueeze11', 'Unsqueeze', [('x', np.zeros((3, 2), np.float32))], [('y', np.zeros((1, 3, 1, 2), np.float32))], 11, axes=[0, -2])
case('flatten_axis0', 'Flatten', [('x', big)], [('y', big.reshape(1, -1))], 13, axis=0)
case('compress_noaxis', 'Compress', [('x', g), ('c', np.array([0, 1, 1, 0, 1], np.bool_))], [('y', g.flatten()[[1, 2, 4]])], 11)
case('onehot_float_idx', 'OneHot', [('i', np.array([[1.7, -1.2], [5.0, 0.0]], np.float32)), ('d', np.array([4], np.int64)), ('v', np.array([0, 9], np.int32))], [('y', np.array([[[0, 9, 0, 0], [0, 0, 0, 9]], [[0, 0, 0, 0], [9, 0, 0, 0]]], np.int32))], 11)
print('ok')
