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

    /// Number of nodes that run (after constant folding).
    std::size_t nodeCount() const;

    /// Called after every node of every run with the node's inputs and outputs (for FLOP
    /// counts, activation statistics, debugging); empty to turn off.
    using StepObserver = std::function<void(const Node&, const KernelArgs&)>;
    void setObserver(StepObserver observer) { observer_ = std::move(observer); }

    /// Per-op-type wall time of the runs since profiling was turned on, in seconds.
    void setProfiling(bool on);
    std::map<std::string, double> profile() const { return profile_; }

private:
    struct Step;
    void compile(const Graph& graph, const std::map<std::string, int, std::less<>>& opsets,
                 const std::vector<std::string>& outerNames, const OpRegistry& registry);
    int slotFor(const std::string& name) const;

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
