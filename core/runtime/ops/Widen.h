#pragma once
// 16-bit float tensors (float16, bfloat16) are computed in float32 by the float-only
// kernels (Conv, pools, normalizations, Resize): widen the inputs, run, narrow the result.

#include "model/Tensor.h"

namespace leger::ops {

inline bool isHalfFloat(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

/// A float32 copy of a float16/bfloat16 tensor.
inline Tensor widenToFloat(const Tensor& t)
{
    Tensor out(DType::Float32, t.shape());
    float* o = out.data<float>();
    if (t.dtype() == DType::Float16) {
        const Half* s = t.data<Half>();
        for (std::int64_t i = 0; i < t.size(); ++i)
            o[i] = s[i].toFloat();
    } else {
        const BFloat16* s = t.data<BFloat16>();
        for (std::int64_t i = 0; i < t.size(); ++i)
            o[i] = s[i].toFloat();
    }
    return out;
}

/// out = f (float32) rounded to dtype (float16 or bfloat16).
inline void narrowFromFloat(const Tensor& f, DType dtype, Tensor& out)
{
    out.resize(dtype, f.shape());
    const float* s = f.data<float>();
    if (dtype == DType::Float16) {
        Half* o = out.data<Half>();
        for (std::int64_t i = 0; i < f.size(); ++i)
            o[i] = Half::fromFloat(s[i]);
    } else {
        BFloat16* o = out.data<BFloat16>();
        for (std::int64_t i = 0; i < f.size(); ++i)
            o[i] = BFloat16::fromFloat(s[i]);
    }
}

} // namespace leger::ops
