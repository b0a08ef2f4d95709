// If, Loop and Scan. Bodies are compiled once, at prepare time, into their own Executors
// (ctx.compileSubgraph) whose extra inputs are the outer-scope values the body reads; the
// executor passes those to this node after its own inputs (ctx.implicitInputs). Sequence- and
// optional-typed values are not supported by the runtime.

#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include "runtime/Executor.h"
#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

namespace {


/// A compiled body and where its outer-scope inputs are among the node's implicit inputs.
struct Body {
    const Graph* graph = nullptr;
    std::shared_ptr<Executor> exec;
    std::vector<std::size_t> outer; // kernel input index of each outer-scope input of exec

    /// Appends the outer-scope inputs to ins (after the body's own).
    void appendOuter(const KernelArgs& args, std::vector<const Tensor*>& ins) const
    {
        for (std::size_t k : outer)
            ins.push_back(&args.input(k));
    }
};

Body compileBody(const KernelContext& ctx, const char* attr)
{
    Body b;
    b.graph = ctx.node.attrGraph(attr);
    if (!b.graph)
        ctx.invalid(std::string("missing graph attribute '") + attr + "'");
    for (const auto& v : b.graph->inputs)
        if (!v.isTensor)
            ctx.unsupported("sequence- or optional-typed body input '" + v.name + "'");
    for (const auto& v : b.graph->outputs)
        if (!v.isTensor)
            ctx.unsupported("sequence- or optional-typed body output '" + v.name + "'");
    const std::set<std::string> free = b.graph->outerNames();
    const std::vector<std::string> names(free.begin(), free.end());
    for (const auto& name : names) {
        std::size_t k = 0;
        while (k < ctx.implicitInputs.size() && ctx.implicitInputs[k] != name)
            ++k;
        if (k == ctx.implicitInputs.size())
            ctx.invalid("body '" + std::string(attr) + "' reads '" + name + "', which the node does not provide");
        b.outer.push_back(ctx.node.inputs.size() + k);
    }
    b.exec = ctx.compileSubgraph(*b.graph, names);
    return b;
}

bool scalarTruth(const Tensor& t, const Node& node, const char* what)
{
    if (t.size() != 1)
        throw Error(node.describe() + ": " + what + " must have one element, got shape " + shapeToString(t.shape()));
    return t.at(0) != 0;
}

void requireCopyable(const Tensor& t, const Node& node)
{
    if (t.dtype() == DType::String || t.dtype() == DType::Undefined)
        throw UnsupportedError(node.describe() + ": scanning " + std::string(dtypeName(t.dtype())) +
                               " tensors is not supported");
}

// ---------------------------------------------------------------------------------------------
// If

Kernel makeIf(const KernelContext& ctx)
{
    Body thenB = compileBody(ctx, "then_branch");
    Body elseB = compileBody(ctx, "else_branch");
    for (const Body* b : {&thenB, &elseB})
        if (b->exec->outputNames().size() < ctx.node.outputs.size())
            ctx.invalid("a branch has " + std::to_string(b->exec->outputNames().size()) + " outputs for " +
                        std::to_string(ctx.node.outputs.size()) + " node outputs");
    return [thenB, elseB, ins = std::vector<const Tensor*>()](KernelArgs& args) mutable {
        const Body& b = scalarTruth(args.input(0), args.node(), "cond") ? thenB : elseB;
        ins.clear();
        b.appendOuter(args, ins);
        b.exec->run(ins);
        for (std::size_t i = 0; i < args.outputCount(); ++i)
            if (args.wantsOutput(i))
                args.output(i) = b.exec->output(i); // copy: the branch's buffers are reused next run
    };
}

// ---------------------------------------------------------------------------------------------
// Loop

/// Per-iteration outputs stacked along a new leading axis (Loop) as raw bytes.
struct ScanStack {
    DType dtype = DType::Undefined;
    Shape shape; // of one iteration's value
    std::vector<std::byte> bytes;
    std::int64_t count = 0;

