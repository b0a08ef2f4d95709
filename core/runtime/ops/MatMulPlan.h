#pragma once
// Shape logic of numpy-style matmul (1-D promotion, broadcasting over leading dims), shared by
// MatMul, MatMulInteger and QLinearMatMul, and the zero-point subtraction of the integer ones.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/Node.h"
#include "model/Tensor.h"
#include "runtime/ops/OpUtil.h"
#include "util/Error.h"

namespace leger::ops {

/// How to compute A (..., M, K) x B (..., K, N) as `count` row-major products
/// C_i (rows, N) = A_i (rows, K) x B_i (K, N), with C_i stored back to back in the output.
struct MatMulPlan {
    Shape out;                    // output shape (1-D operands' unit dims removed)
    std::int64_t M = 0, N = 0, K = 0;
    std::int64_t rows = 0;        // rows of each product: M, or all of A's rows when B is unbatched
    std::int64_t count = 0;       // number of products
    std::vector<std::int64_t> aOff, bOff; // element offset of A_i and B_i
};

/// Fills plan for A and B of the given shapes; throws naming the node if they do not match.
/// Reuses plan's vectors, so a kernel can keep one plan across runs without allocating.
inline void planMatMul(const Shape& aShape, const Shape& bShape, const Node& node, MatMulPlan& plan)
{
    if (aShape.empty() || bShape.empty())
        throw Error(node.describe() + ": MatMul operands must have rank >= 1, got " + shapeToString(aShape) +
                    " and " + shapeToString(bShape));
    // 1-D promotion: A (K) -> (1, K), B (K) -> (K, 1); the unit dim is dropped from the output.
    const bool aVec = aShape.size() == 1, bVec = bShape.size() == 1;
    const std::int64_t M = aVec ? 1 : aShape[aShape.size() - 2];
    const std::int64_t K = aShape.back();
    const std::int64_t KB = bVec ? bShape[0] : bShape[bShape.size() - 2];
    const std::int64_t N = bVec ? 1 : bShape.back();
    if (K != KB)
        throw Error(node.describe() + ": cannot multiply " + shapeToString(aShape) + " by " + shapeToString(bShape) +
                    " (inner dimensions " + std::to_string(K) + " and " + std::to_string(KB) + " differ)");
    const Shape aBatch(aShape.begin(), aShape.end() - (aVec ? 1 : 2));
    const Shape bBatch(bShape.begin(), bShape.end() - (bVec ? 1 : 2));
    const Shape batch = broadcastShapes(aBatch, bBatch, node);
    plan.out = batch;
    if (!aVec)
        plan.out.push_back(M);
    if (!bVec)
        plan.out.push_back(N);
    plan.M = M;
    plan.N = N;
    plan.K = K;
    plan.aOff.clear();
    plan.bOff.clear();
    const std::int64_t batchCount = elementCount(batch);
    if (elementCount(bBatch) == 1) {
        // B is one matrix: A's batches are contiguous rows, so one product of
        // (batch*M, K) x (K, N) -> (batch*M, N) covers them all (output layout is the same).
        plan.rows = batchCount * M;
        plan.count = 1;
        plan.aOff.push_back(0);
        plan.bOff.push_back(0);
        return;
    }
    plan.rows = M;
    plan.count = batchCount;
    if (batchCount == 0)
        return;
    // Walk the broadcast batch index, advancing each operand's matrix offset by its batch stride
    // (0 on broadcast axes).
    auto aStr = broadcastStrides(aBatch, batch);
    auto bStr = broadcastStrides(bBatch, batch);
    for (auto& s : aStr)
        s *= M * K;
    for (auto& s : bStr)
        s *= K * N;
    std::vector<std::int64_t> idx(batch.size(), 0);
    std::int64_t ao = 0, bo = 0;
    for (std::int64_t i = 0; i < batchCount; ++i) {
        plan.aOff.push_back(ao);
        plan.bOff.push_back(bo);
        for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            ++idx[du];
            ao += aStr[du];
            bo += bStr[du];
            if (idx[du] < batch[du])
                break;
            ao -= aStr[du] * batch[du];
            bo -= bStr[du] * batch[du];
            idx[du] = 0;
        }
    }
}

/// dst (int32, shape of x) = x - zp, zp broadcast to x's shape. For A (isA), a 1-D zero point
/// of length M is per row: it is read as (M, 1).
inline void subtractZeroPoint(const Tensor& x, const Tensor* zp, bool isA, Tensor& dst, const Node& node)
{
    dst.resize(DType::Int32, x.shape());
    std::int32_t* d = dst.data<std::int32_t>();
    auto widen = [&](auto t) {
        using T = decltype(t);
        const T* s = x.data<T>();
        for (std::int64_t i = 0; i < x.size(); ++i)
            d[i] = s[i];
    };
    if (x.dtype() == DType::Int8)
        widen(std::int8_t{});
    else if (x.dtype() == DType::UInt8)
        widen(std::uint8_t{});
    else
        throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(x.dtype())) +
                               " is not supported (int8 and uint8 are)");
    if (!zp)
        return;
    if (zp->dtype() != x.dtype())
        throw Error(node.describe() + ": zero point type " + std::string(dtypeName(zp->dtype())) +
                    " differs from its input's " + std::string(dtypeName(x.dtype())));
    Shape zs = zp->shape();
    // A's per-row zero point is a vector over M: view it as (M, 1) so that it broadcasts over rows.
    if (isA && zs.size() == 1 && zs[0] != 1 && x.rank() >= 2)
        zs.push_back(1);
    if (broadcastShapes(x.shape(), zs, node) != x.shape())
        throw Error(node.describe() + ": zero point of shape " + shapeToString(zp->shape()) +
                    " does not broadcast to its input's shape " + shapeToString(x.shape()));
    const std::array<std::vector<std::int64_t>, 1> strides{broadcastStrides(zs, x.shape())};
    auto apply = [&](auto t) {
        using T = decltype(t);
        const T* z = zp->data<T>();
        forEachBroadcastRow<1>(x.shape(), strides,
                               [&](std::int64_t o, const auto& off, std::int64_t n, const auto& inner) {
            for (std::int64_t i = 0; i < n; ++i)
                d[o + i] -= z[off[0] + i * inner[0]];
        });
    };
    if (x.dtype() == DType::Int8)
        apply(std::int8_t{});
    else
        apply(std::uint8_t{});
}

} // namespace leger::ops
