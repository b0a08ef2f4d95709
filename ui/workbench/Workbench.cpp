#include "workbench/Workbench.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QLocale>
#include <QTimer>
#include <QUndoStack>
#include <QtConcurrent>
#include <algorithm>
#include <map>
#include <random>

#include "compress/Plan.h"
#include "compress/Presets.h"
#include "data/Dataset.h"
#include "eval/Evaluator.h"
#include "io/Exporter.h"
#include "io/OnnxReader.h"
#include "llm/LanguageModel.h"
#include "llm/LlmEvaluator.h"
#include "model/Model.h"
#include "report/Report.h"
#include "search/Search.h"
#include "util/AtomicFile.h"
#include "util/CancelToken.h"
#include "session/SessionFile.h"
#include "util/Error.h"
#include "workbench/MetricInfo.h"
#include "workbench/SettingsCommand.h"

namespace leger::ui {

const char* toString(PointKind k)
{
    switch (k) {
    case PointKind::Trail: return "trail";
    case PointKind::Preset: return "preset";
    case PointKind::Frontier: return "frontier";
    case PointKind::Fit: return "fit";
    }
    return "trail";
}

PointKind pointKindFromString(const QString& s)
{
    if (s == "preset")
        return PointKind::Preset;
    if (s == "frontier")
        return PointKind::Frontier;
    if (s == "fit")
        return PointKind::Fit;
    return PointKind::Trail;
}

namespace {
// The slider-to-measurement debounce (DESIGN.md "Threads").
constexpr int kDebounceMs = 50;
// At most this many trail points are kept (the oldest go first).
constexpr int kMaxTrail = 200;
const QString kSynthetic = QStringLiteral("synthetic:");

/// The data at path, or for "synthetic:N" N random inputs of the model's input shape (images
/// uniform in [0, 1), anything else N(0, 1); fixed seed), for models that come without data:
/// they measure agreement with the uncompressed model, not accuracy.
std::shared_ptr<Dataset> readData(const QString& path, const Model& model, qint64 limit)
{
    if (!path.startsWith(kSynthetic))
        return std::make_shared<Dataset>(Dataset::read(path.toStdString(), limit));
    bool ok = false;
    const qint64 n = path.mid(kSynthetic.size()).toLongLong(&ok);
    if (!ok || n < 1 || n > 100000)
        throw Error(path.toStdString() + ": expected synthetic:N with N in 1..100000");
    if (model.graph.inputs.empty())
        throw Error(model.path + ": the model has no input");
    const ValueInfo& in = model.graph.inputs.front();
    if (!in.hasShape || in.dims.empty())
        throw Error(model.path + ": input '" + in.name + "' has no declared shape for synthetic inputs");
    Shape shape{n};
    for (std::size_t i = 1; i < in.dims.size(); ++i) {
        if (in.dims[i] < 1)
            throw Error(model.path + ": input '" + in.name + "' " + in.shapeString() +
                        " has free dimensions: open real data instead of synthetic inputs");
        shape.push_back(in.dims[i]);
    }
    auto data = std::make_shared<Dataset>();
    data->samples = Tensor(DType::Float32, shape);
    data->source = path.toStdString();
    const bool image = shape.size() == 4 && (shape[1] == 1 || shape[1] == 3 || shape[3] == 1 || shape[3] == 3);
    std::mt19937 rng(20261127);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* x = data->samples.data<float>();
    for (std::int64_t i = 0, e = data->samples.size(); i < e; ++i)
        x[i] = image ? uniform(rng) : normal(rng);
    return data;
}

} // namespace

Workbench::Workbench(QObject* parent)
    : QObject(parent), engine_(new EngineBridge(this)), undo_(new QUndoStack(this)), debounce_(new QTimer(this))
{
    debounce_->setSingleShot(true);
    debounce_->setInterval(kDebounceMs);
    connect(debounce_, &QTimer::timeout, this, &Workbench::evaluateNow);
    connect(engine_, &EngineBridge::evaluated, this, &Workbench::onEvaluated);
    connect(engine_, &EngineBridge::evaluationFailed, this, [this](quint64 gen, const QString& msg) {
        if (gen == requested_)
            emit message(tr("Evaluation failed: %1").arg(msg), true);
    });
    connect(engine_, &EngineBridge::baselineEvaluated, this, [this](std::shared_ptr<const Evaluation> e) {
        baseline_ = std::move(e);
        if (metric_.isEmpty() || !baseline_->metrics.find(metric_.toStdString())) {
            try {
                metric_ = QString::fromStdString(defaultMetric(*baseline_));
            } catch (const std::exception& error) { // never let an exception out into the event loop
                metric_.clear();
                emit message(QString::fromStdString(error.what()), true);
            }
            emit metricChanged();
        }
        emit baselineChanged();
        if (baseline_->complete()) {
            measurePresets();
            // A plan restored or edited before the baseline was known is measured now.
            if (!current())
                scheduleEvaluation();
        }
    });
    connect(engine_, &EngineBridge::sourceFailed, this, [this](const QString& msg) {
        emit message(tr("Cannot evaluate on this data: %1").arg(msg), true);
    });
    connect(engine_, &EngineBridge::measured, this, [this](const QString& tag, std::shared_ptr<const Evaluation> e) {
        for (const Preset& p : presets())
            if (p.name == tag) {
                addPoint(PointKind::Preset, tag, std::vector<LayerSetting>(layers_.size(), p.setting), std::move(e));
                return;
            }
    });
    connect(engine_, &EngineBridge::stateChanged, this, &Workbench::engineStateChanged);
    connect(engine_, &EngineBridge::jobProgress, this, [this](quint64 job, qint64 done, qint64 total, const QString& what) {
        if (job == job_)
            emit jobChanged(true, done, total, what);
    });
    connect(engine_, &EngineBridge::jobFailed, this, [this](quint64 job, const QString& msg, bool cancelled) {
        if (job == job_)
            finishJob(cancelled ? tr("Search cancelled.") : tr("Search failed: %1").arg(msg), !cancelled);
    });
    connect(engine_, &EngineBridge::sensitivityDone, this,
            [this](quint64 job, std::shared_ptr<const SensitivityTable> t) {
                if (job != job_)
                    return;
                sensitivity_ = std::move(t);
                emit sensitivityChanged();
                emit modified();
                finishJob(tr("Sensitivity scan done: %1 layers × %2 settings.")
                              .arg(sensitivity_->drop.size())
                              .arg(sensitivity_->settings.size()),
                          false);
            });
    connect(engine_, &EngineBridge::sweepDone, this,
            [this](quint64 job, std::shared_ptr<const std::vector<FrontierPoint>> pts) {
                if (job != job_)
                    return;
                // A new sweep replaces the old frontier.
                points_.erase(std::remove_if(points_.begin(), points_.end(),
                                             [](const PlanPoint& p) { return p.kind == PointKind::Frontier; }),
                              points_.end());
                int n = 0;
                for (const FrontierPoint& f : *pts)
                    addPoint(PointKind::Frontier, tr("sweep %1").arg(++n), f.plan,
                             std::make_shared<const Evaluation>(f.evaluation), f.pareto);
                finishJob(tr("Sweep done: %1 plans measured.").arg(pts->size()), false);
            });
    connect(engine_, &EngineBridge::fitDone, this, [this](quint64 job, std::shared_ptr<const BudgetResult> r) {
        if (job != job_)
            return;
        if (!r->found) {
            finishJob(tr("No plan fits: %1").arg(QString::fromStdString(r->message)), true);
            return;
        }
        addPoint(PointKind::Fit, tr("fit"), r->best.plan, std::make_shared<const Evaluation>(r->best.evaluation));
        setAllSettings(r->best.plan, tr("Apply fitted plan"));
        finishJob(tr("Fitted plan applied: %1 bytes. %2")
                      .arg(r->best.sizeBytes)
                      .arg(QString::fromStdString(r->message)),
                  false);
    });
}

Workbench::~Workbench()
{
    // The measurement holds the data and calls back into this object: it must end first.
    stopComparisons();
}

std::int64_t Workbench::sizeOf(const std::vector<LayerSetting>& s) const
{
    if (llm_)
        return llm_->ggufBytes(s);
    return sizeModel_ ? sizeModel_->total(s) : 0;
}

double Workbench::bitsPerWeightOf(const std::vector<LayerSetting>& s) const
{
    return reportFor(s).bitsPerWeight;
}

SizeReport Workbench::reportFor(const std::vector<LayerSetting>& s) const
{
    if (llm_)
        return llm_->sizeReport(s);
    return sizeModel_ ? sizeModel_->report(s) : SizeReport{};
}

QString Workbench::whyNot(int layer, const LayerSetting& s) const
{
    if (llm_ && layer >= 0 && static_cast<std::size_t>(layer) < layers_.size())
        return QString::fromStdString(llm_->whyNot(static_cast<std::size_t>(layer), s));
    if (!llm_ && isBlockFormat(s.format))
        return tr("%1 is a GGUF block format, for language models").arg(QString::fromLatin1(toString(s.format)));
    return {};
}

namespace {

/// A UTF-8 text's token ids for a language model, with the window check the evaluator makes.
std::shared_ptr<const std::vector<std::int32_t>> readText(const QString& path, LanguageModel& model)
{
    auto tokens = std::make_shared<std::vector<std::int32_t>>(model.tokenizer().encode(readFile(path.toStdString())));
    try {
        LlmEvaluator check(model, *tokens, LlmEvaluator::Options{.limit = 1});
    } catch (const Error& e) {
        throw Error(path.toStdString() + ": " + e.what());
    }
    return tokens;
}

} // namespace

bool Workbench::openLanguageModel(const QString& absModel, const QString& absData, QString* error)
{
    std::shared_ptr<LanguageModel> llm;
    std::shared_ptr<const std::vector<std::int32_t>> tokens;
    try {
        llm = std::make_shared<LanguageModel>(LanguageModel::open(absModel.toStdString()));
        if (!absData.isEmpty())
            tokens = readText(absData, *llm);
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    engine_->clearSource();
    modelSha256_ = QFileInfo(absModel).isDir() ? QByteArray() : SessionFile::sha256(absModel);
    model_.reset();
    sizeModel_.reset();
    data_.reset();
    pre_ = {};
    llm_ = std::move(llm);
    tokens_ = std::move(tokens);
    layers_ = llm_->layers();
    modelPath_ = absModel;
    dataPath_ = absData;
    resetForModel();
    return true;
}

bool Workbench::open(const QString& modelPath, const QString& dataPath, QString* error)
{
    const QString absModel = QFileInfo(modelPath).absoluteFilePath();
    const QString absData = dataPath.isEmpty() || dataPath.startsWith(kSynthetic) ? dataPath
                                                                                   : QFileInfo(dataPath).absoluteFilePath();
    if (LanguageModel::isLanguageModelPath(absModel.toStdString()))
        return openLanguageModel(absModel, absData, error);
    std::shared_ptr<Model> model;
    std::vector<Layer> layers;
    std::shared_ptr<SizeModel> size;
    Preprocessing pre;
    std::shared_ptr<Dataset> data;
    std::map<std::string, LayerSetting> stored; // a .leger container's settings, by layer
    try {
        model = std::make_shared<Model>(loadModel(absModel.toStdString(), &stored));
        layers = Layer::find(*model);
        size = std::make_shared<SizeModel>(*model, layers);
        if (auto side = Preprocessing::readSidecar(absModel.toStdString()))
            pre = *side;
        if (!absData.isEmpty()) {
            data = readData(absData, *model, dataLimit_);
            // Checks that the data fits the model now, so that a bad pair leaves the open document as it was.
            Evaluator check(*model, *data, pre, Evaluator::Options{.limit = 1});
        }
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    engine_->clearSource();
    modelSha256_ = SessionFile::sha256(absModel);
    llm_.reset();
    tokens_.reset();
    model_ = std::move(model);
    layers_ = std::move(layers);
    sizeModel_ = std::move(size);
    pre_ = std::move(pre);
    data_ = std::move(data);
    modelPath_ = absModel;
    dataPath_ = absData;
    resetForModel();
    if (!stored.empty()) {
        // A compressed model (a double-clicked .leger): its layers start at the settings they are
        // stored with, which reproduce its weights and its size; the baseline is those weights.
        for (std::size_t i = 0; i < layers_.size(); ++i)
            if (auto it = stored.find(layers_[i].name); it != stored.end())
                settings_[i] = it->second;
        size_ = reportFor(settings_);
        emit settingsChanged({});
        scheduleEvaluation();
        emit message(tr("%1 is a compressed model: its layers start at the settings they are stored with. "
                        "\"Uncompressed\" means its weights as stored; the original ones are not in the file.")
                         .arg(QFileInfo(absModel).fileName()),
                     false);
    }
    return true;
}

bool Workbench::openData(const QString& dataPath, QString* error)
{
    if (!isOpen()) {
        if (error)
            *error = tr("Open a model first.");
        return false;
    }
    const QString absData = dataPath.startsWith(kSynthetic) ? dataPath : QFileInfo(dataPath).absoluteFilePath();
    std::shared_ptr<Dataset> data;
    std::shared_ptr<const std::vector<std::int32_t>> tokens;
    try {
        if (llm_) {
            if (absData.startsWith(kSynthetic))
                throw Error("a language model is measured on a text file, not on synthetic inputs");
            // Reads only the tokenizer and the configuration, not the weights the worker swaps.
            tokens = readText(absData, *llm_);
        } else {
            data = readData(absData, *model_, dataLimit_);
            Evaluator check(*model_, *data, pre_, Evaluator::Options{.limit = 1});
        }
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    tokens_ = std::move(tokens);
    // The compared models are measured again on the new data, so that the chart keeps comparing
    // like with like (one that does not fit the new data is reported and dropped).
    QStringList compared;
    for (const auto& c : comparisons_)
        compared << QString::fromStdString(c->path);
    compared << comparePending_;
    stopComparisons();
    comparisons_.clear();
    comparisonSha256_.clear();
    data_ = std::move(data);
    dataPath_ = absData;
    // Measurements on other data are not comparable: start the history again, keep the plan.
    baseline_.reset();
    current_.reset();
    points_.clear();
    sensitivity_.reset();
    emit baselineChanged();
    emit currentChanged();
    emit pointsChanged();
    emit sensitivityChanged();
    emit comparisonsChanged();
    startSource();
    for (const QString& path : std::as_const(compared))
        addComparison(path);
    emit modified();
    return true;
}

void Workbench::resetForModel()
{
    settings_.assign(layers_.size(), LayerSetting::none());
    size_ = reportFor(settings_);
    undo_->clear();
    baseline_.reset();
    current_.reset();
    points_.clear();
    sensitivity_.reset();
    metric_.clear();
    job_ = 0;
    // Other models were compared with the model that was open, on its data: a new model starts afresh.
    stopComparisons();
    comparisons_.clear();
    comparisonSha256_.clear();
    emit modelChanged();
    emit settingsChanged({});
    emit baselineChanged();
    emit currentChanged();
    emit pointsChanged();
    emit sensitivityChanged();
    emit comparisonsChanged();
    startSource();
}

void Workbench::startSource()
{
    requested_ = 0;
    if (llm_ && tokens_) {
        // The worker's evaluator owns the model from here on (its decoder's weights are swapped
        // while it evaluates); the lambdas keep both alive while the worker needs them.
        // dataLimit_ counts windows here.
        engine_->setSource([llm = llm_, tokens = tokens_, limit = dataLimit_]() -> std::unique_ptr<PlanEvaluator> {
            return std::make_unique<LlmEvaluator>(llm, *tokens, LlmEvaluator::Options{.limit = limit});
        }, [llm = llm_](const std::vector<LayerSetting>& plan) { return llm->ggufBytes(plan); });
    } else if (data_) {
        engine_->setSource(model_, data_, pre_, sizeModel_);
    } else {
        engine_->clearSource();
    }
}

void Workbench::measurePresets()
{
    for (const Preset& p : presets()) {
        bool have = false;
        for (const PlanPoint& q : points_)
            have |= q.kind == PointKind::Preset && q.label == p.name;
        if (!have)
            engine_->measure(llm_ ? llm_->fitted(std::vector<LayerSetting>(layers_.size(), p.setting))
                                  : std::vector<LayerSetting>(layers_.size(), p.setting),
                             p.name);
    }
}

void Workbench::editLayers(const QList<int>& rows, const std::function<LayerSetting(LayerSetting)>& edit,
                           const QString& text, int dragId)
{
    std::vector<int> r;
    std::vector<LayerSetting> before, after;
    for (int row : rows) {
        if (row < 0 || static_cast<std::size_t>(row) >= settings_.size())
            continue;
        const LayerSetting b = settings_[static_cast<std::size_t>(row)];
        LayerSetting a = edit(b);
        try {
            validateSetting(a, "setting");
        } catch (const Error&) {
            continue; // a combination the sliders cannot make; ignore rather than corrupt the plan
        }
        if (llm_) // a K-quant on a layer whose rows are not a multiple of 256 gets llama.cpp's fallback
            a = llm_->fitted(static_cast<std::size_t>(row), a);
        if (!whyNot(row, a).isEmpty())
            continue; // int or pruning on a language model: no GGUF type stores it
        r.push_back(row);
        before.push_back(b);
        after.push_back(a);
    }
    if (r.empty() || before == after)
        return;
    undo_->push(new SettingsCommand(this, std::move(r), std::move(before), std::move(after), text, dragId));
}

void Workbench::setAllSettings(const std::vector<LayerSetting>& s, const QString& text)
{
    if (s.size() != settings_.size() || s == settings_)
        return;
    std::vector<int> rows(s.size());
    for (std::size_t i = 0; i < rows.size(); ++i)
        rows[i] = static_cast<int>(i);
    undo_->push(new SettingsCommand(this, std::move(rows), settings_, s, text, 0));
}

void Workbench::replaceSettings(const std::vector<int>& rows, const std::vector<LayerSetting>& values)
{
    QList<int> changed;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        settings_[static_cast<std::size_t>(rows[k])] = values[k];
        changed << rows[k];
    }
    size_ = reportFor(settings_);
    emit settingsChanged(changed.size() == static_cast<int>(settings_.size()) ? QList<int>{} : changed);
    emit currentChanged(); // the old result no longer belongs to the plan
    emit modified();
    scheduleEvaluation();
}

void Workbench::scheduleEvaluation()
{
    // Not restarted by each change: during a continuous drag the engine is asked for the
    // newest plan every kDebounceMs, instead of only once the drag pauses.
    if (hasData() && !debounce_->isActive())
        debounce_->start();
}

void Workbench::evaluateNow()
{
    debounce_->stop();
    if (!hasData() || !isOpen())
        return;
    if (auto c = current(); c && c->complete())
        return;
    // The uncompressed plan is the baseline; a plan measured before is shown at once from the
    // history. Anything else goes to the engine.
    if (baseline_ && baseline_->complete() &&
        std::all_of(settings_.begin(), settings_.end(), [](const LayerSetting& s) { return s.isNone(); })) {
        current_ = baseline_;
        emit currentChanged();
        return;
    }
    for (const PlanPoint& p : points_)
        if (p.settings == settings_) {
            current_ = p.evaluation;
            emit currentChanged();
            return;
        }
    requested_ = engine_->evaluate(settings_);
}

std::shared_ptr<const Evaluation> Workbench::current() const
{
    return current_ && current_->settings == settings_ ? current_ : nullptr;
}

void Workbench::onEvaluated(quint64 generation, std::shared_ptr<const Evaluation> e)
{
    if (generation != requested_ || e->settings != settings_)
        return; // a result for a plan the user has left
    current_ = e;
    emit currentChanged();
    if (e->complete())
        addPoint(PointKind::Trail, tr("plan"), e->settings, e);
}

void Workbench::addPoint(PointKind kind, const QString& label, const std::vector<LayerSetting>& settings,
                         std::shared_ptr<const Evaluation> e, bool pareto)
{
    if (kind == PointKind::Trail) {
        // The same plan measured again moves to the end of the trail.
        points_.erase(std::remove_if(points_.begin(), points_.end(),
                                     [&](const PlanPoint& p) { return p.kind == PointKind::Trail && p.settings == settings; }),
                      points_.end());
        int trail = 0;
        for (const PlanPoint& p : points_)
            trail += p.kind == PointKind::Trail;
        if (trail >= kMaxTrail)
            points_.erase(std::find_if(points_.begin(), points_.end(),
                                       [](const PlanPoint& p) { return p.kind == PointKind::Trail; }));
    }
    PlanPoint p;
    p.id = nextPointId_++;
    p.kind = kind;
    p.label = label;
    p.settings = settings;
    p.sizeBytes = sizeOf(settings);
    p.bitsPerWeight = bitsPerWeightOf(settings);
    p.evaluation = std::move(e);
    p.pareto = pareto;
    points_.push_back(std::move(p));
    emit pointsChanged();
    emit modified();
}

const PlanPoint* Workbench::point(int id) const
{
    for (const PlanPoint& p : points_)
        if (p.id == id)
            return &p;
    return nullptr;
}

void Workbench::restorePoint(int id)
{
    if (const PlanPoint* p = point(id)) {
        const std::vector<LayerSetting> s = p->settings;
        setAllSettings(s, tr("Restore %1").arg(p->label));
    }
}

void Workbench::clearTrail()
{
    points_.erase(std::remove_if(points_.begin(), points_.end(),
                                 [](const PlanPoint& p) { return p.kind == PointKind::Trail; }),
                  points_.end());
    emit pointsChanged();
    emit modified();
}

void Workbench::setMetric(const QString& name)
{
    if (name == metric_)
        return;
    metric_ = name;
    emit metricChanged();
    emit modified();
}

QStringList Workbench::availableMetrics() const
{
    return baseline_ ? MetricInfo::available(*baseline_) : QStringList{};
}

const std::vector<Workbench::Preset>& Workbench::presets() const
{
    const auto convert = [](const std::vector<leger::Preset>& presets) {
        std::vector<Preset> out;
        for (const leger::Preset& q : presets)
            out.push_back({QString::fromStdString(q.name), q.setting});
        return out;
    };
    static const std::vector<Preset> onnx = convert(uniformPresets()), llm = convert(languageModelPresets());
    return llm_ ? llm : onnx;
}

std::vector<LayerSetting> Workbench::scanSettings() const
{
    return llm_ ? languageModelScanSettings() : defaultScanSettings();
}

void Workbench::startSensitivity()
{
    if (!hasData())
        return;
    job_ = engine_->startSensitivity(scanSettings(), metric_);
    emit jobChanged(true, 0, -1, tr("Sensitivity scan"));
}

void Workbench::startSweep(int points)
{
    if (!sensitivity_) {
        emit message(tr("Run a sensitivity scan first: the sweep follows its predictions."), true);
        return;
    }
    job_ = engine_->startSweep(sensitivity_, points);
    emit jobChanged(true, 0, -1, tr("Frontier sweep"));
}

void Workbench::startFitMaxDrop(double maxDrop)
{
    if (!sensitivity_) {
        emit message(tr("Run a sensitivity scan first: the fit follows its predictions."), true);
        return;
    }
    auto table = sensitivity_;
    if (table->evaluations.empty()) { // restored from a session: its baseline quality is measured again
        if (!baseline_ || !baseline_->complete()) {
            emit message(tr("Wait for the baseline to be measured."), true);
            return;
        }
        auto t = std::make_shared<SensitivityTable>(*table);
        try {
            t->baseline = quality(*baseline_, t->metric);
        } catch (const std::exception& e) {
            emit message(QString::fromStdString(e.what()), true);
            return;
        }
        table = std::move(t);
    }
    job_ = engine_->startFitMaxDrop(table, maxDrop);
    emit jobChanged(true, 0, -1, tr("Fit to the accuracy floor"));
}

void Workbench::startFitBudget(qint64 bytes)
{
    if (!sensitivity_) {
        emit message(tr("Run a sensitivity scan first: the fit follows its predictions."), true);
        return;
    }
    job_ = engine_->startFitBudget(sensitivity_, bytes);
    emit jobChanged(true, 0, -1, tr("Fit to the size budget"));
}

void Workbench::cancelJob()
{
    if (job_)
        engine_->cancelJob();
}

void Workbench::finishJob(const QString& text, bool error)
{
    job_ = 0;
    emit jobChanged(false, 0, 0, QString());
    emit message(text, error);
}

void Workbench::setBudgetBytes(std::optional<qint64> b)
{
    if (b == budget_)
        return;
    budget_ = b;
    emit chartSettingsChanged();
    emit modified();
}

void Workbench::setMaxDrop(std::optional<double> d)
{
    if (d == maxDrop_)
        return;
    maxDrop_ = d;
    emit chartSettingsChanged();
    emit modified();
}

void Workbench::setXAxis(const QString& axis)
{
    if (axis == xAxis_)
        return;
    xAxis_ = axis;
    emit chartSettingsChanged();
    emit modified();
}

std::string Workbench::planJson(const std::vector<LayerSetting>& s) const
{
    return Plan::compact(layers_, s).toJson();
}

std::vector<LayerSetting> Workbench::settingsFromPlanJson(const QString& json, const QString& source) const
{
    return Plan::fromJson(json.toStdString(), source.toStdString()).resolve(layers_);
}

ReportRequest Workbench::reportRequest() const
{
    ReportRequest rq;
    if (llm_) {
        // The report opens the model again: the engine's worker swaps this instance's weights.
        rq.languageModelPath = llm_->path();
        rq.tokens = tokens_;
        rq.textPath = dataPath_.toStdString();
        rq.windows.limit = dataLimit_;
        // A scan of a language model is a long job (layers x settings evaluations of the whole
        // text): the report shows the workbench's own scan and frontier when they were run (Search
        // menu, watched live), and does not start them behind a progress dialog.
        rq.runSensitivity = rq.runFrontier = false;
    } else {
        rq.model = model_;
        rq.data = data_;
        rq.pre = pre_;
        rq.synthetic = dataPath_.startsWith(kSynthetic);
    }
    rq.plan = settings_;
    rq.metric = metric_.toStdString();
    rq.maxDrop = maxDrop_;
    rq.budgetBytes = budget_;
    if (baseline_ && baseline_->complete())
        rq.baseline = baseline_;
    if (auto c = current(); c && c->complete())
        rq.planEvaluation = c;
    rq.sensitivity = sensitivity_;
    auto measured = [this](const PlanPoint& p) {
        MeasuredPlan m;
        m.label = p.label.toStdString();
        m.settings = p.settings;
        m.size = reportFor(p.settings);
        m.evaluation = *p.evaluation;
        m.pareto = p.pareto;
        return m;
    };
    for (const PlanPoint& p : points_) {
        if (p.kind == PointKind::Preset)
            rq.presets.push_back(measured(p));
        else if (p.kind == PointKind::Frontier)
            rq.frontier.push_back(measured(p));
    }
    // Presets still being measured are measured again by the report, all of them.
    if (rq.presets.size() != presets().size())
        rq.presets.clear();
    for (const auto& c : comparisons_)
        rq.comparisons.push_back(*c);
    rq.legerVersion = QCoreApplication::applicationVersion().toStdString();
    return rq;
}

/// What a background measurement of another model gives back to the GUI thread.
struct Workbench::CompareOutcome {
    QString path;
    std::shared_ptr<const ComparedModel> model; // null on failure
    QByteArray sha256;
    QString error;
    bool cancelled = false;
};

void Workbench::addComparison(const QString& path)
{
    const QString abs = QFileInfo(path).absoluteFilePath();
    auto refuse = [&](const QString& why) { emit message(tr("Cannot compare with %1: %2").arg(abs, why), true); };
    if (!hasData())
        return refuse(tr("open evaluation data first (the models are compared on the same data)."));
    if (data_ && !data_->hasLabels())
        return refuse(tr("the data has no labels. Without labels each model is measured against its own "
                         "uncompressed output (agreement, KL, SQNR), which does not compare two models."));
    if (abs == modelPath_)
        return refuse(tr("it is the open model."));
    const bool measured = std::any_of(comparisons_.begin(), comparisons_.end(),
                                      [&](const auto& c) { return QString::fromStdString(c->path) == abs; });
    if (measured || comparePending_.contains(abs))
        return refuse(tr("it is already compared."));
    comparePending_ << abs;
    emit comparisonsChanged();
    startNextComparison();
}

QStringList Workbench::pendingComparisons() const
{
    return comparePending_;
}

void Workbench::startNextComparison()
{
    if (compareCancel_ || comparePending_.isEmpty() || !hasData())
        return;
    const QString path = comparePending_.front();
    auto token = std::make_shared<CancelToken>();
    compareCancel_ = token;
    emit message(tr("Measuring %1 on the same data…").arg(QFileInfo(path).completeBaseName()), false);
    // The task holds the data and its own token: opening other files meanwhile only cancels it.
    // It calls back through queued calls to this object, which waits for it before it goes.
    compareFuture_ = QtConcurrent::run([this, token, path, data = data_, pre = pre_, llm = llm_, tokens = tokens_,
                                        limit = dataLimit_] {
        CompareOutcome o;
        o.path = path;
        if (token->isCancelled()) { // cancelled before it started (waitForFinished may run it here)
            o.cancelled = true;
        } else {
            try {
                o.sha256 = SessionFile::sha256(path);
                const SearchProgress progress = [this, token, path](std::int64_t done, std::int64_t total,
                                                                    const std::string& what) {
                    const QString text = tr("Measuring %1 (%2 of %3)…")
                                             .arg(QString::fromStdString(what))
                                             .arg(done + 1)
                                             .arg(total);
                    QMetaObject::invokeMethod(
                        this,
                        [this, token, text] {
                            if (token == compareCancel_)
                                emit message(text, false);
                        },
                        Qt::QueuedConnection);
                };
                // A language model is measured on the same windows of the same text, and must share
                // the open one's vocabulary (measureLanguageModel says so otherwise).
                o.model = std::make_shared<const ComparedModel>(
                    llm ? measureLanguageModel(path.toStdString(), *tokens, LlmEvaluator::Options{.limit = limit},
                                               llm->tokenizer(), languageModelPresets(), token.get(), progress)
                        : measureModel(path.toStdString(), *data, pre, uniformPresets(), token.get(), progress));
            } catch (const CancelledError&) {
                o.cancelled = true;
            } catch (const std::exception& e) {
                o.error = QString::fromStdString(e.what());
            }
        }
        QMetaObject::invokeMethod(this, [this, token, o] { finishComparison(token, o); }, Qt::QueuedConnection);
    });
}

void Workbench::finishComparison(const std::shared_ptr<CancelToken>& token, const CompareOutcome& o)
{
    if (token != compareCancel_)
        return; // stopped: the model or the data changed, or the comparisons were removed
    compareCancel_.reset();
    comparePending_.removeOne(o.path);
    if (o.model) {
        comparisons_.push_back(o.model);
        comparisonSha256_.push_back(o.sha256);
        const MeasuredPlan& base = o.model->points.front();
        QString text = tr("%1 measured on the same data: %2 parameters, %3 uncompressed")
                           .arg(QString::fromStdString(o.model->name))
                           .arg(QLocale().toString(static_cast<qlonglong>(o.model->parameters)))
                           .arg(QLocale().formattedDataSize(base.size.total, 1, QLocale::DataSizeSIFormat));
        if (const Interval* top1 = base.evaluation.metrics.find("top1"))
            text += tr(", top-1 %1").arg(MetricInfo::of("top1").format(top1->value * 100.0));
        emit message(text + QLatin1Char('.'), false);
        emit modified();
    } else if (!o.cancelled) {
        // Core's messages name the file; one that does not is given its name here.
        const QString why = o.error.contains(o.path) ? o.error : o.path + QStringLiteral(": ") + o.error;
        emit message(tr("Cannot compare with another model: %1").arg(why), true);
    }
    emit comparisonsChanged();
    startNextComparison();
}

void Workbench::stopComparisons()
{
    comparePending_.clear();
    if (compareCancel_)
        compareCancel_->cancel();
    compareCancel_.reset();
    // Short: the evaluation stops at its next chunk (reading a model is the longest step).
    compareFuture_.waitForFinished();
}

void Workbench::removeComparisons()
{
    if (comparisons_.empty() && comparePending_.isEmpty())
        return;
    stopComparisons();
    comparisons_.clear();
    comparisonSha256_.clear();
    emit comparisonsChanged();
    emit modified();
}

SessionData Workbench::toSession() const
{
    SessionData s;
    s.modelPath = modelPath_;
    s.modelSha256 = modelSha256_;
    s.dataPath = dataPath_;
    s.dataLimit = dataLimit_;
    s.planJson = QString::fromStdString(planJson(settings_));
    for (const PlanPoint& p : points_) {
        SessionPoint q;
        q.id = p.id;
        q.kind = QString::fromLatin1(toString(p.kind));
        q.label = p.label;
        q.planJson = QString::fromStdString(planJson(p.settings));
        q.sizeBytes = p.sizeBytes;
        q.bitsPerWeight = p.bitsPerWeight;
        q.metrics = p.evaluation->metrics.values;
        q.samples = p.evaluation->samples;
        q.total = p.evaluation->total;
        q.pareto = p.pareto;
        s.points.push_back(std::move(q));
    }
    s.metric = metric_;
    s.xAxis = xAxis_;
    s.budgetBytes = budget_;
    s.maxDrop = maxDrop_;
    for (std::size_t i = 0; i < comparisons_.size(); ++i)
        s.comparisons.push_back({QString::fromStdString(comparisons_[i]->path), comparisonSha256_.value(static_cast<qsizetype>(i))});
    for (const QString& path : comparePending_) // not measured yet: no checksum to keep
        s.comparisons.push_back({path, {}});
    if (sensitivity_) {
        s.sensitivityMetric = QString::fromStdString(sensitivity_->metric);
        for (const LayerSetting& c : sensitivity_->settings)
            s.sensitivitySettings << QString::fromStdString(settingSpec(c));
        for (const Layer& l : layers_)
            s.sensitivityLayers << QString::fromStdString(l.name);
        s.sensitivityDrop = sensitivity_->drop;
    }
    return s;
}

bool Workbench::restoreSession(const SessionData& s, QString* error, QString* warning)
{
    if (!open(s.modelPath, s.dataPath, error))
        return false;
    // An empty checksum is unknown (a hand-written session): the check is skipped, as the format says.
    const bool same = s.modelSha256.isEmpty() || modelSha256_ == s.modelSha256;
    if (warning)
        warning->clear();
    if (!same && warning)
        *warning = tr("%1 has changed since the session was saved: its measured points were dropped.").arg(s.modelPath);
    try {
        const auto plan = settingsFromPlanJson(s.planJson, s.modelPath + " (session plan)");
        if (same) {
            for (const SessionPoint& q : s.points) {
                PlanPoint p;
                p.id = nextPointId_++;
                p.kind = pointKindFromString(q.kind);
                p.label = q.label;
                p.settings = settingsFromPlanJson(q.planJson, tr("session point %1").arg(q.id));
                p.sizeBytes = sizeOf(p.settings);
                p.bitsPerWeight = bitsPerWeightOf(p.settings);
                auto e = std::make_shared<Evaluation>();
                e->settings = p.settings;
                e->metrics.values = q.metrics;
                e->metrics.samples = q.samples;
                e->samples = q.samples;
                e->total = q.total;
                p.evaluation = std::move(e);
                p.pareto = q.pareto;
                points_.push_back(std::move(p));
            }
            if (!s.sensitivityDrop.empty() && s.sensitivityLayers.size() == static_cast<int>(layers_.size())) {
                auto t = std::make_shared<SensitivityTable>();
                t->metric = s.sensitivityMetric.toStdString();
                for (const QString& spec : s.sensitivitySettings)
                    t->settings.push_back(parseSettingSpec(spec.toStdString()));
                t->drop = s.sensitivityDrop;
                sensitivity_ = std::move(t);
            }
        }
        metric_ = s.metric;
        xAxis_ = s.xAxis;
        budget_ = s.budgetBytes;
        maxDrop_ = s.maxDrop;
        undo_->clear();
        replaceSettings([&] {
            std::vector<int> rows(layers_.size());
            for (std::size_t i = 0; i < rows.size(); ++i)
                rows[i] = static_cast<int>(i);
            return rows;
        }(), plan);
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
    emit pointsChanged();
    emit sensitivityChanged();
    emit metricChanged();
    emit chartSettingsChanged();
    // Compared models are measured again (the session keeps which files, not their numbers).
    QStringList notes;
    for (const SessionComparison& c : s.comparisons) {
        if (!QFileInfo(c.modelPath).isFile()) {
            notes << tr("%1 (compared in the session) is missing: it is no longer compared.").arg(c.modelPath);
            continue;
        }
        if (!c.sha256.isEmpty() && SessionFile::sha256(c.modelPath) != c.sha256)
            notes << tr("%1 (compared in the session) has changed since the session was saved: it is measured again "
                        "as it is now.")
                         .arg(c.modelPath);
        addComparison(c.modelPath);
    }
    if (!notes.isEmpty() && warning)
        *warning += (warning->isEmpty() ? QString() : QStringLiteral("\n")) + notes.join(QLatin1Char('\n'));
    return true;
}

} // namespace leger::ui