    void clear()
    {
        bytes.clear();
        count = 0;
    }
    void append(const Tensor& t, const Node& node)
    {
        requireCopyable(t, node);
        if (count == 0) {
            dtype = t.dtype();
            shape = t.shape();
        } else if (t.dtype() != dtype || t.shape() != shape) {
            throw Error(node.describe() + ": scan output changes from " + shapeToString(shape) + " to " +
                        shapeToString(t.shape()) + " between iterations");
        }
        const auto* p = t.raw();
        bytes.insert(bytes.end(), p, p + t.byteSize());
        ++count;
    }
};

class LoopKernel {
public:
    explicit LoopKernel(const KernelContext& ctx) : body_(compileBody(ctx, "body"))
    {
        const Node& node = ctx.node;
        if (node.inputs.size() < 2)
            ctx.invalid("needs the M and cond inputs (which may be empty names)");
        carried_ = node.inputs.size() - 2;
        if (body_.graph->inputs.size() != carried_ + 2)
            ctx.invalid("body has " + std::to_string(body_.graph->inputs.size()) + " inputs, expected " +
                        std::to_string(carried_ + 2));
        if (body_.graph->outputs.size() < carried_ + 1)
            ctx.invalid("body has too few outputs");
        scans_ = body_.graph->outputs.size() - 1 - carried_;
        if (node.outputs.size() > carried_ + scans_)
            ctx.invalid("has more outputs than the body produces");
        iter_.resize(DType::Int64, {});
        cond_.resize(DType::Bool, {});
        stacks_.resize(scans_);
        for (auto& s : state_)
            s.resize(carried_);
    }

