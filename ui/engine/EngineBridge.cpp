#include "engine/EngineBridge.h"

#include <cblas.h>

#include <QMetaType>
#include <QtDebug>
#include <set>
#include <utility>

#include "engine/EngineWorker.h"

namespace leger::ui {

namespace {

/// Results cross threads as shared pointers to const: registered once, under the names the
/// signals spell (QSignalSpy and queued connections look them up).
void registerMetaTypes()
{
    static const bool done = [] {
        qRegisterMetaType<std::shared_ptr<const leger::Evaluation>>("std::shared_ptr<const leger::Evaluation>");
        qRegisterMetaType<std::shared_ptr<const leger::SensitivityTable>>(
            "std::shared_ptr<const leger::SensitivityTable>");
        qRegisterMetaType<std::shared_ptr<const std::vector<leger::FrontierPoint>>>(
            "std::shared_ptr<const std::vector<leger::FrontierPoint>>");
        qRegisterMetaType<std::shared_ptr<const leger::BudgetResult>>("std::shared_ptr<const leger::BudgetResult>");
        qRegisterMetaType<leger::ui::EngineState>("leger::ui::EngineState");
        return true;
    }();
    (void)done;
}

} // namespace

/// GUI-thread bookkeeping: which results are still wanted, and what the engine is doing.
struct EngineBridge::Private {
    EngineWorker worker;
    quint64 serial = 0;          // of the current source; results of older ones are dropped
    bool hasSource = false;
    bool loading = false;        // building the Evaluator and evaluating the baseline
    bool liveOutstanding = false; // the newest evaluate() has no complete result or error yet
    int measuresOutstanding = 0;
    quint64 lastJob = 0;
    quint64 currentJob = 0;      // started and not yet ended (0: none)
    std::set<quint64> cancelledJobs; // cancelled here, their end not yet seen
};

EngineBridge::EngineBridge(QObject* parent) : QObject(parent), d_(std::make_unique<Private>())
{
    registerMetaTypes();
    EngineWorker* w = &d_->worker;
    // Every worker signal is queued to this object: the checks below run in the GUI thread,
    // against the newest generation and serial at the moment of delivery.
    connect(w, &EngineWorker::sourceBuilt, this, [this](quint64 serial, qint64 samples, qint64 chunk) {
        if (serial == d_->serial)
            emit sourceReady(samples, chunk);
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::sourceError, this, [this](quint64 serial, const QString& message) {
        if (serial != d_->serial)
            return;
        d_->hasSource = false;
        d_->loading = false;
        updateState();
        emit sourceFailed(message);
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::baselineResult, this, [this](quint64 serial, const std::shared_ptr<const Evaluation>& e) {
        if (!e->complete())
            d_->worker.baselinePartialTaken();
        if (serial != d_->serial)
            return;
        if (e->complete())
            d_->loading = false;
        emit baselineEvaluated(e);
        updateState();
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::liveResult, this,
            [this](quint64 serial, quint64 generation, const std::shared_ptr<const Evaluation>& e) {
                if (!e->complete())
                    d_->worker.livePartialTaken();
                if (serial != d_->serial || generation != generation_)
                    return; // stale: never reaches a widget
                if (e->complete())
                    d_->liveOutstanding = false;
                emit evaluated(generation, e);
                updateState();
            },
            Qt::QueuedConnection);
    connect(w, &EngineWorker::liveError, this, [this](quint64 serial, quint64 generation, const QString& message) {
        if (serial != d_->serial || generation != generation_)
            return;
        d_->liveOutstanding = false;
        emit evaluationFailed(generation, message);
        updateState();
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::measureResult, this,
            [this](quint64 serial, const QString& tag, const std::shared_ptr<const Evaluation>& e) {
                if (serial != d_->serial)
                    return;
                --d_->measuresOutstanding;
                emit measured(tag, e);
                updateState();
            },
            Qt::QueuedConnection);
    connect(w, &EngineWorker::measureError, this, [this](quint64 serial, const QString& tag, const QString& message) {
        if (serial != d_->serial)
            return;
        // No signal for it: a background point the chart simply does not get.
        qWarning("leger: background measurement '%s' failed: %s", qUtf8Printable(tag), qUtf8Printable(message));
        --d_->measuresOutstanding;
        updateState();
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::jobProgress, this, [this](quint64 job, qint64 done, qint64 total, const QString& what) {
        if (job == d_->currentJob && !d_->cancelledJobs.count(job))
            emit jobProgress(job, done, total, what);
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::sensitivityResult, this,
            [this](quint64 job, const std::shared_ptr<const SensitivityTable>& t) {
                if (!endJob(job))
                    emit sensitivityDone(job, t);
                updateState();
            },
            Qt::QueuedConnection);
    connect(w, &EngineWorker::sweepResult, this,
            [this](quint64 job, const std::shared_ptr<const std::vector<FrontierPoint>>& points) {
                if (!endJob(job))
                    emit sweepDone(job, points);
                updateState();
            },
            Qt::QueuedConnection);
    connect(w, &EngineWorker::fitResult, this, [this](quint64 job, const std::shared_ptr<const BudgetResult>& r) {
        if (!endJob(job))
            emit fitDone(job, r);
        updateState();
    }, Qt::QueuedConnection);
    connect(w, &EngineWorker::jobError, this, [this](quint64 job, const QString& message, bool cancelled) {
        if (!endJob(job))
            emit jobFailed(job, message, cancelled);
        updateState();
    }, Qt::QueuedConnection);
    w->start();
}

EngineBridge::~EngineBridge()
{
    // Cancels the running work at its next chunk or node and joins; results still queued to
    // this object are discarded with it.
    d_->worker.stop();
    d_->worker.wait();
}

void EngineBridge::setSource(std::shared_ptr<const Model> model, std::shared_ptr<const Dataset> data,
                             Preprocessing pre, std::shared_ptr<const SizeModel> size, Evaluator::Options options)
{
    replaceSource(EngineSource{std::move(model), std::move(data), std::move(pre), std::move(size), options});
}

void EngineBridge::setSource(std::function<std::unique_ptr<PlanEvaluator>()> makeEvaluator, SizeFunction sizeOf)
{
    EngineSource source;
    source.makeEvaluator = std::move(makeEvaluator);
    source.sizeOf = std::move(sizeOf);
    replaceSource(std::move(source));
}

void EngineBridge::tuneProcess()
{
    openblas_set_num_threads(1);
}

void EngineBridge::clearSource() { replaceSource(std::nullopt); }

void EngineBridge::replaceSource(std::optional<EngineSource> source)
{
    cancelJob();
    Private& d = *d_;
    ++d.serial;
    d.hasSource = source.has_value(); // until sourceFailed
    d.loading = source.has_value();
    d.liveOutstanding = false;
    d.measuresOutstanding = 0;
    d.worker.setSource(d.serial, std::move(source));
    updateState();
}

quint64 EngineBridge::evaluate(std::vector<LayerSetting> settings)
{
    const quint64 generation = ++generation_;
    d_->liveOutstanding = true;
    d_->worker.requestLive(generation, std::move(settings));
    updateState();
    return generation;
}

void EngineBridge::measure(std::vector<LayerSetting> settings, QString tag)
{
    ++d_->measuresOutstanding;
    d_->worker.enqueueMeasure(std::move(settings), std::move(tag));
    updateState();
}

quint64 EngineBridge::startSensitivity(std::vector<LayerSetting> columns, QString metric)
{
    EngineJob job;
    job.kind = EngineJob::Kind::Sensitivity;
    job.columns = std::move(columns);
    job.metric = metric.toStdString();
    return startJob(std::move(job));
}

quint64 EngineBridge::startSweep(std::shared_ptr<const SensitivityTable> table, int points)
{
    EngineJob job;
    job.kind = EngineJob::Kind::Sweep;
    job.table = std::move(table);
    job.points = points;
    return startJob(std::move(job));
}

quint64 EngineBridge::startFitMaxDrop(std::shared_ptr<const SensitivityTable> table, double maxDrop)
{
    EngineJob job;
    job.kind = EngineJob::Kind::FitMaxDrop;
    job.table = std::move(table);
    job.maxDrop = maxDrop;
    return startJob(std::move(job));
}

quint64 EngineBridge::startFitBudget(std::shared_ptr<const SensitivityTable> table, qint64 budgetBytes)
{
    EngineJob job;
    job.kind = EngineJob::Kind::FitBudget;
    job.table = std::move(table);
    job.budgetBytes = budgetBytes;
    return startJob(std::move(job));
}

quint64 EngineBridge::startJob(EngineJob job)
{
    cancelJob(); // one at a time
    Private& d = *d_;
    job.id = ++d.lastJob;
    d.currentJob = job.id;
    d.worker.startJob(std::move(job));
    updateState();
    return d.currentJob;
}

void EngineBridge::cancelJob()
{
    Private& d = *d_;
    const quint64 job = d.currentJob;
    if (job == 0 || d.cancelledJobs.count(job))
        return;
    d.cancelledJobs.insert(job);
    if (d.worker.cancelJob(job)) {
        // It never started, so the worker will not report it: its end is reported from here,
        // queued like every other result (never from inside this call).
        QMetaObject::invokeMethod(this, [this, job] {
            endJob(job);
            updateState();
        }, Qt::QueuedConnection);
    }
}

bool EngineBridge::endJob(quint64 job)
{
    Private& d = *d_;
    if (job == d.currentJob)
        d.currentJob = 0;
    if (d.cancelledJobs.erase(job) == 0)
        return false;
    // Cancelled here: that is how it ends, even when the worker had finished it meanwhile.
    emit jobFailed(job, QStringLiteral("cancelled"), true);
    return true;
}

void EngineBridge::updateState()
{
    const Private& d = *d_;
    EngineState s = EngineState::Idle;
    if (!d.hasSource)
        s = EngineState::NoSource;
    else if (d.loading)
        s = EngineState::Loading;
    else if (d.currentJob != 0)
        s = EngineState::Job;
    else if (d.liveOutstanding || d.measuresOutstanding > 0)
        s = EngineState::Evaluating;
    if (s == state_)
        return;
    state_ = s;
    emit stateChanged(s);
}

} // namespace leger::ui
