#pragma once
// The open document: the model, its evaluation data, the plan being edited (with undo), the
// points the engine measured, and the searches' results. Panels observe it through signals and
// change the plan only through its undoable edits; it owns the engine bridge and decides what
// to ask it (a debounced evaluation of the current plan, the uniform presets, searches), and
// measures other models on the same data, in the background, to compare against.

#include <QByteArray>
#include <QFuture>
#include <QObject>
#include <QStringList>
#include <QVector>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "compress/LayerSetting.h"
#include "compress/SizeReport.h"
#include "data/Preprocessing.h"
#include "engine/EngineBridge.h"
#include "model/Layer.h"
#include "workbench/PlanPoint.h"

class QTimer;
class QUndoStack;

namespace leger {
class CancelToken;
class Dataset;
class LanguageModel;
class Model;
struct ComparedModel;
struct Evaluation;
struct ReportRequest;
struct SensitivityTable;
} // namespace leger

namespace leger::ui {

struct SessionData;

class Workbench : public QObject {
    Q_OBJECT
public:
    explicit Workbench(QObject* parent = nullptr);
    ~Workbench() override;

    /// Opens an ONNX model and, when dataPath is not empty, its evaluation data (preprocessing
    /// from the model's sidecar); or a language model (GGUF, Hugging Face safetensors) and a
    /// UTF-8 text to measure it on. On failure returns false with *error naming the file; the
    /// open document stays as it was.
    bool open(const QString& modelPath, const QString& dataPath, QString* error);
    /// Replaces the evaluation data of the open model (same contract as open).
    bool openData(const QString& dataPath, QString* error);
    bool isOpen() const { return model_ != nullptr || llm_ != nullptr; }
    /// The open language model (null for ONNX models). Its decoder belongs to the engine's
    /// worker; the GUI thread reads only its layers, original weights, sizes and exports.
    std::shared_ptr<const LanguageModel> languageModel() const { return llm_; }
    bool isLanguageModel() const { return llm_ != nullptr; }
    QString modelPath() const { return modelPath_; }
    QString dataPath() const { return dataPath_; }
    qint64 dataLimit() const { return dataLimit_; }
    void setDataLimit(qint64 limit) { dataLimit_ = limit; }
    /// The open ONNX model (null for language models).
    const Model* model() const { return model_.get(); }
    /// The model, shared (background work keeps it alive when another model is opened).
    std::shared_ptr<const Model> sharedModel() const { return model_; }
    const std::vector<Layer>& layers() const { return layers_; }
    const SizeModel* sizeModel() const { return sizeModel_.get(); }
    std::int64_t sizeOf(const std::vector<LayerSetting>& settings) const;
    double bitsPerWeightOf(const std::vector<LayerSetting>& settings) const;

    // The plan.
    const std::vector<LayerSetting>& settings() const { return settings_; }
    const SizeReport& sizeReport() const { return size_; }
    /// Changes some layers (undoable): each row's setting becomes edit(its setting). Edits of
    /// one slider drag share a dragId (non-zero) and become one undo step.
    void editLayers(const QList<int>& rows, const std::function<LayerSetting(LayerSetting)>& edit,
                    const QString& text, int dragId = 0);
    /// Every layer at once (presets, restoring a point), one undo step.
    void setAllSettings(const std::vector<LayerSetting>& settings, const QString& text);
    /// A new id for the edits of one slider drag.
    int newDragId() { return ++dragSerial_; }
    QUndoStack* undoStack() const { return undo_; }
    /// Called by SettingsCommand only.
    void replaceSettings(const std::vector<int>& rows, const std::vector<LayerSetting>& values);
    /// The plan as a recipe: the most common setting as default, exact entries for the rest.
    std::string planJson(const std::vector<LayerSetting>& settings) const;
    std::vector<LayerSetting> settingsFromPlanJson(const QString& json, const QString& source) const;

    // Measurements.
    EngineBridge* engine() const { return engine_; }
    bool hasData() const { return data_ != nullptr || tokens_ != nullptr; }
    /// Why a setting cannot be used for a layer of the open model (empty: it can).
    QString whyNot(int layer, const LayerSetting& s) const;
    /// The uncompressed model's evaluation (partial while it refines), or null.
    std::shared_ptr<const Evaluation> baseline() const { return baseline_; }
    /// The newest result for the current plan (partial while it refines), or null when the
    /// engine has not yet measured this plan: never a result of another plan.
    std::shared_ptr<const Evaluation> current() const;
    const QVector<PlanPoint>& points() const { return points_; }
    const PlanPoint* point(int id) const;
    /// Makes a measured point's plan the current one (undoable).
    void restorePoint(int id);
    /// Drops the trail (keeps presets, frontier and fits).
    void clearTrail();

    QString metric() const { return metric_; }
    void setMetric(const QString& name);
    QStringList availableMetrics() const;

    /// The uniform presets offered for all layers and drawn on the chart.
    struct Preset {
        QString name;
        LayerSetting setting;
    };
    const std::vector<Preset>& presets() const;

    // Searches (one at a time; progress and results through the signals).
    std::shared_ptr<const SensitivityTable> sensitivity() const { return sensitivity_; }
    /// The settings a sensitivity scan tries (mildest first, as the sweep needs).
    std::vector<LayerSetting> scanSettings() const;
    void startSensitivity();
    void startSweep(int points = 12);
    void startFitMaxDrop(double maxDrop);
    void startFitBudget(qint64 bytes);
    void cancelJob();
    bool jobRunning() const { return job_ != 0; }

