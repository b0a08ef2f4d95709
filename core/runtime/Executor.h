#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/Graph.h"
#include "runtime/Kernel.h"
#include "util/CancelToken.h"

namespace leger {

class Model;
class OpRegistry;

/// A compiled graph: kernels prepared once, constants folded, value buffers assigned by
/// liveness so that a run allocates nothing once the buffers have grown to size.
/// Not thread-safe: one Executor per thread.
class Executor {
public:
    struct Options {
        /// Share buffers between values whose lifetimes do not overlap (off keeps every value).
        bool reuseBuffers = true;
        /// Fold nodes whose inputs are all constant at compile time.
        bool foldConstants = true;
        /// Reject inputs whose shape differs from the graph's declared fixed dimensions.
        bool checkInputShapes = true;
        /// Speed-ups that do not change results beyond float rounding (see GraphOptimizer.h):
        /// fuse activations and residual adds into the convolutions before them, and run a large
        /// batch as slices whose activations fit in cache when the graph allows it. Only with
        /// reuseBuffers (fused and sliced runs keep no per-node values) and while no observer is
        /// set (setObserver recompiles without them, so observers see every node of the model).
        bool optimize = true;
        /// Batch slicing aims for slices whose largest value has about this many bytes, so that
        /// consecutive layers work in cache rather than streaming the whole batch through DRAM.
        std::size_t sliceBytes = std::size_t{1} << 20;
        /// The trailing nodes whose outputs all stay below this many bytes per sample run once
        /// on the whole batch after the slices (their weights are read once, their products are
        /// wider); 0 slices every node.
        std::size_t sliceTailBytes = std::size_t{256} << 10;
        /// Tensors to use instead of the main graph's initializers of the same name (the
        /// compressed weights under evaluation); they must outlive the Executor.
        std::map<std::string, const Tensor*, std::less<>> weights;
    };

    /// Compiles the model's main graph; throws UnsupportedError listing every unsupported op.
    explicit Executor(const Model& model);
    Executor(const Model& model, Options options);
    /// Compiles a graph; outerNames are extra inputs after the graph's own (subgraph scope).
    Executor(const Graph& graph, const std::map<std::string, int, std::less<>>& opsets,
             const std::vector<std::string>& outerNames, Options options, const OpRegistry& registry);
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    /// Graph inputs in order, then outer-scope names for subgraphs.
    const std::vector<std::string>& inputNames() const { return inputNames_; }
    const std::vector<std::string>& outputNames() const { return outputNames_; }

    /// Runs the graph; inputs are in inputNames() order. Throws Error naming the node on failure.
    void run(std::span<const Tensor* const> inputs, const CancelToken* cancel = nullptr);
    /// Output i of the last run, valid until the next run.
    const Tensor& output(std::size_t i) const;
    /// Any value of the last run by name (only reliable with reuseBuffers off), or nullptr.
    const Tensor* value(const std::string& name) const;

    // Partial runs, for re-running only the steps a change affects (the Evaluator's cache).
    // A step is one node that runs (after folding and fusion); slots identify values.

    /// The first step that reads initializer `name`, directly or through a folded constant;
    /// nodeCount() when none does.
    std::size_t firstStepUsing(std::string_view name) const;
    /// The values computed before `step` that steps from `step` on (or the outputs) read.
    std::vector<int> liveAt(std::size_t step) const;
    /// Runs steps [from, to) on these inputs (never in batch slices). When from > 0, `restored`
    /// holds the values of liveAt(from), in that order, as an earlier run with the same inputs
    /// left them (slotValue); they must stay alive until the next run.
    void runRange(std::span<const Tensor* const> inputs, std::size_t from, std::size_t to,
                  std::span<const Tensor* const> restored, const CancelToken* cancel = nullptr);
    /// Runs the graph once on these inputs (never in batch slices) and returns the bytes of the
    /// largest value a step produced, for sizing batches.
    std::size_t largestValueBytes(std::span<const Tensor* const> inputs, const CancelToken* cancel = nullptr);
    /// The current value of a slot (after a run that computed it).
    const Tensor& slotValue(int slot) const { return *slots_[static_cast<std::size_t>(slot)]; }

