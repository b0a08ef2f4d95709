import os, sys, shutil
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_resize import resize

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'image')
shutil.rmtree(root, ignore_errors=True)
rng = np.random.default_rng(7)
NP2ONNX = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int64: TensorProto.INT64,
           np.uint8: TensorProto.UINT8, np.float16: TensorProto.FLOAT16, np.int32: TensorProto.INT32}

def save(name, op, inputs, outputs, attrs, opset, input_names=None, output_names=None):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    in_names = input_names or [f"in{i}" for i in range(len(inputs))]
    out_names = output_names or [f"out{i}" for i in range(len(outputs))]
    node_inputs = [n if v is not None else "" for n, v in zip(in_names, inputs)]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    node = helper.make_node(op, node_inputs, out_names, **attrs)
    g_inputs = [helper.make_tensor_value_info(n, NP2ONNX[v.dtype.type], v.shape) for n, v in zip(in_names, inputs) if v is not None]
    g_outputs = [helper.make_tensor_value_info(n, NP2ONNX[v.dtype.type], v.shape) for n, v in zip(out_names, outputs)]
    graph = helper.make_graph([node], name, g_inputs, g_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, os.path.join(d, "model.onnx"))
    k = 0
    for n, v in zip(in_names, inputs):
        if v is None:
            continue
        open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb").write(numpy_helper.from_array(v, n).SerializeToString())
        k += 1
    for i, (n, v) in enumerate(zip(out_names, outputs)):
        open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb").write(numpy_helper.from_array(v, n).SerializeToString())

f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

