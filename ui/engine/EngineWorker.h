#pragma once
// The engine's worker thread (DESIGN.md "Threads"), modelled on Qt's mandelbrot example: the GUI
// thread stores the newest requests under a mutex and wakes the thread; the thread owns the
// Evaluator and takes one piece of work at a time in priority order (a new source, the newest live
// request, a job, background measurements). Cancel tokens stop the running work at its next chunk
// or node. Results leave as signals (queued to the bridge in the GUI thread), tagged with the
// source serial and request generation so that the bridge can drop stale ones. Private to
// EngineBridge.

#include <QMutex>
#include <QString>
#include <QThread>
#include <QWaitCondition>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "search/Search.h"
#include "util/CancelToken.h"

namespace leger {
class Dataset;
class Model;
class SizeModel;
} // namespace leger

namespace leger::ui {

/// What the engine runs on; the objects are shared read-only with the GUI thread. An ONNX
/// model gives model, data, pre, size and options; a language model gives makeEvaluator (called
/// in the worker, which then owns the evaluator) and sizeOf.
struct EngineSource {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Dataset> data;
    Preprocessing pre;
    std::shared_ptr<const SizeModel> size;
    Evaluator::Options options;
    std::function<std::unique_ptr<PlanEvaluator>()> makeEvaluator;
    SizeFunction sizeOf;
};

/// One long job and its parameters (the fields its kind needs).
struct EngineJob {
    enum class Kind { Sensitivity, Sweep, FitMaxDrop, FitBudget };
    quint64 id = 0;
    Kind kind = Kind::Sensitivity;
    std::vector<LayerSetting> columns; // Sensitivity
    std::string metric;                // Sensitivity (empty: the default metric)
    std::shared_ptr<const SensitivityTable> table; // the others
    int points = 12;
    double maxDrop = 0.0;
    qint64 budgetBytes = 0;
    std::shared_ptr<CancelToken> cancel = std::make_shared<CancelToken>();
};

class EngineWorker : public QThread {
    Q_OBJECT
public:
    explicit EngineWorker(QObject* parent = nullptr);
    /// Stops and joins the thread.
    ~EngineWorker() override;

    // Called from the GUI thread. Each takes the mutex, records the request, cancels what it
    // supersedes and wakes the thread.

    /// A new source (nullopt: none) under a new serial: cancels and drops all work.
    void setSource(quint64 serial, std::optional<EngineSource> source);
    /// The newest live request: replaces a pending one, cancels a running one and a running
    /// background measurement (which is queued again).
    void requestLive(quint64 generation, std::vector<LayerSetting> settings);
    /// Queues a background measurement.
    void enqueueMeasure(std::vector<LayerSetting> settings, QString tag);
    /// Queues a job (the caller cancels the previous one first).
    void startJob(EngineJob job);
    /// Cancels a job. Returns true when it had not started: it is dropped and no signal about it
    /// will come from the worker. Otherwise the running job stops at its next chunk and ends with
    /// jobError(cancelled) (or its result, if it had already finished).
    bool cancelJob(quint64 id);
    /// Cancels everything and makes run() return (wait() joins).
    void stop();

    /// The bridge took a partial result off the queue: the next one may be sent. (At most one
    /// partial per stream waits in the GUI thread's queue, so a busy GUI thread is not flooded.)
    void livePartialTaken() { livePartialQueued_.store(false); }
    void baselinePartialTaken() { baselinePartialQueued_.store(false); }

signals:
    void sourceBuilt(quint64 serial, qint64 samples, qint64 chunkSize);
    void sourceError(quint64 serial, QString message);
    void baselineResult(quint64 serial, std::shared_ptr<const leger::Evaluation> evaluation);
    void liveResult(quint64 serial, quint64 generation, std::shared_ptr<const leger::Evaluation> evaluation);
    void liveError(quint64 serial, quint64 generation, QString message);
    void measureResult(quint64 serial, QString tag, std::shared_ptr<const leger::Evaluation> evaluation);
    void measureError(quint64 serial, QString tag, QString message);
    void jobProgress(quint64 job, qint64 done, qint64 total, QString what);
    void sensitivityResult(quint64 job, std::shared_ptr<const leger::SensitivityTable> table);
    void sweepResult(quint64 job, std::shared_ptr<const std::vector<leger::FrontierPoint>> points);
    void fitResult(quint64 job, std::shared_ptr<const leger::BudgetResult> result);
    void jobError(quint64 job, QString message, bool cancelled);

protected:
    void run() override;

private:
    struct LiveRequest {
        quint64 generation = 0;
        std::vector<LayerSetting> settings;
        std::shared_ptr<CancelToken> cancel;
    };
    struct MeasureRequest {
        std::vector<LayerSetting> settings;
        QString tag;
    };
    /// What the worker holds for the current source (touched only by the worker thread).
    struct Current {
        quint64 serial = 0;
        EngineSource source;
        std::unique_ptr<PlanEvaluator> evaluator;
        QString error; // why there is no evaluator
    };

    bool hasWork(quint64 serial) const;
    void loadSource(Current& cur, std::optional<EngineSource> source, std::shared_ptr<CancelToken> cancel);
    /// Runs the newest live request, and any that arrive meanwhile, until none is pending;
    /// with `once`, only the one pending now (a job between two of its evaluations must advance
    /// even while the sliders keep moving).
    void serveLive(Current& cur, bool once = false);
    void runMeasure(Current& cur, MeasureRequest request, std::shared_ptr<CancelToken> cancel);
    void runJob(Current& cur, EngineJob job);

    // Guarded by mutex_.
    mutable QMutex mutex_;
    QWaitCondition wake_;
    bool abort_ = false;
    quint64 sourceSerial_ = 0;
    std::optional<EngineSource> source_;                 // the newest source, taken by the worker
    std::shared_ptr<CancelToken> sourceCancel_;          // its build and baseline
    std::optional<LiveRequest> live_;                    // pending
    std::shared_ptr<CancelToken> liveCancel_;            // the newest live request's (pending or running)
    std::optional<EngineJob> job_;                       // pending
    quint64 runningJob_ = 0;
    std::shared_ptr<CancelToken> runningJobCancel_;
    std::deque<MeasureRequest> measures_;                // pending, in order
    std::shared_ptr<CancelToken> measureCancel_;         // the running measurement's

    std::atomic<bool> livePartialQueued_{false};
    std::atomic<bool> baselinePartialQueued_{false};
};

} // namespace leger::ui
