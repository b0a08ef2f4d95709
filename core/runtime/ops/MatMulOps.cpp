// Gemm, MatMul, MatMulInteger and Einsum. Floating-point products go through OpenBLAS
// (ops::gemm), integer ones through a plain loop (ops::matmulRows).

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include "runtime/OpRegistry.h"
#include "runtime/ops/Blas.h"
#include "runtime/ops/MatMulPlan.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

namespace {

using ops::MatMulPlan;

bool isHalfType(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

/// dst (float) = src (float16 or bfloat16), same shape; dst keeps its allocation across runs.
void widenToFloat(const Tensor& src, Tensor& dst)
{
    dst.resize(DType::Float32, src.shape());
    float* d = dst.data<float>();
    if (src.dtype() == DType::Float16) {
        const Half* s = src.data<Half>();
        for (std::int64_t i = 0; i < src.size(); ++i)
            d[i] = s[i].toFloat();
    } else {
        const BFloat16* s = src.data<BFloat16>();
        for (std::int64_t i = 0; i < src.size(); ++i)
            d[i] = s[i].toFloat();
    }
}

/// dst (dtype: float16 or bfloat16) = src (float), rounded to nearest even.
void narrowFromFloat(const Tensor& src, DType dtype, Tensor& dst)
{
    dst.resize(dtype, src.shape());
    const float* s = src.data<float>();
    if (dtype == DType::Float16) {
        Half* d = dst.data<Half>();
        for (std::int64_t i = 0; i < src.size(); ++i)
            d[i] = Half::fromFloat(s[i]);
    } else {
        BFloat16* d = dst.data<BFloat16>();
        for (std::int64_t i = 0; i < src.size(); ++i)
            d[i] = BFloat16::fromFloat(s[i]);
    }
}

void requireSameType(const Tensor& a, const Tensor& b, const Node& node)
{
    if (a.dtype() != b.dtype())
        throw Error(node.describe() + ": operands have different element types (" + std::string(dtypeName(a.dtype())) +
                    " and " + std::string(dtypeName(b.dtype())) + ")");
}

/// Runs the products of a plan: C_i (rows, N) = A_i (rows, K) x B_i (K, N).
template <class T> void runPlan(const MatMulPlan& plan, const T* a, const T* b, T* c)
{
    for (std::int64_t i = 0; i < plan.count; ++i)
        ops::matmulRows<T>(plan.rows, plan.N, plan.K, a + plan.aOff[static_cast<std::size_t>(i)], plan.K,
                           b + plan.bOff[static_cast<std::size_t>(i)], plan.N, c + i * plan.rows * plan.N, plan.N);
}

// ---------------------------------------------------------------------------------------------
// Gemm: Y (M, N) = alpha * A' (M, K) * B' (K, N) + beta * C, C broadcast to (M, N).

/// Checks that C broadcasts (unidirectionally) to (M, N) and returns its strides in that view.
std::array<std::int64_t, 2> gemmBiasStrides(const Tensor& c, std::int64_t M, std::int64_t N, bool strict,
                                            const Node& node)
{
    const Shape& s = c.shape();
    bool ok = s.size() <= 2;
    const std::int64_t cm = s.size() == 2 ? s[0] : 1;
    const std::int64_t cn = s.empty() ? 1 : s.back();
    ok = ok && (cm == M || cm == 1) && (cn == N || cn == 1);
    if (strict)
        ok = ok && s.size() == 2 && cm == M && cn == N;
    if (!ok)
        throw Error(node.describe() + ": bias C of shape " + shapeToString(s) + " does not broadcast to [" +
                    std::to_string(M) + ", " + std::to_string(N) + "]" +
                    (strict ? " (broadcast=0 needs the exact shape)" : ""));
    return {cm == 1 ? 0 : cn, cn == 1 ? 0 : 1};
}

struct GemmAttrs {
    bool transA = false, transB = false;
    float alpha = 1, beta = 1;
    bool strictBias = false; // opset < 7 without broadcast=1: C must be (M, N)
};

template <class T>
void gemmFloat(const GemmAttrs& at, const Tensor& A, const Tensor& B, const Tensor* C, std::int64_t M,
               std::int64_t N, std::int64_t K, Tensor& Y, const Node& node)
{
    T* y = Y.data<T>();
    T beta = T(0);
    if (C && at.beta != 0.0f) {
        // Y = beta * C first, then the product accumulates onto it (BLAS beta = 1).
        const auto [sm, sn] = gemmBiasStrides(*C, M, N, at.strictBias, node);
        const T* c = C->data<T>();
        const T b = static_cast<T>(at.beta);
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = 0; j < N; ++j)
                y[i * N + j] = b * c[i * sm + j * sn];
        beta = T(1);
    }
    // A' (M, K) x B' (K, N) -> (M, N); stored A is (K, M) if transposed, B is (N, K) if transposed.
    ops::gemm<T>(at.transA, at.transB, M, N, K, static_cast<T>(at.alpha), A.data<T>(), at.transA ? M : K,
                 B.data<T>(), at.transB ? K : N, beta, y, N);
}

template <class T>
void gemmInteger(const GemmAttrs& at, const Tensor& A, const Tensor& B, const Tensor* C, std::int64_t M,
                 std::int64_t N, std::int64_t K, Tensor& Y, const Node& node)
{
    // Integer Gemm: wrap-around arithmetic in uint64 (see ops::matmulRows), alpha/beta truncated.
    const T* a = A.data<T>();
    const T* b = B.data<T>();
    T* y = Y.data<T>();
    const auto u = [](auto v) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)); };
    const std::uint64_t alpha = u(static_cast<std::int64_t>(at.alpha));
    const std::uint64_t beta = u(static_cast<std::int64_t>(at.beta));
    std::array<std::int64_t, 2> cs{};
    if (C)
        cs = gemmBiasStrides(*C, M, N, at.strictBias, node);
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j) {
            std::uint64_t acc = 0;
            for (std::int64_t k = 0; k < K; ++k) {
                const T av = at.transA ? a[k * M + i] : a[i * K + k];
                const T bv = at.transB ? b[j * K + k] : b[k * N + j];
                acc += u(av) * u(bv);
            }
            acc *= alpha;
            if (C)
                acc += beta * u(C->data<T>()[i * cs[0] + j * cs[1]]);
            y[i * N + j] = static_cast<T>(acc);
        }
}

