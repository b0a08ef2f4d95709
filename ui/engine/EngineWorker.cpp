#include "engine/EngineWorker.h"

#include <QMutexLocker>
#include <utility>

#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "model/Model.h"
#include "util/Error.h"

namespace leger::ui {

namespace {

void cancel(const std::shared_ptr<CancelToken>& token)
{
    if (token)
        token->cancel();
}

} // namespace

EngineWorker::EngineWorker(QObject* parent) : QThread(parent) {}

EngineWorker::~EngineWorker()
{
    stop();
    wait();
}

void EngineWorker::setSource(quint64 serial, std::optional<EngineSource> source)
{
    QMutexLocker lock(&mutex_);
    sourceSerial_ = serial;
    source_ = std::move(source);
    cancel(sourceCancel_);
    sourceCancel_ = std::make_shared<CancelToken>();
    live_.reset();
    cancel(liveCancel_);
    // The bridge has cancelled the job through cancelJob first, so that it gets its jobFailed.
    job_.reset();
    cancel(runningJobCancel_);
    measures_.clear();
    cancel(measureCancel_);
    wake_.wakeOne();
}

void EngineWorker::requestLive(quint64 generation, std::vector<LayerSetting> settings)
{
    QMutexLocker lock(&mutex_);
    cancel(liveCancel_);
    liveCancel_ = std::make_shared<CancelToken>();
    live_ = LiveRequest{generation, std::move(settings), liveCancel_};
    // A background measurement must not delay the live point by a whole evaluation: it stops
    // at its next chunk and is queued again.
    cancel(measureCancel_);
    wake_.wakeOne();
}

void EngineWorker::enqueueMeasure(std::vector<LayerSetting> settings, QString tag)
{
    QMutexLocker lock(&mutex_);
    measures_.push_back({std::move(settings), std::move(tag)});
    wake_.wakeOne();
}

void EngineWorker::startJob(EngineJob job)
{
    QMutexLocker lock(&mutex_);
    job_ = std::move(job);
    cancel(measureCancel_);
    wake_.wakeOne();
}

bool EngineWorker::cancelJob(quint64 id)
{
    QMutexLocker lock(&mutex_);
    if (job_ && job_->id == id) {
        job_.reset();
        return true;
    }
    if (runningJob_ == id)
        cancel(runningJobCancel_);
    return false;
}

void EngineWorker::stop()
{
    QMutexLocker lock(&mutex_);
    abort_ = true;
    cancel(sourceCancel_);
    cancel(liveCancel_);
    cancel(runningJobCancel_);
    cancel(measureCancel_);
    wake_.wakeOne();
}

bool EngineWorker::hasWork(quint64 serial) const
{
    return sourceSerial_ != serial || live_ || job_ || !measures_.empty();
}

void EngineWorker::run()
{
    Current cur;
    for (;;) {
        enum class Task { Source, Live, Job, Measure } task;
        std::optional<EngineSource> source;
        std::optional<EngineJob> job;
        std::optional<MeasureRequest> measure;
        std::shared_ptr<CancelToken> token;
        {
            QMutexLocker lock(&mutex_);
            while (!abort_ && !hasWork(cur.serial))
                wake_.wait(&mutex_);
            if (abort_)
                break;
            // Priority: a new source, then the newest live request, then the job, then
            // background measurements.
            if (sourceSerial_ != cur.serial) {
                task = Task::Source;
                cur.serial = sourceSerial_;
                source = std::exchange(source_, std::nullopt);
                token = sourceCancel_;
            } else if (live_) {
                task = Task::Live;
            } else if (job_) {
                task = Task::Job;
                job = std::exchange(job_, std::nullopt);
                runningJob_ = job->id;
                runningJobCancel_ = job->cancel;
            } else {
                task = Task::Measure;
                measure = std::move(measures_.front());
                measures_.pop_front();
                token = measureCancel_ = std::make_shared<CancelToken>();
            }
        }
        switch (task) {
        case Task::Source:
            loadSource(cur, std::move(source), std::move(token));
            break;
        case Task::Live:
            serveLive(cur);
            break;
        case Task::Job:
            runJob(cur, std::move(*job));
            break;
        case Task::Measure:
            runMeasure(cur, std::move(*measure), std::move(token));
            break;
        }
    }
    // Built in this thread, destroyed in it.
    cur.evaluator.reset();
}

void EngineWorker::loadSource(Current& cur, std::optional<EngineSource> source, std::shared_ptr<CancelToken> cancel)
{
    cur.evaluator.reset(); // before the objects it refers to
    cur.source = {};
    cur.error = QStringLiteral("no model and data are loaded");
    if (!source)
        return; // clearSource
    if (!source->makeEvaluator && (!source->model || !source->data)) {
        cur.error = QStringLiteral("a model and data are needed to evaluate");
        emit sourceError(cur.serial, cur.error);
        return;
    }
    cur.source = std::move(*source);
    try {
        if (cur.source.makeEvaluator)
            cur.evaluator = cur.source.makeEvaluator();
        else
            cur.evaluator = std::make_unique<Evaluator>(*cur.source.model, *cur.source.data, cur.source.pre,
                                                        cur.source.options);
    } catch (const std::exception& e) {
        cur.error = QString::fromStdString(e.what());
        cur.source = {};
        emit sourceError(cur.serial, cur.error);
        return;
    }
    emit sourceBuilt(cur.serial, cur.evaluator->sampleCount(), cur.evaluator->chunkSize());
    // The uncompressed plan first: every other result is compared with it.
    try {
        const std::vector<LayerSetting> none(cur.evaluator->layers().size());
        Evaluation e = cur.evaluator->evaluate(none, cancel.get(), [&](const Evaluation& partial) {
            if (!partial.complete() && !baselinePartialQueued_.exchange(true))
                emit baselineResult(cur.serial, std::make_shared<const Evaluation>(partial));
        });
        emit baselineResult(cur.serial, std::make_shared<const Evaluation>(std::move(e)));
    } catch (const CancelledError&) {
        // A newer source, or stop(): the loop moves on.
    } catch (const std::exception& e) {
        cur.error = QString::fromStdString(e.what());
        cur.evaluator.reset();
        cur.source = {};
        emit sourceError(cur.serial, cur.error);
    }
}

void EngineWorker::serveLive(Current& cur, bool once)
{
    for (bool first = true; first || !once; first = false) {
        LiveRequest request;
        {
            QMutexLocker lock(&mutex_);
            // A request made after a new source waits for that source to be loaded.
            if (abort_ || !live_ || sourceSerial_ != cur.serial)
                return;
            request = std::move(*live_);
            live_.reset();
        }
        if (!cur.evaluator) {
            emit liveError(cur.serial, request.generation, cur.error);
            continue;
        }
        try {
            Evaluation e = cur.evaluator->evaluate(request.settings, request.cancel.get(), [&](const Evaluation& partial) {
                if (!partial.complete() && !livePartialQueued_.exchange(true))
                    emit liveResult(cur.serial, request.generation, std::make_shared<const Evaluation>(partial));
            });
            emit liveResult(cur.serial, request.generation, std::make_shared<const Evaluation>(std::move(e)));
        } catch (const CancelledError&) {
            // Superseded: the newer request is pending (or the source changed, or stop()).
        } catch (const std::exception& e) {
            emit liveError(cur.serial, request.generation, QString::fromStdString(e.what()));
        }
    }
}

void EngineWorker::runMeasure(Current& cur, MeasureRequest request, std::shared_ptr<CancelToken> cancel)
{
    if (!cur.evaluator) {
        emit measureError(cur.serial, request.tag, cur.error);
    } else {
        try {
            Evaluation e = cur.evaluator->evaluate(request.settings, cancel.get());
            emit measureResult(cur.serial, request.tag, std::make_shared<const Evaluation>(std::move(e)));
        } catch (const CancelledError&) {
            // Pre-empted by a live request or a job: measured again when nothing else waits.
            QMutexLocker lock(&mutex_);
            if (!abort_ && sourceSerial_ == cur.serial)
                measures_.push_front(std::move(request));
        } catch (const std::exception& e) {
            emit measureError(cur.serial, request.tag, QString::fromStdString(e.what()));
        }
    }
    QMutexLocker lock(&mutex_);
    measureCancel_.reset();
}

void EngineWorker::runJob(Current& cur, EngineJob job)
{
    const quint64 id = job.id;
    const auto finished = [&] {
        QMutexLocker lock(&mutex_);
        runningJob_ = 0;
        runningJobCancel_.reset();
    };
    if (!cur.evaluator) {
        finished();
        emit jobError(id, cur.error, false);
        return;
    }
    PlanEvaluator& ev = *cur.evaluator;
    const CancelToken* cancel = job.cancel.get();
    // The searches call this between two of their evaluations, never inside
    // Evaluator::evaluate (core/search/Search.cpp), and keep nothing of the Evaluator's across
    // calls but Evaluation values and layers(); between calls the Evaluator holds only caches
    // keyed by setting and prefix, which another plan's run can fill or evict without changing
    // any result (tst_evaluator: incremental equals full). So the live request is run here, on
    // the same Evaluator, and the job resumes with its next evaluation.
    const SearchProgress progress = [&](std::int64_t done, std::int64_t total, const std::string& what) {
        emit jobProgress(id, done, total, QString::fromStdString(what));
        serveLive(cur, true);
    };
    try {
        SizeFunction size;
        if (job.kind != EngineJob::Kind::Sensitivity) {
            if (!job.table)
                throw Error("the job needs a sensitivity table");
            if (cur.source.sizeOf)
                size = cur.source.sizeOf;
            else if (cur.source.size)
                size = [sizes = cur.source.size](const std::vector<LayerSetting>& plan) { return sizes->total(plan); };
            else
                throw Error("the job needs the model's sizes, and none were given with the source");
        }
        switch (job.kind) {
        case EngineJob::Kind::Sensitivity: {
            auto table = std::make_shared<const SensitivityTable>(
                sensitivityScan(ev, job.columns, job.metric, cancel, progress));
            finished();
            emit sensitivityResult(id, std::move(table));
            break;
        }
        case EngineJob::Kind::Sweep: {
            auto points = std::make_shared<const std::vector<FrontierPoint>>(
                frontierSweep(ev, *job.table, size, job.points, cancel, progress));
            finished();
            emit sweepResult(id, std::move(points));
            break;
        }
        case EngineJob::Kind::FitMaxDrop: {
            auto result = std::make_shared<const BudgetResult>(
                fitMaxDrop(ev, *job.table, size, job.maxDrop, cancel, progress));
            finished();
            emit fitResult(id, std::move(result));
            break;
        }
        case EngineJob::Kind::FitBudget: {
            auto result = std::make_shared<const BudgetResult>(
                fitBudget(ev, *job.table, size, job.budgetBytes, cancel, progress));
            finished();
            emit fitResult(id, std::move(result));
            break;
        }
        }
    } catch (const CancelledError&) {
        finished();
        emit jobError(id, QStringLiteral("cancelled"), true);
    } catch (const std::exception& e) {
        finished();
        emit jobError(id, QString::fromStdString(e.what()), false);
    }
}

} // namespace leger::ui