    /// Number of nodes that run (after constant folding and fusion).
    std::size_t nodeCount() const;
    /// Number of model nodes fused into others.
    std::size_t fusedNodeCount() const { return fusedNodes_; }
    /// Whether runs may be split into batch slices (see Options::optimize).
    bool batchSplittable() const { return splittable_; }

    /// Called after every node of every run with the node's inputs and outputs (for FLOP
    /// counts, activation statistics, debugging); empty to turn off. Fusion and batch slicing
    /// are off while an observer is set (the graph is recompiled if needed), so the observer
    /// sees every node of the model, on the whole batch.
    using StepObserver = std::function<void(const Node&, const KernelArgs&)>;
    void setObserver(StepObserver observer);

    /// Per-op-type wall time of the runs since profiling was turned on, in seconds.
    void setProfiling(bool on);
    std::map<std::string, double> profile() const { return profile_; }

private:
    struct Step;
    void compile(bool optimize);
    void bindInputs(std::span<const Tensor* const> inputs);
    void runSteps(std::size_t from, std::size_t to, const CancelToken* cancel, bool measure = false);
    void runSliced(std::span<const Tensor* const> inputs, std::int64_t batch, const CancelToken* cancel);
    void planSlices(std::span<const Tensor* const> inputs, std::int64_t batch, const CancelToken* cancel);
    int slotFor(const std::string& name) const;

    // What compile() reads, kept to recompile without optimizations (setObserver).
    const Graph* graph_ = nullptr;
    std::map<std::string, int, std::less<>> opsets_;
    std::vector<std::string> outerNames_;
    const OpRegistry* registry_ = nullptr;
    bool optimized_ = false;                      // compiled with Options::optimize in effect
    std::vector<std::unique_ptr<Node>> ownedNodes_; // fused nodes the steps point to
    std::size_t fusedNodes_ = 0;
    // Batch slicing.
    bool splittable_ = false;
    // The plan, measured on one sample for inputs of the shapes in sliceKey_ (axis 0 left out):
    // steps [0, sliceCut_) run per slice of sliceBytes / headPeakBytes_ samples, steps
    // [sliceCut_, end) once on the whole batch; crossSlots_ are the values the whole-batch part
    // (or the caller) reads from the sliced part, gathered into crossValues_.
    std::vector<Shape> sliceKey_;
    bool slicePlanned_ = false;
    std::size_t sliceCut_ = 0;
    std::size_t headPeakBytes_ = 0;      // largest value per sample of the sliced steps
    std::vector<std::size_t> stepBytes_; // per step, its largest output, while measuring
    std::vector<int> producer_;          // per slot, the step computing it, or -1
    std::vector<int> lastRead_;          // per slot, the last step reading it (steps_.size() for outputs), or -1
    std::map<std::string, std::size_t, std::less<>> firstUse_; // per initializer, firstStepUsing
    std::vector<int> crossSlots_;
    std::vector<Tensor> crossValues_;
    std::vector<Tensor> sliceInputs_;    // the current slice of each input
    std::vector<std::pair<int, const Tensor*>> restoreSlots_; // slots a sliced run pointed elsewhere

    Options options_;
    std::vector<std::string> inputNames_;
    std::vector<std::string> outputNames_;
    std::vector<const ValueInfo*> inputInfo_; // declared type/shape of each graph input, or nullptr
    std::map<std::string, int, std::less<>> slotOf_;
    std::vector<const Tensor*> slots_;              // current value of each slot
    std::vector<int> inputSlots_;
    std::vector<int> outputSlots_;
    std::vector<std::unique_ptr<Tensor>> buffers_;  // computed values' storage
    std::vector<std::unique_ptr<Tensor>> folded_;   // constants computed at compile time
    std::vector<Step> steps_;
    StepObserver observer_;
    bool profiling_ = false;
    std::map<std::string, double> profile_;
};

} // namespace leger