    void operator()(KernelArgs& args)
    {
        const Node& node = args.node();
        std::int64_t maxTrip = std::numeric_limits<std::int64_t>::max();
        if (args.hasInput(0)) {
            // Through int64, not double: M is often INT64_MAX ("no limit").
            const Tensor& m = args.input(0);
            if (m.size() != 1)
                throw Error(node.describe() + ": M must have one element, got shape " + shapeToString(m.shape()));
            maxTrip = m.toInt64Vector()[0];
        }
        bool cond = args.hasInput(1) ? scalarTruth(args.input(1), node, "cond") : true;
        cur_.assign(carried_, nullptr);
        for (std::size_t j = 0; j < carried_; ++j)
            cur_[j] = &args.input(2 + j);
        for (auto& s : stacks_)
            s.clear();
        int parity = 0;
        std::int64_t i = 0;
        for (; i < maxTrip && cond; ++i) {
            iter_.data<std::int64_t>()[0] = i;
            cond_.data<bool>()[0] = cond;
            ins_.clear();
            ins_.push_back(&iter_);
            ins_.push_back(&cond_);
            ins_.insert(ins_.end(), cur_.begin(), cur_.end());
            body_.appendOuter(args, ins_);
            body_.exec->run(ins_);
            cond = scalarTruth(body_.exec->output(0), node, "the body's condition");
            // Copy carried values out of the body's buffers, which the next run overwrites. Two
            // sets alternate so that this iteration's inputs stay intact while they are copied.
            auto& next = state_[parity];
            for (std::size_t j = 0; j < carried_; ++j) {
                next[j] = body_.exec->output(1 + j);
                cur_[j] = &next[j];
            }
            parity ^= 1;
            for (std::size_t k = 0; k < scans_; ++k)
                stacks_[k].append(body_.exec->output(1 + carried_ + k), node);
        }
        for (std::size_t j = 0; j < carried_ && j < args.outputCount(); ++j)
            if (args.wantsOutput(j))
                args.output(j) = *cur_[j];
        for (std::size_t k = 0; k < scans_ && carried_ + k < args.outputCount(); ++k) {
            if (!args.wantsOutput(carried_ + k))
                continue;
            const ScanStack& s = stacks_[k];
            Tensor& out = args.output(carried_ + k);
            if (s.count == 0) {
                // No iteration ran: an empty stack typed and shaped as the body declares.
                const ValueInfo& info = body_.graph->outputs[1 + carried_ + k];
                Shape shape{0};
                bool known = info.hasShape;
                for (auto d : info.dims)
                    known = known && d >= 0;
                if (known)
                    shape.insert(shape.end(), info.dims.begin(), info.dims.end());
                out.resize(info.dtype == DType::Undefined ? DType::Float32 : info.dtype, shape);
                continue;
            }
            Shape shape{s.count};
            shape.insert(shape.end(), s.shape.begin(), s.shape.end());
            out.resize(s.dtype, shape);
            if (!s.bytes.empty())
                std::memcpy(out.raw(), s.bytes.data(), s.bytes.size());
        }
    }

private:
    Body body_;
    std::size_t carried_ = 0, scans_ = 0;
    Tensor iter_, cond_;
    std::vector<Tensor> state_[2];
    std::vector<const Tensor*> cur_, ins_;
    std::vector<ScanStack> stacks_;
};

// ---------------------------------------------------------------------------------------------
// Scan

/// dst = src[..., index, ...] along axis (dst has src's shape without that axis).
void sliceAxis(const Tensor& src, int axis, std::int64_t index, Tensor& dst)
{
    Shape shape = src.shape();
    const std::int64_t len = shape[static_cast<std::size_t>(axis)];
    shape.erase(shape.begin() + axis);
    dst.resize(src.dtype(), shape);
    std::int64_t outer = 1;
    for (int d = 0; d < axis; ++d)
        outer *= src.dim(d);
    const std::size_t innerBytes = static_cast<std::size_t>(elementCount(shape) / std::max<std::int64_t>(outer, 1)) *
                                   dtypeSize(src.dtype());
    if (innerBytes == 0)
        return;
    for (std::int64_t o = 0; o < outer; ++o)
        std::memcpy(dst.raw() + static_cast<std::size_t>(o) * innerBytes,
                    src.raw() + static_cast<std::size_t>(o * len + index) * innerBytes, innerBytes);
}

/// dst[..., index, ...] = src along axis of dst (the inverse of sliceAxis).
void placeAxis(const Tensor& src, int axis, std::int64_t index, Tensor& dst)
{
    const std::int64_t len = dst.dim(axis);
    std::int64_t outer = 1;
    for (int d = 0; d < axis; ++d)
        outer *= dst.dim(d);
    const std::size_t innerBytes =
        static_cast<std::size_t>(src.size() / std::max<std::int64_t>(outer, 1)) * dtypeSize(src.dtype());
    if (innerBytes == 0)
        return;
    for (std::int64_t o = 0; o < outer; ++o)
        std::memcpy(dst.raw() + static_cast<std::size_t>(o * len + index) * innerBytes,
                    src.raw() + static_cast<std::size_t>(o) * innerBytes, innerBytes);
}

class ScanKernel {
public:
    explicit ScanKernel(const KernelContext& ctx) : body_(compileBody(ctx, "body"))
    {
        const Node& node = ctx.node;
        v8_ = ctx.opset < 9;
        if (v8_ && node.inputs.empty())
            ctx.invalid("needs the sequence_lens input (which may be an empty name)");
        const std::int64_t m = node.attrInt("num_scan_inputs", -1);
        const std::size_t own = node.inputs.size() - (v8_ ? 1 : 0); // opset 8: sequence_lens first
        if (m < 1 || static_cast<std::size_t>(m) > own)
            ctx.invalid("num_scan_inputs must be in [1, " + std::to_string(own) + "]");
        scanIn_ = static_cast<std::size_t>(m);
        states_ = own - scanIn_;
        if (body_.graph->inputs.size() != states_ + scanIn_)
            ctx.invalid("body has " + std::to_string(body_.graph->inputs.size()) + " inputs, expected " +
                        std::to_string(states_ + scanIn_));
        if (body_.graph->outputs.size() < states_)
            ctx.invalid("body has fewer outputs than state variables");
        scanOut_ = body_.graph->outputs.size() - states_;
        inDirs_ = node.attrInts(v8_ ? "directions" : "scan_input_directions", std::vector<std::int64_t>(scanIn_, 0));
        inAxes_ = node.attrInts("scan_input_axes", std::vector<std::int64_t>(scanIn_, 0));
        outDirs_ = node.attrInts("scan_output_directions", std::vector<std::int64_t>(scanOut_, 0));
        outAxes_ = node.attrInts("scan_output_axes", std::vector<std::int64_t>(scanOut_, 0));
        if (inDirs_.size() != scanIn_ || inAxes_.size() != scanIn_ || outDirs_.size() != scanOut_ ||
            outAxes_.size() != scanOut_)
            ctx.invalid("scan direction/axis attributes do not match the number of scan inputs/outputs");
        slices_.resize(scanIn_);
        pieces_.resize(scanOut_);
        for (auto& s : state_)
            s.resize(states_);
        batchIn_.resize(states_ + scanIn_);
        batchOut_.resize(states_ + scanOut_);
    }

