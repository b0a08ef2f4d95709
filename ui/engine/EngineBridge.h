#pragma once
// The GUI's one door to the engine (DESIGN.md "Threads"): one worker thread owns the Evaluator;
// the GUI thread posts requests and receives results as signals. The newest evaluate() request
// wins: an older one still running is cancelled at its next chunk or node, and results of any
// request but the newest are dropped in the GUI thread before they are emitted, so a stale
// result can never reach a widget. Long jobs (sensitivity scan, sweep, budget fits) run on the
// same worker; live evaluate() requests are served between the job's evaluations, so the
// measured point keeps following the sliders while a sweep runs.

#include <QObject>
#include <QString>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "compress/LayerSetting.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "search/Search.h"

namespace leger {
class Dataset;
class Model;
class SizeModel;
} // namespace leger

namespace leger::ui {

class EngineWorker;
struct EngineJob;
struct EngineSource;

/// What the engine is doing, for the summary strip.
enum class EngineState { NoSource, Loading, Idle, Evaluating, Job };

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject* parent = nullptr);

    /// Process settings that keep the GUI thread's event loop free while the engine works; call
    /// once at start: OpenBLAS runs only inside the worker, on one thread, which leaves the other
    /// cores to the GUI thread (and the rest of the machine). The app and bench_workbench call it.
    static void tuneProcess();
    /// Cancels all work and joins the worker thread.
    ~EngineBridge() override;

    /// Sets what the engine runs and cancels all work. The Evaluator is built in the worker;
    /// then the uncompressed baseline is evaluated (baselineEvaluated, chunk by chunk) before
    /// any other request. Failures arrive as sourceFailed. The objects are shared read-only.
    void setSource(std::shared_ptr<const Model> model, std::shared_ptr<const Dataset> data, Preprocessing pre,
                   std::shared_ptr<const SizeModel> size, Evaluator::Options options = {});
    /// A language model's source: the evaluator is made by makeEvaluator in the worker (which
    /// owns it, and whatever it modifies, from then on); sizeOf gives the searches exact sizes.
    void setSource(std::function<std::unique_ptr<PlanEvaluator>()> makeEvaluator, SizeFunction sizeOf);
    /// Drops the source (and the Evaluator, in the worker).
    void clearSource();

    /// Requests the evaluation of one setting per layer (layers() order). Returns the request's
    /// generation (increasing); results arrive as evaluated(generation, ...) partials, the last
    /// one complete(). A newer request cancels this one.
    quint64 evaluate(std::vector<LayerSetting> settings);
    /// The generation of the newest evaluate() request (0 before any).
    quint64 latestGeneration() const { return generation_; }

    /// Background measurements (e.g. the uniform presets on the chart): run when no live
    /// request or job is pending, in order; each result arrives once, complete, as measured(tag, ...).
    /// Dropped by setSource/clearSource.
    void measure(std::vector<LayerSetting> settings, QString tag);

    /// Long jobs, one at a time: starting one cancels the one running. Returns the job id.
    quint64 startSensitivity(std::vector<LayerSetting> columns, QString metric);
    quint64 startSweep(std::shared_ptr<const SensitivityTable> table, int points);
    quint64 startFitMaxDrop(std::shared_ptr<const SensitivityTable> table, double maxDrop);
    quint64 startFitBudget(std::shared_ptr<const SensitivityTable> table, qint64 budgetBytes);
    /// Cancels the running job (jobFailed(..., cancelled = true) follows).
    void cancelJob();

    EngineState state() const { return state_; }

signals:
    /// The Evaluator is built: samples evaluated per plan, and per chunk.
    void sourceReady(qint64 samples, qint64 chunkSize);
    void sourceFailed(QString message);
    /// The uncompressed model's evaluation, partial while it refines, then complete.
    void baselineEvaluated(std::shared_ptr<const leger::Evaluation> evaluation);
    /// A partial or final (evaluation->complete()) result of the newest evaluate() request.
    void evaluated(quint64 generation, std::shared_ptr<const leger::Evaluation> evaluation);
    void evaluationFailed(quint64 generation, QString message);
    void measured(QString tag, std::shared_ptr<const leger::Evaluation> evaluation);
    /// done of total (total -1 when unknown), and what is being evaluated.
    void jobProgress(quint64 job, qint64 done, qint64 total, QString what);
    void sensitivityDone(quint64 job, std::shared_ptr<const leger::SensitivityTable> table);
    void sweepDone(quint64 job, std::shared_ptr<const std::vector<leger::FrontierPoint>> points);
    void fitDone(quint64 job, std::shared_ptr<const leger::BudgetResult> result);
    void jobFailed(quint64 job, QString message, bool cancelled);
    void stateChanged(leger::ui::EngineState state);

private:
    // Implementation in EngineBridge.cpp (worker object, queues, generation checks).
    struct Private;
    quint64 startJob(EngineJob job);
    /// A new source (nullopt: none) under a new serial: cancels and drops all work.
    void replaceSource(std::optional<EngineSource> source);
    /// Bookkeeping when a job's end arrives; emits jobFailed(cancelled) and returns true when
    /// it had been cancelled here (its result, if any, is then not reported).
    bool endJob(quint64 job);
    void updateState();

    std::unique_ptr<Private> d_;
    quint64 generation_ = 0;
    EngineState state_ = EngineState::NoSource;
};

} // namespace leger::ui
