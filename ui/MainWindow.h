#pragma once

#include <QMainWindow>
#include <functional>
#include <memory>

class QAction;
class QDockWidget;
class QMenu;

namespace leger {
enum class ExportFormat;
}

namespace leger::ui {

class Autosaver;
class LayersPanel;
class LayerViewsPanel;
class SummaryStrip;
class TradeoffPanel;
class Workbench;

/// Assembles the panels, docks and actions; each panel owns its own wiring.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Opens a model (and data, when given); on failure shows the error and keeps the current state.
    bool openModel(const QString& path, const QString& dataPath = {});
    bool openData(const QString& path);
    bool openSession(const QString& path);
    /// Measures another model on the open data to compare with (in the background; the outcome
    /// shows in the status bar, failures as errors).
    void compareWith(const QString& path);
    /// Opens dropped files by kind: sessions, models (.onnx), and anything else as data.
    void openPaths(const QStringList& paths);
    bool saveSession(const QString& path);
    /// Offers to restore the autosaved session of a run that did not end cleanly; true if restored.
    bool offerRecovery();
    /// Writes the compressed model in the background; modelExported follows.
    void exportModelTo(const QString& path, ExportFormat format);
    /// Writes the open language model as GGUF at the current plan, in the background (its size
    /// is the size shown; modelExported tells).
    void exportGgufTo(const QString& path);
    bool exportChartTo(const QString& path);
    bool exportTableTo(const QString& path);
    /// Builds a report in the background (measuring what the session has not) and writes it as
    /// HTML, as a PDF and its figures as JSON beside it (same name, .pdf, .json); reportExported follows.
    void exportReportTo(const QString& htmlPath);
    /// Errors are shown in dialogs (true) or only in the status bar (tests, screenshots).
    void setInteractive(bool on) { interactive_ = on; }

    Workbench* workbench() const { return workbench_; }
    LayersPanel* layersPanel() const { return layers_; }
    TradeoffPanel* tradeoffPanel() const { return tradeoff_; }
    LayerViewsPanel* layerViews() const { return views_; }
    SummaryStrip* summary() const { return summary_; }
    Autosaver* autosaver() const { return autosaver_; }

signals:
    /// A model export ended: bytes written, or the error (empty on success).
    void modelExported(const QString& path, qint64 bytes, const QString& error);
    /// A report export ended (error empty on success, "cancelled" when cancelled).
    void reportExported(const QString& htmlPath, const QString& pdfPath, const QString& error);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createActions();
    void updateTitle();
    void updateRecentMenus();
    void showError(const QString& title, const QString& text);
    void chooseModel();
    void chooseData();
    void chooseSession();
    void chooseComparison();
    bool saveSessionAs();
    void exportModel();
    void exportChart();
    void exportTable();
    void exportPlan();
    void exportReport();
    /// Runs an export in the background; its outcome goes to the status bar (or an error dialog)
    /// and modelExported.
    struct ExportOutcome;
    void runExport(const QString& path, std::function<ExportOutcome()> work);
    void importPlan();
    void askBudgetFit();
    void askFloorFit();

    Workbench* workbench_;
    LayersPanel* layers_;
    TradeoffPanel* tradeoff_;
    LayerViewsPanel* views_;
    SummaryStrip* summary_;
    Autosaver* autosaver_;
    QDockWidget* layersDock_;
    QDockWidget* viewsDock_;
    QMenu* recentModels_ = nullptr;
    QMenu* recentData_ = nullptr;
    QString sessionPath_;
    bool interactive_ = true;
};

} // namespace leger::ui