    void operator()(KernelArgs& args)
    {
        const Node& node = args.node();
        if (!v8_) {
            std::vector<const Tensor*> in;
            for (std::size_t i = 0; i < states_ + scanIn_; ++i)
                in.push_back(&args.input(i));
            std::vector<Tensor*> out;
            for (std::size_t i = 0; i < states_ + scanOut_; ++i)
                out.push_back(i < args.outputCount() ? &args.output(i) : &discard_);
            runSequence(args, in, -1, out);
            return;
        }
        // Opset 8: every input has a leading batch axis (scan axis 1), and sequence_lens (input 0)
        // may shorten each batch entry's sequence; shorter scan outputs are zero-padded.
        const std::size_t first = 1;
        if (!args.hasInput(first))
            throw Error(node.describe() + ": missing inputs");
        const std::int64_t batch = args.input(first).rank() ? args.input(first).dim(0) : 0;
        std::vector<std::int64_t> lens;
        if (args.hasInput(0))
            lens = args.input(0).toInt64Vector();
        for (std::int64_t b = 0; b < batch; ++b) {
            std::vector<const Tensor*> in;
            for (std::size_t i = 0; i < states_ + scanIn_; ++i) {
                const Tensor& full = args.input(first + i);
                requireCopyable(full, node);
                if (full.rank() < 1 || full.dim(0) != batch)
                    throw Error(node.describe() + ": input " + std::to_string(first + i) + " has no batch axis of " +
                                std::to_string(batch));
                sliceAxis(full, 0, b, batchIn_[i]);
                in.push_back(&batchIn_[i]);
            }
            std::vector<Tensor*> out;
            for (auto& t : batchOut_)
                out.push_back(&t);
            std::int64_t len = -1;
            if (!lens.empty()) {
                if (static_cast<std::int64_t>(lens.size()) != batch)
                    throw Error(node.describe() + ": sequence_lens has " + std::to_string(lens.size()) +
                                " entries for a batch of " + std::to_string(batch));
                len = lens[static_cast<std::size_t>(b)];
                if (len < 0)
                    throw Error(node.describe() + ": negative sequence length " + std::to_string(len));
            }
            const std::int64_t full = scanIn_ ? in[states_]->dim(static_cast<int>(inAxes_[0])) : 0;
            runSequence(args, in, len, out);
            for (std::size_t i = 0; i < states_ + scanOut_ && i < args.outputCount(); ++i) {
                Tensor& dst = args.output(i);
                Tensor& src = batchOut_[i];
                const bool isScan = i >= states_;
                Shape shape = src.shape();
                if (isScan && shape.size() > 0)
                    shape[0] = full; // padded to the input's sequence length
                shape.insert(shape.begin(), batch);
                if (b == 0) {
                    dst.resize(src.dtype(), shape);
                    dst.zero();
                } else if (dst.shape() != shape || dst.dtype() != src.dtype()) {
                    throw Error(node.describe() + ": output " + std::to_string(i) +
                                " changes shape between batch entries");
                }
                if (!isScan || src.dim(0) == full) {
                    placeAxis(src, 0, b, dst);
                } else {
                    // Shorter sequence: copy its steps into the start of the padded row.
                    const std::size_t rowBytes = dst.byteSize() / static_cast<std::size_t>(batch);
                    if (src.byteSize())
                        std::memcpy(dst.raw() + static_cast<std::size_t>(b) * rowBytes, src.raw(), src.byteSize());
                }
            }
        }
    }

private:
    /// Runs the body over one sequence: in = states then full scan inputs; len < 0 means the
    /// scan inputs' whole length. Writes final states and stacked scan outputs to out.
    void runSequence(const KernelArgs& args, const std::vector<const Tensor*>& in, std::int64_t len,
                     const std::vector<Tensor*>& out)
    {
        const Node& node = args.node();
        std::int64_t seq = -1;
        for (std::size_t j = 0; j < scanIn_; ++j) {
            const Tensor& x = *in[states_ + j];
            requireCopyable(x, node);
            const int axis = ops::normalizeAxis(inAxes_[j], x.rank(), node);
            if (seq >= 0 && x.dim(axis) != seq)
                throw Error(node.describe() + ": scan inputs have different lengths");
            seq = x.dim(axis);
        }
        if (len >= 0) {
            if (len > seq)
                throw Error(node.describe() + ": sequence length " + std::to_string(len) + " exceeds " +
                            std::to_string(seq));
            seq = len;
        }
        cur_.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(states_));
        for (auto& p : pieces_)
            p.clear();
        int parity = 0;
        for (std::int64_t t = 0; t < seq; ++t) {
            for (std::size_t j = 0; j < scanIn_; ++j) {
                const Tensor& x = *in[states_ + j];
                const int axis = ops::normalizeAxis(inAxes_[j], x.rank(), node);
                sliceAxis(x, axis, inDirs_[j] ? seq - 1 - t : t, slices_[j]);
            }
            ins_.assign(cur_.begin(), cur_.end());
            for (auto& s : slices_)
                ins_.push_back(&s);
            body_.appendOuter(args, ins_);
            body_.exec->run(ins_);
            auto& next = state_[parity];
            for (std::size_t i = 0; i < states_; ++i) {
                next[i] = body_.exec->output(i);
                cur_[i] = &next[i];
            }
            parity ^= 1;
            for (std::size_t k = 0; k < scanOut_; ++k)
                pieces_[k].append(body_.exec->output(states_ + k), node);
        }
        for (std::size_t i = 0; i < states_; ++i)
            *out[i] = *cur_[i];
        for (std::size_t k = 0; k < scanOut_; ++k) {
            const ScanStack& s = pieces_[k];
            Tensor& dst = *out[states_ + k];
            if (s.count == 0) {
                dst.resize(DType::Float32, {0});
                continue;
            }
            const int rank = static_cast<int>(s.shape.size()) + 1;
            const int axis = ops::normalizeAxis(outAxes_[k], rank, node);
            Shape shape = s.shape;
            shape.insert(shape.begin() + axis, s.count);
            dst.resize(s.dtype, shape);
            piece_.resize(s.dtype, s.shape);
            const std::size_t bytes = piece_.byteSize();
            for (std::int64_t t = 0; t < s.count; ++t) {
                if (bytes)
                    std::memcpy(piece_.raw(), s.bytes.data() + static_cast<std::size_t>(t) * bytes, bytes);
                placeAxis(piece_, axis, outDirs_[k] ? s.count - 1 - t : t, dst);
            }
        }
    }

    Body body_;
    bool v8_ = false;
    std::size_t states_ = 0, scanIn_ = 0, scanOut_ = 0;
    std::vector<std::int64_t> inDirs_, inAxes_, outDirs_, outAxes_;
    std::vector<Tensor> slices_, state_[2], batchIn_, batchOut_;
    std::vector<ScanStack> pieces_;
    std::vector<const Tensor*> cur_, ins_;
    Tensor piece_, discard_;
};

} // namespace

void registerControlFlowOps(OpRegistry& r)
{
    r.add("If", 1, makeIf);
    r.add("Loop", 1, [](const KernelContext& ctx) -> Kernel { return LoopKernel(ctx); });
    r.add("Scan", 8, [](const KernelContext& ctx) -> Kernel { return ScanKernel(ctx); });
}

} // namespace leger