Kernel makeGemm(const KernelContext& ctx)
{
    GemmAttrs at;
    at.transA = ctx.node.attrInt("transA", 0) != 0;
    at.transB = ctx.node.attrInt("transB", 0) != 0;
    at.alpha = ctx.node.attrFloat("alpha", 1.0f);
    at.beta = ctx.node.attrFloat("beta", 1.0f);
    at.strictBias = ctx.opset < 7 && ctx.node.attrInt("broadcast", 0) == 0;
    return [at, a32 = Tensor(), b32 = Tensor(), c32 = Tensor(), y32 = Tensor()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& A = args.input(0);
        const Tensor& B = args.input(1);
        const Tensor* C = args.optionalInput(2);
        requireSameType(A, B, node);
        if (C)
            requireSameType(A, *C, node);
        if (A.rank() != 2 || B.rank() != 2)
            throw Error(node.describe() + ": A and B must be matrices, got " + shapeToString(A.shape()) + " and " +
                        shapeToString(B.shape()));
        const std::int64_t M = at.transA ? A.dim(1) : A.dim(0);
        const std::int64_t K = at.transA ? A.dim(0) : A.dim(1);
        const std::int64_t KB = at.transB ? B.dim(1) : B.dim(0);
        const std::int64_t N = at.transB ? B.dim(0) : B.dim(1);
        if (K != KB)
            throw Error(node.describe() + ": inner dimensions differ: A' is [" + std::to_string(M) + ", " +
                        std::to_string(K) + "], B' is [" + std::to_string(KB) + ", " + std::to_string(N) + "]");
        Tensor& Y = args.output(0);
        if (isHalfType(A.dtype())) {
            // 16-bit floats: compute in float32 and round once at the end.
            widenToFloat(A, a32);
            widenToFloat(B, b32);
            if (C)
                widenToFloat(*C, c32);
            y32.resize(DType::Float32, {M, N});
            gemmFloat<float>(at, a32, b32, C ? &c32 : nullptr, M, N, K, y32, node);
            narrowFromFloat(y32, A.dtype(), Y);
            return;
        }
        Y.resize(A.dtype(), {M, N});
        ops::dispatchNumeric(
            A.dtype(),
            [&](auto t) {
                using T = decltype(t);
                if constexpr (std::is_floating_point_v<T>)
                    gemmFloat<T>(at, A, B, C, M, N, K, Y, node);
                else
                    gemmInteger<T>(at, A, B, C, M, N, K, Y, node);
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// MatMul: numpy matmul.

Kernel makeMatMul(const KernelContext&)
{
    return [plan = MatMulPlan(), a32 = Tensor(), b32 = Tensor(), y32 = Tensor()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& A = args.input(0);
        const Tensor& B = args.input(1);
        requireSameType(A, B, node);
        ops::planMatMul(A.shape(), B.shape(), node, plan);
        Tensor& Y = args.output(0);
        if (isHalfType(A.dtype())) {
            widenToFloat(A, a32);
            widenToFloat(B, b32);
            y32.resize(DType::Float32, plan.out);
            runPlan<float>(plan, a32.data<float>(), b32.data<float>(), y32.data<float>());
            narrowFromFloat(y32, A.dtype(), Y);
            return;
        }
        Y.resize(A.dtype(), plan.out);
        ops::dispatchNumeric(
            A.dtype(),
            [&](auto t) {
                using T = decltype(t);
                runPlan<T>(plan, A.data<T>(), B.data<T>(), Y.data<T>());
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// MatMulInteger: int32 Y = (A - a_zero_point) x (B - b_zero_point), A/B int8 or uint8.

Kernel makeMatMulInteger(const KernelContext&)
{
    return [plan = MatMulPlan(), a32 = Tensor(), b32 = Tensor()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& A = args.input(0);
        const Tensor& B = args.input(1);
        ops::planMatMul(A.shape(), B.shape(), node, plan);
        ops::subtractZeroPoint(A, args.optionalInput(2), true, a32, node);
        ops::subtractZeroPoint(B, args.optionalInput(3), false, b32, node);
        Tensor& Y = args.output(0);
        Y.resize(DType::Int32, plan.out);
        runPlan<std::int32_t>(plan, a32.data<std::int32_t>(), b32.data<std::int32_t>(), Y.data<std::int32_t>());
    };
}

// ---------------------------------------------------------------------------------------------
// Einsum. Each operand becomes a strided view with one stride per distinct label (repeated
// labels add their strides: a diagonal; size-1 dims broadcast with stride 0). Operands are
// contracted left to right: both are packed into (batch, M, K) and (batch, K, N) layouts,
// summing labels nothing else needs on the way, and multiplied with BLAS.

constexpr int kEllipsisLabel = 1000; // ellipsis dims get labels kEllipsisLabel + i

struct EinsumEquation {
    std::vector<std::vector<int>> inputs; // labels of each operand (ellipsis as "..." marker -1)
    std::vector<int> output;              // explicit output (with -1 for "..."), if hasOutput
    bool hasOutput = false;
};

EinsumEquation parseEinsum(const std::string& text, const KernelContext& ctx)
{
    std::string eq;
    for (char c : text)
        if (c != ' ' && c != '\t' && c != '\n')
            eq += c;
    EinsumEquation e;
    auto parseTerm = [&](const std::string& term) {
        std::vector<int> labels;
        bool ellipsis = false;
        for (std::size_t i = 0; i < term.size(); ++i) {
            const char c = term[i];
            if (c == '.') {
                if (term.compare(i, 3, "...") != 0 || ellipsis)
                    ctx.invalid("malformed equation '" + text + "'");
                ellipsis = true;
                labels.push_back(-1);
                i += 2;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                labels.push_back(c);
            } else {
                ctx.invalid("malformed equation '" + text + "'");
            }
        }
        return labels;
    };
    const auto arrow = eq.find("->");
    const std::string lhs = eq.substr(0, arrow);
    std::size_t start = 0;
    while (true) {
        const auto comma = lhs.find(',', start);
        const std::size_t len = comma == std::string::npos ? std::string::npos : comma - start;
        e.inputs.push_back(parseTerm(lhs.substr(start, len)));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    if (arrow != std::string::npos) {
        e.hasOutput = true;
        e.output = parseTerm(eq.substr(arrow + 2));
        std::vector<int> sorted = e.output;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
            ctx.invalid("equation '" + text + "' repeats an output label");
    }
    return e;
}

/// An operand as a strided view over its data, one entry per distinct label.
struct EinsumView {
    std::vector<int> labels;
    std::vector<std::int64_t> strides;
};

/// dst (contiguous over keep dims, row-major) = sum over the sum dims of src, both given as
/// (size, stride) lists into src.
template <class T>
void stridedSum(const T* src, const std::vector<std::int64_t>& keepSize, const std::vector<std::int64_t>& keepStride,
                const std::vector<std::int64_t>& sumSize, const std::vector<std::int64_t>& sumStride, T* dst)
{
    const std::int64_t keepCount = elementCount(keepSize);
    const std::int64_t sumCount = elementCount(sumSize);
    if (keepCount == 0)
        return;
    std::vector<std::int64_t> kIdx(keepSize.size(), 0), sIdx(sumSize.size(), 0);
    auto advance = [](std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& size,
                      const std::vector<std::int64_t>& stride, std::int64_t& off) {
        for (int d = static_cast<int>(size.size()) - 1; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            ++idx[du];
            off += stride[du];
            if (idx[du] < size[du])
                return;
            off -= stride[du] * size[du];
            idx[du] = 0;
        }
    };
    std::int64_t kOff = 0;
    for (std::int64_t i = 0; i < keepCount; ++i) {
        if (sumSize.empty()) {
            dst[i] = src[kOff];
        } else {
            T acc = T(0);
            std::int64_t sOff = 0;
            for (std::int64_t j = 0; j < sumCount; ++j) {
                acc += src[kOff + sOff];
                advance(sIdx, sumSize, sumStride, sOff);
            }
            dst[i] = acc;
        }
        advance(kIdx, keepSize, keepStride, kOff);
    }
}

class EinsumKernel {
public:
    explicit EinsumKernel(const KernelContext& ctx) : eq_(parseEinsum(ctx.node.attrString("equation"), ctx))
    {
        if (eq_.inputs.size() != ctx.node.inputs.size())
            ctx.invalid("equation '" + ctx.node.attrString("equation") + "' has " + std::to_string(eq_.inputs.size()) +
                        " operands but the node has " + std::to_string(ctx.node.inputs.size()) + " inputs");
    }

    void operator()(KernelArgs& args)
    {
        const Node& node = args.node();
        const std::size_t n = eq_.inputs.size();
        const Tensor& first = args.input(0);
        for (std::size_t i = 1; i < n; ++i)
            requireSameType(first, args.input(i), node);
        ops::dispatchNumeric(
            first.dtype(), [&](auto t) { run<decltype(t)>(args); }, node);
    }

private:
    template <class T> void run(KernelArgs& args)
    {
        const Node& node = args.node();
        const std::size_t n = eq_.inputs.size();
        auto bad = [&](const std::string& what) {
            throw Error(node.describe() + ": equation '" + node.attrString("equation") + "': " + what);
        };

        // Expand ellipses against the operands' ranks; right-aligned ellipsis dims share labels.
        std::vector<std::vector<int>> terms(n);
        int ellipsisRank = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& lab = eq_.inputs[i];
            const int letters = static_cast<int>(std::count_if(lab.begin(), lab.end(), [](int l) { return l >= 0; }));
            const bool hasEllipsis = letters != static_cast<int>(lab.size());
            const int rank = args.input(i).rank();
            if (hasEllipsis ? rank < letters : rank != letters)
                bad("operand " + std::to_string(i) + " has rank " + std::to_string(rank));
            ellipsisRank = std::max(ellipsisRank, rank - letters);
        }
        for (std::size_t i = 0; i < n; ++i) {
            const int rank = args.input(i).rank();
            const int letters = static_cast<int>(std::count_if(eq_.inputs[i].begin(), eq_.inputs[i].end(),
                                                               [](int l) { return l >= 0; }));
            for (int l : eq_.inputs[i]) {
                if (l >= 0) {
                    terms[i].push_back(l);
                    continue;
                }
                const int ne = rank - letters;
                for (int j = 0; j < ne; ++j)
                    terms[i].push_back(kEllipsisLabel + ellipsisRank - ne + j);
            }
        }

        // Size of each label; a size-1 dim broadcasts against a larger one.
        std::map<int, std::int64_t> size;
        std::map<int, int> occurrences;
        for (std::size_t i = 0; i < n; ++i) {
            const Shape& s = args.input(i).shape();
            for (std::size_t d = 0; d < s.size(); ++d) {
                const int l = terms[i][d];
                ++occurrences[l];
                auto [it, inserted] = size.emplace(l, s[d]);
                if (!inserted && it->second != s[d]) {
                    if (it->second == 1)
                        it->second = s[d];
                    else if (s[d] != 1)
                        bad("label sizes " + std::to_string(it->second) + " and " + std::to_string(s[d]) + " differ");
                }
            }
        }

        // Output labels: explicit, or (implicit mode) ellipsis dims then labels used exactly once, sorted.
        std::vector<int> out;
        if (eq_.hasOutput) {
            // As numpy: dims under an input's "..." cannot be summed away implicitly.
            if (ellipsisRank > 0 && std::find(eq_.output.begin(), eq_.output.end(), -1) == eq_.output.end())
                bad("the output needs '...' for the inputs' ellipsis dims");
            for (int l : eq_.output) {
                if (l >= 0) {
                    if (!size.count(l))
                        bad("output label '" + std::string(1, static_cast<char>(l)) + "' is not an input label");
                    out.push_back(l);
                } else {
                    for (int j = 0; j < ellipsisRank; ++j)
                        out.push_back(kEllipsisLabel + j);
                }
            }
        } else {
            for (int j = 0; j < ellipsisRank; ++j)
                out.push_back(kEllipsisLabel + j);
            for (const auto& [l, c] : occurrences)
                if (l < kEllipsisLabel && c == 1)
                    out.push_back(l);
        }
        for (int l : out)
            if (l >= kEllipsisLabel && !size.count(l))
                size[l] = 1; // an ellipsis dim no operand has (only possible with rank-0 ellipses)

        // Views of the inputs.
        std::vector<EinsumView> views(n);
        for (std::size_t i = 0; i < n; ++i) {
            const Tensor& x = args.input(i);
            const auto st = ops::stridesOf(x.shape());
            for (std::size_t d = 0; d < terms[i].size(); ++d) {
                const int l = terms[i][d];
                const std::int64_t stride = x.shape()[d] == 1 ? 0 : st[d];
                auto it = std::find(views[i].labels.begin(), views[i].labels.end(), l);
                if (it == views[i].labels.end()) {
                    views[i].labels.push_back(l);
                    views[i].strides.push_back(stride);
                } else {
                    if (x.shape()[d] != size[l])
                        bad("repeated label '" + std::string(1, static_cast<char>(l)) + "' has different sizes");
                    views[i].strides[static_cast<std::size_t>(it - views[i].labels.begin())] += stride;
                }
            }
        }

        Tensor& Y = args.output(0);
        Shape outShape;
        for (int l : out)
            outShape.push_back(size[l]);
        Y.resize(dtypeOf<T>(), outShape);

        // Left fold: cur = cur (x) operand i, keeping the labels the output or later operands use.
        const T* curData = args.input(0).template data<T>();
        EinsumView cur = views[0];
        int resultSlot = 0;
        for (std::size_t i = 1; i < n; ++i) {
            std::vector<int> needed = out;
            for (std::size_t j = i + 1; j < n; ++j)
                needed.insert(needed.end(), views[j].labels.begin(), views[j].labels.end());
            auto has = [](const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); };
            const EinsumView& other = views[i];
            std::vector<int> batchL, mL, kL, nL;
            for (int l : cur.labels) {
                if (has(other.labels, l))
                    (has(needed, l) ? batchL : kL).push_back(l);
                else if (has(needed, l))
                    mL.push_back(l);
            }
            for (int l : other.labels)
                if (!has(cur.labels, l) && has(needed, l))
                    nL.push_back(l);
            auto product = [&](const std::vector<int>& ls) {
                std::int64_t p = 1;
                for (int l : ls)
                    p *= size[l];
                return p;
            };
            const std::int64_t nb = product(batchL), m = product(mL), k = product(kL), nn = product(nL);
            // A: (batch, M, K)   B: (batch, K, N)   -> C: (batch, M, N)
            std::vector<int> aOrder = batchL, bOrder = batchL;
            aOrder.insert(aOrder.end(), mL.begin(), mL.end());
            aOrder.insert(aOrder.end(), kL.begin(), kL.end());
            bOrder.insert(bOrder.end(), kL.begin(), kL.end());
            bOrder.insert(bOrder.end(), nL.begin(), nL.end());
            pack(curData, cur, aOrder, size, packA_);
            pack(args.input(i).template data<T>(), other, bOrder, size, packB_);
            Tensor& res = result_[resultSlot];
            resultSlot ^= 1;
            res.resize(dtypeOf<T>(), {nb * m * nn});
            const T* a = packA_.data<T>();
            const T* b = packB_.data<T>();
            T* c = res.data<T>();
            for (std::int64_t bi = 0; bi < nb; ++bi)
                ops::matmulRows<T>(m, nn, k, a + bi * m * k, k, b + bi * k * nn, nn, c + bi * m * nn, nn);
            cur.labels = batchL;
            cur.labels.insert(cur.labels.end(), mL.begin(), mL.end());
            cur.labels.insert(cur.labels.end(), nL.begin(), nL.end());
            Shape cs;
            for (int l : cur.labels)
                cs.push_back(size[l]);
            cur.strides = ops::stridesOf(cs);
            for (std::size_t d = 0; d < cs.size(); ++d)
                if (cs[d] == 1)
                    cur.strides[d] = 0;
            curData = c;
        }
        // Final permutation (and, for a single operand, the summation) into the output.
        pack(curData, cur, out, size, Y);
    }

    /// dst = src viewed with labels in `order` (contiguous), summing src's other labels.
    template <class T>
    static void pack(const T* src, const EinsumView& view, const std::vector<int>& order,
                     const std::map<int, std::int64_t>& size, Tensor& dst)
    {
        std::vector<std::int64_t> keepSize, keepStride, sumSize, sumStride;
        for (int l : order) {
            keepSize.push_back(size.at(l));
            auto it = std::find(view.labels.begin(), view.labels.end(), l);
            // A label the view lacks (only ellipsis padding) is a broadcast dim.
            const auto pos = static_cast<std::size_t>(it - view.labels.begin());
            keepStride.push_back(it == view.labels.end() ? 0 : view.strides[pos]);
        }
        for (std::size_t d = 0; d < view.labels.size(); ++d)
            if (std::find(order.begin(), order.end(), view.labels[d]) == order.end()) {
                sumSize.push_back(size.at(view.labels[d]));
                sumStride.push_back(view.strides[d]);
            }
        if (dst.dtype() != dtypeOf<T>() || elementCount(dst.shape()) != elementCount(keepSize))
            dst.resize(dtypeOf<T>(), {elementCount(keepSize)});
        stridedSum<T>(src, keepSize, keepStride, sumSize, sumStride, dst.data<T>());
    }

    EinsumEquation eq_;
    Tensor packA_, packB_;
    Tensor result_[2];
};

Kernel makeEinsum(const KernelContext& ctx) { return EinsumKernel(ctx); }

} // namespace

void registerMatMulOps(OpRegistry& r)
{
    r.add("Gemm", 1, makeGemm);
    r.add("MatMul", 1, makeMatMul);
    r.add("MatMulInteger", 10, makeMatMulInteger);
    r.add("Einsum", 12, makeEinsum);
}

} // namespace leger
