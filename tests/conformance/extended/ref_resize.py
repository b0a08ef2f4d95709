# Transcription of the ONNX reference Resize (onnx/reference/ops/op_resize.py, original n-d path).
import numpy as np

def _nearest_coeffs(ratio, mode="round_prefer_floor"):
    if isinstance(ratio, int) or float(ratio).is_integer():
        return np.array([0, 1])
    if mode == "round_prefer_floor":
        return np.array([ratio <= 0.5, ratio > 0.5])
    if mode == "round_prefer_ceil":
        return np.array([ratio < 0.5, ratio >= 0.5])
    if mode == "floor":
        return np.array([1, 0])
    if mode == "ceil":
        return np.array([0, 1])

def _cubic_coeffs(ratio, scale=None, A=-0.75):
    coeffs = [
        ((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A,
        ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
        ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1,
        ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A,
    ]
    return np.array(coeffs)

def _cubic_coeffs_antialias(ratio, scale, A=-0.75):
    scale = min(scale, 1.0)
    def compute_coeff(x):
        x = abs(x); x_2 = x * x; x_3 = x * x_2
        if x <= 1:
            return (A + 2) * x_3 - (A + 3) * x_2 + 1
        if x < 2:
            return A * x_3 - 5 * A * x_2 + 8 * A * x - 4 * A
        return 0.0
    i_start = int(np.floor(-2 / scale) + 1)
    i_end = 2 - i_start
    args = [scale * (i - ratio) for i in range(i_start, i_end)]
    coeffs = [compute_coeff(x) for x in args]
    return np.array(coeffs) / sum(coeffs)

def _linear_coeffs(ratio, scale=None):
    return np.array([1 - ratio, ratio])

def _linear_coeffs_antialias(ratio, scale):
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    footprint = 2 - 2 * start
    args = (np.arange(start, start + footprint) - ratio) * scale
    coeffs = np.clip(1 - np.abs(args), 0, 1)
    return np.array(coeffs) / sum(coeffs)

def _get_neighbor_idxes(x, n, limit):
    idxes = sorted(range(limit), key=lambda idx: (abs(x - idx), idx))[:n]
    return np.array(sorted(idxes))

def _get_neighbor(x, n, data):
    pad_width = np.ceil(n / 2).astype(int)
    padded = np.pad(data, pad_width, mode="edge")
    x += pad_width
    idxes = _get_neighbor_idxes(x, n, len(padded))
    ret = padded[idxes]
    return idxes - pad_width, ret

def _interpolate_1d_with_x(data, scale_factor, output_width_int, x, get_coeffs, roi=None, extrapolation_value=0.0,
                           coordinate_transformation_mode="half_pixel", exclude_outside=False):
    input_width = len(data)
    output_width = scale_factor * input_width
    if coordinate_transformation_mode == "align_corners":
        x_ori = 0.0 if output_width == 1 else x * (input_width - 1) / (output_width - 1)
    elif coordinate_transformation_mode == "asymmetric":
        x_ori = x / scale_factor
    elif coordinate_transformation_mode == "tf_crop_and_resize":
        if output_width == 1:
            x_ori = (roi[1] - roi[0]) * (input_width - 1) / 2
        else:
            x_ori = x * (roi[1] - roi[0]) * (input_width - 1) / (output_width - 1)
        x_ori += roi[0] * (input_width - 1)
        if x_ori < 0 or x_ori > input_width - 1:
            return np.array(extrapolation_value)
    elif coordinate_transformation_mode == "pytorch_half_pixel":
        x_ori = 0.0 if output_width == 1 else (x + 0.5) / scale_factor - 0.5   # spec (reference says -0.5)
    elif coordinate_transformation_mode == "half_pixel":
        x_ori = (x + 0.5) / scale_factor - 0.5
    elif coordinate_transformation_mode == "half_pixel_symmetric":
        adjustment = output_width_int / output_width
        center = input_width / 2
        offset = center * (1 - adjustment)
        x_ori = offset + (x + 0.5) / scale_factor - 0.5
    elif coordinate_transformation_mode == "tf_half_pixel_for_nn":
        x_ori = (x + 0.5) / scale_factor
    x_ori = float(x_ori)
    x_ori_int = int(np.floor(x_ori))
    ratio = 1 if x_ori.is_integer() else x_ori - x_ori_int
    coeffs = get_coeffs(ratio, scale_factor)
    n = len(coeffs)
    idxes, points = _get_neighbor(x_ori, n, data)
    if exclude_outside:
        coeffs = coeffs.astype(float)
        for i, idx in enumerate(idxes):
            if idx < 0 or idx >= input_width:
                coeffs[i] = 0
        coeffs /= sum(coeffs)
    return np.dot(coeffs, points).item()

def _interpolate_nd_with_x(data, n, scale_factors, output_size, x, get_coeffs, roi=None, exclude_outside=False, **kw):
    if n == 1:
        return _interpolate_1d_with_x(data, scale_factors[0], output_size[0], x[0], get_coeffs, roi=roi,
                                      exclude_outside=exclude_outside, **kw)
    res1d = []
    for i in range(data.shape[0]):
        r = _interpolate_nd_with_x(data[i], n - 1, scale_factors[1:], output_size[1:], x[1:], get_coeffs,
                                   roi=None if roi is None else np.concatenate([roi[1:n], roi[n + 1:]]),
                                   exclude_outside=exclude_outside, **kw)
        res1d.append(r)
    return _interpolate_1d_with_x(np.array(res1d), scale_factors[0], output_size[0], x[0], get_coeffs,
                                  roi=None if roi is None else [roi[0], roi[n]], exclude_outside=exclude_outside, **kw)

def interpolate_nd(data, get_coeffs, output_size=None, scale_factors=None, axes=None, roi=None,
                   keep_aspect_ratio_policy="stretch", exclude_outside=False, **kw):
    r = len(data.shape)
    if axes is not None:
        if scale_factors is not None:
            nsf = [1.0] * r
            for i, d in enumerate(axes):
                nsf[d] = scale_factors[i]
            scale_factors = nsf
        if output_size is not None:
            nos = [data.shape[i] for i in range(r)]
            for i, d in enumerate(axes):
                nos[d] = output_size[i]
            output_size = nos
        if roi is not None:
            new_roi = ([0.0] * r) + ([1.0] * r)
            naxes = len(axes)
            for i, d in enumerate(axes):
                new_roi[d] = roi[i]
                new_roi[r + d] = roi[naxes + i]
            roi = new_roi
    else:
        axes = list(range(r))
    if output_size is not None:
        scale_factors = [output_size[i] / data.shape[i] for i in range(r)]
        if keep_aspect_ratio_policy != "stretch":
            if keep_aspect_ratio_policy == "not_larger":
                scale = np.array(scale_factors)[axes].min()
            else:
                scale = np.array(scale_factors)[axes].max()
            scale_factors = [scale if i in axes else 1.0 for i in range(r)]
            output_size = [int(scale * data.shape[i] + 0.5) if i in axes else data.shape[i] for i in range(r)]
    else:
        output_size = (scale_factors * np.array(data.shape)).astype(int)
    ret = np.zeros(output_size, dtype=np.float64)
    for x in np.ndindex(*output_size):
        ret[x] = _interpolate_nd_with_x(data, len(data.shape), scale_factors, output_size, x, get_coeffs, roi=roi,
                                        exclude_outside=exclude_outside, **kw)
    return ret

def resize(X, roi=None, scales=None, sizes=None, antialias=0, axes=None, coordinate_transformation_mode="half_pixel",
           cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
           mode="nearest", nearest_mode="round_prefer_floor"):
    if mode == "nearest":
        fct = lambda x, s: _nearest_coeffs(x, mode=nearest_mode)
    elif mode == "cubic":
        f = _cubic_coeffs_antialias if antialias else _cubic_coeffs
        fct = lambda x, s: f(x, s, A=cubic_coeff_a)
    else:
        fct = _linear_coeffs_antialias if antialias else _linear_coeffs
    return interpolate_nd(X.astype(np.float64), fct, output_size=sizes, scale_factors=scales, axes=axes, roi=roi,
                          keep_aspect_ratio_policy=keep_aspect_ratio_policy, exclude_outside=exclude_outside,
                          coordinate_transformation_mode=coordinate_transformation_mode,
                          extrapolation_value=extrapolation_value).astype(X.dtype)