    /// What a report needs from the open document: the model, data, plan, limits and every
    /// complete measurement so far (the report measures only what is missing).
    ReportRequest reportRequest() const;

    // Other models measured on the same data ("compress, or choose another model?").
    /// Measures the model at path (ONNX or .leger; its own sidecar preprocessing, else this
    /// model's) on the open data, uncompressed and under each uniform preset, in the background
    /// (one model at a time, off the engine's worker, which keeps serving the live plan); the
    /// result joins comparisons(). Refuses, through message(text, true) naming the file, when no
    /// labelled data is open, when the file is the open model or already compared, and when
    /// the model cannot be read or the data does not fit it.
    void addComparison(const QString& path);
    /// The models measured so far, in the order they were added.
    const std::vector<std::shared_ptr<const ComparedModel>>& comparisons() const { return comparisons_; }
    /// Files added but not yet measured (the first one is being measured), absolute.
    QStringList pendingComparisons() const;
    /// Drops every compared model and cancels the measurement (not undoable).
    void removeComparisons();

    // Sessions.
    SessionData toSession() const;
    /// Opens the session's model and data and restores its plan and points. On failure returns
    /// false with *error; *warning tells of a model changed since the session was saved.
    bool restoreSession(const SessionData& s, QString* error, QString* warning);

    // The chart's user lines, kept with the session.
    std::optional<qint64> budgetBytes() const { return budget_; }
    void setBudgetBytes(std::optional<qint64> b);
    std::optional<double> maxDrop() const { return maxDrop_; }
    void setMaxDrop(std::optional<double> d);
    QString xAxis() const { return xAxis_; }
    void setXAxis(const QString& axis);

    /// Waits for the debounce: asks the engine for the current plan now (tests).
    void evaluateNow();

signals:
    /// A model was opened (or closed): everything else was reset.
    void modelChanged();
    /// Layers' settings changed (rows empty: all); size() is already updated.
    void settingsChanged(const QList<int>& rows);
    void currentChanged();
    void baselineChanged();
    void pointsChanged();
    void sensitivityChanged();
    void metricChanged();
    void chartSettingsChanged();
    /// A search runs (done of total, total -1 unknown) or ended (running false).
    void jobChanged(bool running, qint64 done, qint64 total, const QString& what);
    void engineStateChanged(leger::ui::EngineState state);
    /// Something the user should read (an error or a search's outcome), for the status bar.
    void message(const QString& text, bool error);
    /// Something changed that the session keeps (for autosave).
    void modified();
    /// A compared model was measured or removed, or one was added to be measured.
    void comparisonsChanged();

private:
    void resetForModel();
    bool openLanguageModel(const QString& absModel, const QString& absData, QString* error);
    SizeReport reportFor(const std::vector<LayerSetting>& settings) const;
    void scheduleEvaluation();
    void onEvaluated(quint64 generation, std::shared_ptr<const Evaluation> e);
    void addPoint(PointKind kind, const QString& label, const std::vector<LayerSetting>& settings,
                  std::shared_ptr<const Evaluation> e, bool pareto = false);
    void startSource();
    void measurePresets();
    void finishJob(const QString& text, bool error);
    struct CompareOutcome;
    void startNextComparison();
    void finishComparison(const std::shared_ptr<CancelToken>& token, const CompareOutcome& outcome);
    /// Cancels the measurement and waits for it; forgets the files waiting (not the results).
    void stopComparisons();

    EngineBridge* engine_;
    QUndoStack* undo_;
    QTimer* debounce_;
    std::shared_ptr<const Model> model_;
    std::shared_ptr<const Dataset> data_;
    std::shared_ptr<const SizeModel> sizeModel_;
    std::shared_ptr<LanguageModel> llm_;                     // instead of model_ and sizeModel_
    std::shared_ptr<const std::vector<std::int32_t>> tokens_; // its text, instead of data_
    Preprocessing pre_;
    QString modelPath_, dataPath_;
    QByteArray modelSha256_; // of the file as opened (autosaves must not hash a large model again)
    qint64 dataLimit_ = -1;
    std::vector<Layer> layers_;
    std::vector<LayerSetting> settings_;
    SizeReport size_;
    int dragSerial_ = 0;

    quint64 requested_ = 0; // generation asked for the current plan
    std::shared_ptr<const Evaluation> current_, baseline_;
    QVector<PlanPoint> points_;
    int nextPointId_ = 1;
    QString metric_;
    std::shared_ptr<const SensitivityTable> sensitivity_;
    quint64 job_ = 0;
    std::optional<qint64> budget_;
    std::optional<double> maxDrop_;
    QString xAxis_ = "mb";

    std::vector<std::shared_ptr<const ComparedModel>> comparisons_;
    QList<QByteArray> comparisonSha256_; // of each compared file as measured (hex)
    QStringList comparePending_;         // absolute paths; [0] is being measured while compareFuture_ runs
    std::shared_ptr<CancelToken> compareCancel_; // of the running measurement; null: none
    QFuture<void> compareFuture_;
};

} // namespace leger::ui