# ---- Resize (opset 18/19 features)
X = f32(2, 3, 9, 11)
cases = [
    ("aa_linear_down", dict(mode="linear", antialias=1), dict(scales=np.array([1, 1, 0.6, 0.45], np.float32))),
    ("aa_cubic_down", dict(mode="cubic", antialias=1), dict(sizes=np.array([2, 3, 4, 5], np.int64))),
    ("aa_cubic_down_exclude", dict(mode="cubic", antialias=1, exclude_outside=1, cubic_coeff_a=-0.5), dict(sizes=np.array([2, 3, 5, 3], np.int64))),
    ("aa_linear_up", dict(mode="linear", antialias=1), dict(scales=np.array([1, 1, 1.5, 2.0], np.float32))),
    ("axes_sizes_not_larger", dict(mode="linear", axes=[2, 3], keep_aspect_ratio_policy="not_larger"), dict(sizes=np.array([7, 7], np.int64))),
    ("axes_sizes_not_smaller", dict(mode="nearest", axes=[3, 2], keep_aspect_ratio_policy="not_smaller"), dict(sizes=np.array([6, 7], np.int64))),
    ("axes_scales_neg", dict(mode="cubic", axes=[-1]), dict(scales=np.array([1.7], np.float32))),
    ("half_pixel_symmetric", dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"), dict(scales=np.array([1, 1, 0.77, 1.33], np.float32))),
    ("tf_half_pixel_for_nn", dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="round_prefer_ceil"), dict(scales=np.array([1, 1, 1.6, 0.7], np.float32))),
    ("nearest_ceil_asym", dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"), dict(scales=np.array([1, 1, 2.5, 0.5], np.float32))),
    ("nearest_floor_align", dict(mode="nearest", coordinate_transformation_mode="align_corners", nearest_mode="floor"), dict(sizes=np.array([2, 3, 4, 17], np.int64))),
    ("crop_nearest_extrap", dict(mode="nearest", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0), dict(roi=np.array([0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3], np.float32), sizes=np.array([2, 3, 6, 8], np.int64))),
    ("crop_cubic_axes", dict(mode="cubic", coordinate_transformation_mode="tf_crop_and_resize", axes=[2, 3]), dict(roi=np.array([0.1, 0.2, 0.8, 0.7], np.float32), sizes=np.array([5, 6], np.int64))),
    ("pytorch_half_pixel_cubic_down", dict(mode="cubic", coordinate_transformation_mode="pytorch_half_pixel"), dict(scales=np.array([1, 1, 0.5, 0.35], np.float32))),
    ("linear_3d_trilinear", dict(mode="linear"), dict(scales=np.array([1, 1.5, 2.0, 0.5], np.float32))),
]
for name, attrs, ins in cases:
    ref_kw = {k: v for k, v in attrs.items()}
    roi = ins.get("roi"); scales = ins.get("scales"); sizes = ins.get("sizes")
    y = resize(X, roi=None if roi is None else list(roi.astype(np.float64)), scales=None if scales is None else list(scales),
               sizes=None if sizes is None else list(sizes), **ref_kw)
    save("test_x_resize_" + name, "Resize", [X, roi, scales, sizes], [y], attrs, 19)

# ---- Pad
Xp = f32(2, 3, 4, 5)
def pad_ref(x, pads, mode, value=0.0, axes=None):
    r = x.ndim
    if axes is not None:
        full = [0] * (2 * r)
        for i, a in enumerate(axes):
            a = a % r
            full[a] = pads[i]; full[a + r] = pads[i + len(axes)]
        pads = full
    pw = [(pads[i], pads[i + r]) for i in range(r)]
    if mode == "constant":
        return np.pad(x, pw, mode="constant", constant_values=value)
    return np.pad(x, pw, mode=mode)
for name, pads, mode, axes, opset in [("wrap", [0, 1, 2, 3, 0, 2, 1, 4], "wrap", None, 19),
                                      ("reflect_big", [0, 0, 5, 7, 0, 0, 6, 9], "reflect", None, 18),
                                      ("edge_axes", [2, 3, 1, 4], "edge", [-1, 2], 18),
                                      ("constant_axes", [1, 2], "constant", [1], 18)]:
    y = pad_ref(Xp, pads, mode, 1.5, axes)
    ins = [Xp, np.array(pads, np.int64), np.array(1.5, np.float32), None if axes is None else np.array(axes, np.int64)]
    save("test_x_pad_" + name, "Pad", ins, [y], dict(mode=mode), opset)
y = pad_ref(Xp, [0, 0, 1, 2, 0, 0, 2, 1], "constant", 2.5)
save("test_x_pad_v2", "Pad", [Xp], [y], dict(mode="constant", pads=[0, 0, 1, 2, 0, 0, 2, 1], value=2.5), 2)
Xi = rng.integers(0, 100, (3, 4)).astype(np.int64)
save("test_x_pad_int_reflect", "Pad", [Xi, np.array([2, 3, 2, 3], np.int64)], [pad_ref(Xi, [2, 3, 2, 3], "reflect")], dict(mode="reflect"), 13)

# ---- GroupNormalization 18 (per group) / 21 (per channel), LayerNorm broadcast scale
Xg = f32(2, 6, 3, 4)
def group_norm(x, G, scale, bias, eps, per_channel):
    N, C = x.shape[:2]
    xr = x.reshape(N, G, -1).astype(np.float64)
    m = xr.mean(-1, keepdims=True); v = xr.var(-1, keepdims=True)
    y = ((xr - m) / np.sqrt(v + eps)).reshape(x.shape)
    sh = [1, C] + [1] * (x.ndim - 2)
    if per_channel:
        s = scale.reshape(sh); b = bias.reshape(sh)
    else:
        s = np.repeat(scale, C // G).reshape(sh); b = np.repeat(bias, C // G).reshape(sh)
    return (y * s + b).astype(x.dtype)
sg, bg = f32(3), f32(3)
save("test_x_groupnorm_18", "GroupNormalization", [Xg, sg, bg], [group_norm(Xg, 3, sg, bg, 1e-3, False)], dict(num_groups=3, epsilon=1e-3), 18)
sc, bc = f32(6), f32(6)
save("test_x_groupnorm_21", "GroupNormalization", [Xg, sc, bc], [group_norm(Xg, 2, sc, bc, 1e-5, True)], dict(num_groups=2), 21)
Xl = f32(3, 4, 5)
sl, bl = f32(5), f32(1, 5)
def layer_norm(x, axis, s, b, eps=1e-5):
    ax = tuple(range(axis % x.ndim, x.ndim))
    m = x.astype(np.float64).mean(ax, keepdims=True); v = x.astype(np.float64).var(ax, keepdims=True)
    return ((x - m) / np.sqrt(v + eps) * s + b).astype(x.dtype), m.astype(np.float32), (1 / np.sqrt(v + eps)).astype(np.float32)
y, m, inv = layer_norm(Xl, -2, sl, bl)
save("test_x_layernorm_bcast", "LayerNormalization", [Xl, sl, bl], [y, m, inv], dict(axis=-2), 17)

# ---- Pools: LpPool, GlobalLpPool, AveragePool-19 dilations
Xq = f32(2, 3, 9, 10)
def window_ref(x, k, s, d, pads, fn, count_include_pad=False, ceil=False):
    N, C, H, W = x.shape
    def out(i, n):
        span = n + pads[i] + pads[i + 2] - ((k[i] - 1) * d[i] + 1)
        o = (-(-span // s[i]) if ceil else span // s[i]) + 1
        if ceil and (o - 1) * s[i] >= n + pads[i]:
            o -= 1
        return o
    OH, OW = out(0, H), out(1, W)
    y = np.zeros((N, C, OH, OW))
    for oy in range(OH):
        for ox in range(OW):
            vals = []; padded = 0
            for ky in range(k[0]):
                for kx in range(k[1]):
                    iy = oy * s[0] - pads[0] + ky * d[0]; ix = ox * s[1] - pads[1] + kx * d[1]
                    if iy < H + pads[2] and ix < W + pads[3]:
                        padded += 1
                    if 0 <= iy < H and 0 <= ix < W:
                        vals.append(x[:, :, iy, ix].astype(np.float64))
            y[:, :, oy, ox] = fn(np.stack(vals), padded if count_include_pad else len(vals))
    return y.astype(x.dtype)
avg = lambda v, n: v.sum(0) / n
save("test_x_avgpool19_dilated", "AveragePool", [Xq], [window_ref(Xq, [3, 2], [2, 1], [2, 3], [2, 1, 1, 3], avg)],
     dict(kernel_shape=[3, 2], strides=[2, 1], dilations=[2, 3], pads=[2, 1, 1, 3]), 19)
save("test_x_avgpool19_dilated_countpad_ceil", "AveragePool", [Xq], [window_ref(Xq, [3, 2], [2, 2], [2, 1], [1, 1, 1, 0], avg, True, True)],
     dict(kernel_shape=[3, 2], strides=[2, 2], dilations=[2, 1], pads=[1, 1, 1, 0], count_include_pad=1, ceil_mode=1), 19)
lp3 = lambda v, n: (np.abs(v) ** 3).sum(0) ** (1 / 3)
save("test_x_lppool_p3", "LpPool", [Xq], [window_ref(Xq, [3, 3], [2, 2], [1, 1], [1, 1, 1, 1], lp3)],
     dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], p=3), 11)
lp2 = lambda v, n: np.sqrt((v ** 2).sum(0))
save("test_x_lppool_p2_dilated", "LpPool", [Xq], [window_ref(Xq, [2, 3], [1, 1], [2, 2], [0, 1, 1, 1], lp2)],
     dict(kernel_shape=[2, 3], dilations=[2, 2], pads=[0, 1, 1, 1]), 18)
save("test_x_globallppool", "GlobalLpPool", [Xq], [np.sqrt((Xq.astype(np.float64) ** 2).sum((2, 3), keepdims=True)).astype(np.float32)], {}, 2)
mx = lambda v, n: v.max(0)
save("test_x_maxpool_dilated_ceil", "MaxPool", [Xq], [window_ref(Xq, [2, 3], [2, 3], [3, 2], [1, 0, 2, 2], mx, False, True)],
     dict(kernel_shape=[2, 3], strides=[2, 3], dilations=[3, 2], pads=[1, 0, 2, 2], ceil_mode=1), 12)

# ---- Conv float16 and double
Xc = f32(2, 4, 7, 6); Wc = f32(6, 2, 3, 3); Bc = f32(6)
def conv_ref(x, w, b, group, pads, strides):
    N, C, H, W = x.shape; M = w.shape[0]; Cg = C // group; Mg = M // group
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])])
    OH = (xp.shape[2] - w.shape[2]) // strides[0] + 1; OW = (xp.shape[3] - w.shape[3]) // strides[1] + 1
    y = np.zeros((N, M, OH, OW))
    for m in range(M):
        g = m // Mg
        for oy in range(OH):
            for ox in range(OW):
                patch = xp[:, g * Cg:(g + 1) * Cg, oy * strides[0]:oy * strides[0] + w.shape[2], ox * strides[1]:ox * strides[1] + w.shape[3]]
                y[:, m, oy, ox] = (patch * w[m]).sum((1, 2, 3)) + b[m]
    return y
yc = conv_ref(Xc, Wc, Bc, 2, [1, 1, 1, 1], [1, 2])
h = lambda a: a.astype(np.float16)
yh = conv_ref(h(Xc).astype(np.float64), h(Wc).astype(np.float64), h(Bc).astype(np.float64), 2, [1, 1, 1, 1], [1, 2])
save("test_x_conv_fp16", "Conv", [h(Xc), h(Wc), h(Bc)], [yh.astype(np.float16)],
     dict(group=2, pads=[1, 1, 1, 1], strides=[1, 2]), 13)
save("test_x_conv_fp64", "Conv", [Xc.astype(np.float64), Wc.astype(np.float64), Bc.astype(np.float64)], [yc],
     dict(group=2, pads=[1, 1, 1, 1], strides=[1, 2]), 13)
print("generated", len(os.listdir(root)))
