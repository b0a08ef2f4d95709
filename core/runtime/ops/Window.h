#pragma once
// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: attribute
// parsing (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) and output shapes.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/Kernel.h"

namespace leger::ops {

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

/// Largest kernel, stride, dilation or pad accepted: keeps every index computation far
/// from int64 overflow whatever a hostile model says.
inline constexpr std::int64_t kMaxWindowValue = std::int64_t{1} << 30;

/// Floor division for a possibly negative numerator and a positive divisor.
inline std::int64_t floorDiv(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline std::int64_t ceilDiv(std::int64_t a, std::int64_t b) { return -floorDiv(-a, b); }

/// The i in [0, count) with i * stride + offset in [0, limit), as a half-open range.
struct IndexRange {
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    bool empty() const { return hi <= lo; }
};
inline IndexRange validRange(std::int64_t offset, std::int64_t stride, std::int64_t limit, std::int64_t count)
{
    IndexRange r;
    r.lo = std::clamp<std::int64_t>(ceilDiv(-offset, stride), 0, count);
    r.hi = std::clamp<std::int64_t>(floorDiv(limit - 1 - offset, stride) + 1, r.lo, count);
    return r;
}

/// The window attributes as written on the node; empty lists mean "use the default".
struct WindowAttrs {
    std::vector<std::int64_t> kernel;
    std::vector<std::int64_t> strides;
    std::vector<std::int64_t> dilations;
    std::vector<std::int64_t> pads; // begin values of every axis, then end values
    AutoPad autoPad = AutoPad::NotSet;
    bool ceilMode = false;

    static WindowAttrs parse(const KernelContext& ctx, bool withCeilMode, bool withDilations)
    {
        const Node& n = ctx.node;
        WindowAttrs a;
        a.kernel = n.attrInts("kernel_shape");
        a.strides = n.attrInts("strides");
        a.dilations = withDilations ? n.attrInts("dilations") : std::vector<std::int64_t>{};
        a.pads = n.attrInts("pads");
        const std::string pad = n.attrString("auto_pad", "NOTSET");
        if (pad == "NOTSET" || pad.empty())
            a.autoPad = AutoPad::NotSet;
        else if (pad == "SAME_UPPER")
            a.autoPad = AutoPad::SameUpper;
        else if (pad == "SAME_LOWER")
            a.autoPad = AutoPad::SameLower;
        else if (pad == "VALID")
            a.autoPad = AutoPad::Valid;
        else
            ctx.invalid("unknown auto_pad '" + pad + "'");
        a.ceilMode = withCeilMode && n.attrInt("ceil_mode", 0) != 0;
        auto check = [&](const std::vector<std::int64_t>& v, const char* name, std::int64_t minimum) {
            for (std::int64_t x : v)
                if (x < minimum || x > kMaxWindowValue)
                    ctx.invalid(std::string(name) + " value " + std::to_string(x) + " is out of range");
        };
        check(a.kernel, "kernel_shape", 1);
        check(a.strides, "strides", 1);
        check(a.dilations, "dilations", 1);
        check(a.pads, "pads", 0);
        if (!a.kernel.empty()) {
            const std::size_t r = a.kernel.size();
            if ((!a.strides.empty() && a.strides.size() != r) || (!a.dilations.empty() && a.dilations.size() != r) ||
                (!a.pads.empty() && a.pads.size() != 2 * r))
                ctx.invalid("kernel_shape, strides, dilations and pads disagree on the number of spatial axes");
        }
        return a;
    }
};

/// A window over up to three spatial axes. 1-D and 2-D windows are stored as 3-D ones with
/// leading axes of size 1 (kernel 1, stride 1, no padding) so one set of loops serves all.
struct Window {
    int rank = 0; // number of real spatial axes
    std::array<std::int64_t, 3> in{1, 1, 1};
    std::array<std::int64_t, 3> k{1, 1, 1};
    std::array<std::int64_t, 3> s{1, 1, 1};
    std::array<std::int64_t, 3> d{1, 1, 1};
    std::array<std::int64_t, 3> pb{0, 0, 0}; // padding before (may be negative for ConvTranspose)
    std::array<std::int64_t, 3> pe{0, 0, 0}; // padding after
    std::array<std::int64_t, 3> out{1, 1, 1};

    /// Sets every field of internal axis j.
    void setAxis(std::size_t j, std::int64_t in_, std::int64_t k_, std::int64_t s_, std::int64_t d_,
                 std::int64_t pb_, std::int64_t pe_, std::int64_t out_)
    {
        in[j] = in_;
        k[j] = k_;
        s[j] = s_;
        d[j] = d_;
        pb[j] = pb_;
        pe[j] = pe_;
        out[j] = out_;
    }

    std::int64_t inSize() const { return in[0] * in[1] * in[2]; }
    std::int64_t outSize() const { return out[0] * out[1] * out[2]; }
    std::int64_t kSize() const { return k[0] * k[1] * k[2]; }
    /// Output spatial shape of the real axes.
    std::vector<std::int64_t> outDims() const
    {
        return std::vector<std::int64_t>(out.begin() + (3 - rank), out.end());
    }
    bool unpadded() const
    {
        for (int i = 0; i < 3; ++i)
            if (pb[static_cast<std::size_t>(i)] != 0 || pe[static_cast<std::size_t>(i)] != 0)
                return false;
        return true;
    }
};

/// The window of a convolution or pooling over spatial dims inDims with kernel kDims.
/// Throws UnsupportedError beyond 3 spatial axes and Error (naming the node) for
/// inconsistent attributes or a window that does not fit the (padded) input.
inline Window convWindow(const Node& node, const WindowAttrs& a, std::span<const std::int64_t> inDims,
                         std::span<const std::int64_t> kDims)
{
    const int rank = static_cast<int>(inDims.size());
    const std::size_t r = inDims.size();
    if (rank < 1)
        throw Error(node.describe() + ": the input needs at least one spatial axis");
    if (rank > 3)
        throw UnsupportedError(node.describe() + ": " + std::to_string(rank) +
                               " spatial axes are not supported (at most 3)");
    if (kDims.size() != r || (!a.strides.empty() && a.strides.size() != r) ||
        (!a.dilations.empty() && a.dilations.size() != r) || (!a.pads.empty() && a.pads.size() != 2 * r))
        throw Error(node.describe() + ": the window attributes do not match the input's " + std::to_string(rank) +
                    " spatial axes");
    Window w;
    w.rank = rank;
    for (std::size_t i = 0; i < r; ++i) {
        const std::size_t j = 3 - r + i;
        const std::int64_t in = inDims[i];
        const std::int64_t k = kDims[i];
        if (k < 1 || k > kMaxWindowValue)
            throw Error(node.describe() + ": kernel size " + std::to_string(k) + " is out of range");
        const std::int64_t s = a.strides.empty() ? 1 : a.strides[i];
        const std::int64_t d = a.dilations.empty() ? 1 : a.dilations[i];
        const std::int64_t dk = (k - 1) * d + 1; // extent of the dilated kernel
        std::int64_t pb = 0;
        std::int64_t pe = 0;
        std::int64_t out = 0;
        switch (a.autoPad) {
        case AutoPad::NotSet:
            pb = a.pads.empty() ? 0 : a.pads[i];
            pe = a.pads.empty() ? 0 : a.pads[i + r];
            if (in + pb + pe < dk)
                break;
            if (a.ceilMode) {
                out = ceilDiv(in + pb + pe - dk, s) + 1;
                // A last window starting inside the end padding is dropped (as PyTorch and ORT do).
                if ((out - 1) * s >= in + pb)
                    --out;
            } else {
                out = (in + pb + pe - dk) / s + 1;
            }
            break;
        case AutoPad::Valid:
            if (in >= dk)
                out = (in - dk) / s + 1;
            break;
        case AutoPad::SameUpper:
        case AutoPad::SameLower: {
            out = ceilDiv(in, s);
            const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * s + dk - in);
            pb = a.autoPad == AutoPad::SameUpper ? total / 2 : total - total / 2;
            pe = total - pb;
            break;
        }
        }
        if (out < 1)
            throw Error(node.describe() + ": kernel extent " + std::to_string(dk) + " does not fit input size " +
                        std::to_string(in) + " with pads " + std::to_string(pb) + "+" + std::to_string(pe));
        w.setAxis(j, in, k, s, d, pb, pe, out);
    }
    return w;
}

} // namespace leger::ops
