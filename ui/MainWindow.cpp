#include "MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QInputDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPointer>
#include <QProgressDialog>
#include <QSettings>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QUndoStack>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "charts/LayerBytesChart.h"
#include "charts/SensitivityView.h"
#include "charts/TradeoffChart.h"
#include "charts/WeightHistogram.h"
#include "compress/Plan.h"
#include "io/Exporter.h"
#include "layers/LayerTableModel.h"
#include "layers/LayersPanel.h"
#include "llm/LanguageModel.h"
#include "panels/LayerViewsPanel.h"
#include "panels/SummaryStrip.h"
#include "panels/TradeoffPanel.h"
#include "report/Report.h"
#include "report/ReportDocument.h"
#include "util/Error.h"
#include "session/AppSettings.h"
#include "session/Autosaver.h"
#include "session/CsvExport.h"
#include "session/SessionFile.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

namespace leger::ui {

namespace {
const QString kSessionFilter = QObject::tr("Leger sessions (*.leger-session)");
const QString kModelFilter = QObject::tr("Models (*.onnx *.leger *.gguf *.safetensors config.json);;ONNX models (*.onnx);;"
                                         "Language models (*.gguf *.safetensors config.json)");
const QString kCompareFilter = QObject::tr("Models (*.onnx *.leger *.gguf *.safetensors config.json);;ONNX models (*.onnx *.leger);;"
                                           "Language models with the same vocabulary (*.gguf *.safetensors config.json)");
const QString kDataFilter =
    QObject::tr("Evaluation data (*-idx3-ubyte *-idx3-ubyte.gz *.npz *.npy *.txt);;Text for language models (*.txt);;"
                "All files (*)");

/// A file dialog that starts in, and remembers, the last folder used for opening (or saving).
QString askPath(QWidget* parent, bool save, const QString& title, const QString& name, const QString& filter,
                QString* selected = nullptr)
{
    Setting<QString>& last = save ? AppSettings::lastSaveDir() : AppSettings::lastOpenDir();
    const QString start = last.get().isEmpty() ? name : QDir(last.get()).filePath(name);
    const QString path = save ? QFileDialog::getSaveFileName(parent, title, start, filter, selected)
                              : QFileDialog::getOpenFileName(parent, title, start, filter, selected);
    if (!path.isEmpty())
        last.set(QFileInfo(path).absolutePath());
    return path;
}

bool isSession(const QString& p) { return p.endsWith(".leger-session", Qt::CaseInsensitive); }
bool isModel(const QString& p)
{
    return p.endsWith(".onnx", Qt::CaseInsensitive) || p.endsWith(".leger", Qt::CaseInsensitive) ||
           p.endsWith(".gguf", Qt::CaseInsensitive) || p.endsWith(".safetensors", Qt::CaseInsensitive);
}
} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), workbench_(new Workbench(this))
{
    setWindowTitle(tr("Leger"));
    setAcceptDrops(true);
    setDockOptions(QMainWindow::AnimatedDocks | QMainWindow::AllowTabbedDocks);
    // The layer table takes the window's full height; the per-layer views sit under the chart.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);

    summary_ = new SummaryStrip(workbench_, this);
    tradeoff_ = new TradeoffPanel(workbench_, this);
    auto* central = new QWidget(this);
    auto* cl = new QVBoxLayout(central);
    cl->setContentsMargins(0, 0, 0, 0);
    cl->setSpacing(0);
    cl->addWidget(summary_);
    cl->addWidget(tradeoff_, 1);
    setCentralWidget(central);

    layers_ = new LayersPanel(workbench_, this);
    layersDock_ = new QDockWidget(tr("Layers"), this);
    layersDock_->setObjectName("layersDock");
    layersDock_->setWidget(layers_);
    addDockWidget(Qt::LeftDockWidgetArea, layersDock_);

    views_ = new LayerViewsPanel(workbench_, this);
    viewsDock_ = new QDockWidget(tr("Layer views"), this);
    viewsDock_->setObjectName("layerViewsDock");
    viewsDock_->setWidget(views_);
    addDockWidget(Qt::BottomDockWidgetArea, viewsDock_);
    resizeDocks({layersDock_}, {640}, Qt::Horizontal);
    resizeDocks({viewsDock_}, {320}, Qt::Vertical);

    connect(layers_, &LayersPanel::currentLayerChanged, views_, &LayerViewsPanel::setLayer);
    connect(views_, &LayerViewsPanel::layerClicked, layers_, &LayersPanel::selectLayer);
    connect(workbench_, &Workbench::message, this, [this](const QString& text, bool error) {
        statusBar()->showMessage(text, error ? 0 : 8000);
        // Not exec(): a nested event loop inside a signal from the engine would re-enter it.
        if (error && interactive_ && isVisible()) {
            auto* box = new QMessageBox(QMessageBox::Warning, tr("Leger"), text, QMessageBox::Ok, this);
            box->setAttribute(Qt::WA_DeleteOnClose);
            box->open();
        }
    });
    connect(workbench_, &Workbench::modelChanged, this, &MainWindow::updateTitle);

    autosaver_ = new Autosaver([this] { return workbench_->toSession(); }, Autosaver::recoveryPath(), this);
    connect(workbench_, &Workbench::modified, autosaver_, [this] {
        if (workbench_->isOpen())
            autosaver_->markDirty();
    });
    connect(workbench_->undoStack(), &QUndoStack::cleanChanged, this, [this] { updateTitle(); });
    connect(autosaver_, &Autosaver::saveFailed, this,
            [this](const QString& m) { statusBar()->showMessage(tr("Autosave failed: %1").arg(m)); });

    createActions();
    restoreGeometry(AppSettings::windowGeometry().get());
    restoreState(AppSettings::windowState().get());
    if (!AppSettings::windowGeometry().get().isEmpty())
        return;
    resize(1400, 900);
}

MainWindow::~MainWindow() = default;

void MainWindow::createActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, &MainWindow::chooseModel);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(tr("Open an ONNX model (Ctrl+O)"));
    recentModels_ = file->addMenu(tr("Recent &Models"));
    QAction* data = file->addAction(tr("Open &Data…"), this, &MainWindow::chooseData);
    data->setShortcut(Qt::CTRL | Qt::SHIFT | Qt::Key_O);
    QAction* synthetic = file->addAction(tr("Use S&ynthetic Inputs…"), this, [this] {
        bool ok = false;
        const int n = QInputDialog::getInt(this, tr("Synthetic inputs"),
                                           tr("Random inputs of the model's input shape (images uniform in [0, 1), "
                                              "other inputs N(0, 1)).\nThey measure agreement with the uncompressed "
                                              "model, not accuracy.\n\nNumber of inputs:"),
                                           256, 1, 100000, 1, &ok);
        if (ok)
            openData(QStringLiteral("synthetic:%1").arg(n));
    });
    synthetic->setToolTip(tr("For a model without evaluation data: measure on random inputs"));
    recentData_ = file->addMenu(tr("Recent D&ata"));
    file->addSeparator();
    QAction* compare = file->addAction(tr("&Compare With Another Model…"), this, &MainWindow::chooseComparison);
    compare->setToolTip(tr("Measure another model (e.g. a smaller one) on the same data, uncompressed and under each "
                           "preset, and draw it on the trade-off chart: does compressing this model beat using the "
                           "other one?"));
    QAction* uncompare = file->addAction(tr("&Remove Compared Models"), workbench_, &Workbench::removeComparisons);
    const auto updateCompare = [=, this] {
        // Language models are measured on a text, and compared by their own perplexity.
        synthetic->setEnabled(!workbench_->isLanguageModel());
        compare->setEnabled(workbench_->hasData());
        uncompare->setEnabled(workbench_->hasData() &&
                              (!workbench_->comparisons().empty() || !workbench_->pendingComparisons().isEmpty()));
    };
    // openData() changes the data without a new model; it resets the baseline.
    connect(workbench_, &Workbench::modelChanged, this, updateCompare);
    connect(workbench_, &Workbench::baselineChanged, this, updateCompare);
    connect(workbench_, &Workbench::comparisonsChanged, this, updateCompare);
    updateCompare();
    file->addSeparator();
    file->addAction(tr("Open &Session…"), this, &MainWindow::chooseSession);
    QAction* save = file->addAction(tr("&Save Session"), this, [this] {
        if (sessionPath_.isEmpty())
            saveSessionAs();
        else
            saveSession(sessionPath_);
    });
    save->setShortcut(QKeySequence::Save);
    QAction* saveAs = file->addAction(tr("Save Session &As…"), this, &MainWindow::saveSessionAs);
    saveAs->setShortcut(QKeySequence::SaveAs);
    file->addSeparator();
    QMenu* exp = file->addMenu(tr("&Export"));
    QAction* expModel = exp->addAction(tr("Compressed &Model…"), this, &MainWindow::exportModel);
    expModel->setShortcut(Qt::CTRL | Qt::Key_E);
    exp->addAction(tr("&Trade-off Chart (PNG/SVG)…"), this, &MainWindow::exportChart);
    exp->addAction(tr("Layer &Table (CSV)…"), this, &MainWindow::exportTable);
    exp->addAction(tr("&Plan as Recipe (JSON)…"), this, &MainWindow::exportPlan);
    exp->addSeparator();
    QAction* expReport = exp->addAction(tr("&Report (HTML and PDF)…"), this, &MainWindow::exportReport);
    expReport->setShortcut(Qt::CTRL | Qt::Key_R);
    expReport->setToolTip(tr("A report to hand on: the plan, its measured quality and exact size, the trade-off "
                             "chart, sensitivity, per-class accuracy, flips and a production checklist"));
    file->addAction(tr("&Import Plan Recipe…"), this, &MainWindow::importPlan);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = workbench_->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = workbench_->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    QAction* find = edit->addAction(tr("&Filter Layers"), this, [this] {
        layersDock_->show();
        layers_->filter()->setFocus();
        layers_->filter()->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    QAction* selectAll = edit->addAction(tr("Apply to &All Layers"), this, [this] { layers_->setApplyToAll(true); });
    selectAll->setShortcut(Qt::CTRL | Qt::SHIFT | Qt::Key_A);

    QMenu* search = menuBar()->addMenu(tr("&Search"));
    QAction* scan = search->addAction(tr("&Sensitivity Scan"), workbench_, &Workbench::startSensitivity);
    scan->setToolTip(tr("Measure each layer alone at each setting of a ladder from mild to aggressive "
                        "(int8 .. int2 g32; q8_0 .. q2_K for language models)"));
    QAction* sweep = search->addAction(tr("Sweep the &Frontier"), this, [this] { workbench_->startSweep(12); });
    sweep->setToolTip(tr("Measure 12 plans from uncompressed to most compressed along the sensitivity scan's best path"));
    QAction* floor = search->addAction(tr("Fit to the Accuracy F&loor…"), this, &MainWindow::askFloorFit);
    floor->setToolTip(tr("The smallest plan whose measured drop is within the acceptable drop"));
    QAction* budget = search->addAction(tr("Fit to the Size &Budget…"), this, &MainWindow::askBudgetFit);
    budget->setToolTip(tr("The most accurate plan within the size budget"));
    search->addSeparator();
    QAction* cancel = search->addAction(tr("&Cancel Search"), workbench_, &Workbench::cancelJob);
    cancel->setEnabled(false);
    connect(workbench_, &Workbench::jobChanged, this, [=, this](bool running) {
        cancel->setEnabled(running);
        for (QAction* a : {scan, sweep, floor, budget})
            a->setEnabled(!running && workbench_->hasData());
    });
    connect(workbench_, &Workbench::modelChanged, this, [=, this] {
        for (QAction* a : {scan, sweep, floor, budget})
            a->setEnabled(workbench_->hasData());
    });

    QToolBar* tools = addToolBar(tr("Main"));
    tools->setObjectName("mainToolBar");
    tools->setToolButtonStyle(Qt::ToolButtonTextOnly);
    tools->addAction(open);
    tools->addAction(undo);
    tools->addAction(redo);
    tools->addSeparator();
    tools->addAction(scan);
    tools->addAction(sweep);
    tools->addAction(floor);
    tools->addAction(budget);
    tools->addSeparator();
    tools->addAction(expModel);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(layersDock_->toggleViewAction());
    view->addAction(viewsDock_->toggleViewAction());
    view->addAction(tools->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Metrics…"), this, [this] {
        QString text;
        for (const char* n : {"top1", "top5", "agreement", "kl", "sqnr_db", "flips_lost", "perplexity"}) {
            const MetricInfo m = MetricInfo::of(n);
            text += QStringLiteral("<p><b>%1</b>: %2</p>").arg(m.title.toHtmlEscaped(), m.definition.toHtmlEscaped());
        }
        text += tr("<p><b>Size</b>: the exact bytes of the .leger export of the plan (language models: of the GGUF "
                   "export).</p>"
                   "<p><b>Bits per weight</b>: 8 × the bytes encoding the layers' weights / their number.</p>");
        QMessageBox::information(this, tr("What the numbers mean"), text);
    });
    help->addAction(tr("&About Leger"), this, [this] {
        QMessageBox::about(this, tr("About Leger"),
                           tr("<b>Leger %1</b><p>An interactive workbench for neural-network compression: every "
                              "number shown is measured or an exact byte count.</p>")
                               .arg(QApplication::applicationVersion()));
    });
    updateRecentMenus();
}

void MainWindow::updateTitle()
{
    const QString name = workbench_->isOpen() ? QFileInfo(workbench_->modelPath()).fileName() : tr("no model");
    setWindowTitle(tr("%1%2 — Leger").arg(name, workbench_->undoStack()->isClean() ? QString() : QStringLiteral(" *")));
}

void MainWindow::updateRecentMenus()
{
    const auto fill = [this](QMenu* menu, const QStringList& files, bool model) {
        menu->clear();
        for (const QString& f : files)
            menu->addAction(QFileInfo(f).fileName(), this, [this, f, model] { model ? openModel(f) : openData(f); })
                ->setToolTip(f);
        menu->setEnabled(!files.isEmpty());
        menu->setToolTipsVisible(true);
    };
    fill(recentModels_, AppSettings::recentModels(), true);
    fill(recentData_, AppSettings::recentData(), false);
}

void MainWindow::showError(const QString& title, const QString& text)
{
    statusBar()->showMessage(text);
    if (interactive_)
        QMessageBox::critical(this, title, text);
}

bool MainWindow::openModel(const QString& path, const QString& dataPath)
{
    const QString data = dataPath;
    QString error;
    QApplication::setOverrideCursor(Qt::WaitCursor);
    const bool ok = workbench_->open(path, data, &error);
    QApplication::restoreOverrideCursor();
    if (!ok) {
        showError(tr("Cannot open the model"), error);
        return false;
    }
    sessionPath_.clear();
    AppSettings::addRecentModel(workbench_->modelPath());
    if (!data.isEmpty())
        AppSettings::addRecentData(workbench_->dataPath());
    updateRecentMenus();
    statusBar()->showMessage(data.isEmpty() ? tr("Opened %1 — open evaluation data (File → Open Data, or Use Synthetic Inputs) to measure it")
                                                  .arg(workbench_->modelPath())
                                            : tr("Opened %1 with %2").arg(workbench_->modelPath(), workbench_->dataPath()),
                             10000);
    return true;
}

bool MainWindow::openData(const QString& path)
{
    QString error;
    QApplication::setOverrideCursor(Qt::WaitCursor);
    const bool ok = workbench_->openData(path, &error);
    QApplication::restoreOverrideCursor();
    if (!ok) {
        showError(tr("Cannot use this data"), error);
        return false;
    }
    if (!path.startsWith("synthetic:"))
        AppSettings::addRecentData(workbench_->dataPath());
    updateRecentMenus();
    return true;
}

bool MainWindow::openSession(const QString& path)
{
    QString error, warning;
    const auto s = SessionFile::read(path, &error);
    if (!s || !workbench_->restoreSession(*s, &error, &warning)) {
        showError(tr("Cannot open the session"), error);
        return false;
    }
    sessionPath_ = path;
    workbench_->undoStack()->setClean();
    if (!warning.isEmpty())
        showError(tr("Files have changed"), warning);
    statusBar()->showMessage(tr("Session %1 opened").arg(path), 8000);
    return true;
}

bool MainWindow::saveSession(const QString& path)
{
    QString error;
    if (!SessionFile::write(path, workbench_->toSession(), &error)) {
        showError(tr("Cannot save the session"), error);
        return false;
    }
    sessionPath_ = path;
    workbench_->undoStack()->setClean();
    autosaver_->markClean();
    statusBar()->showMessage(tr("Session saved to %1").arg(path), 8000);
    return true;
}

bool MainWindow::offerRecovery()
{
    if (!autosaver_->hasRecovery())
        return false;
    QString error;
    const auto s = SessionFile::read(autosaver_->path(), &error);
    if (!s) {
        autosaver_->markClean();
        return false;
    }
    if (QMessageBox::question(this, tr("Recover the last session?"),
                              tr("Leger did not close cleanly last time. Restore the unsaved session of %1?")
                                  .arg(QFileInfo(s->modelPath).fileName())) != QMessageBox::Yes) {
        autosaver_->markClean();
        return false;
    }
    QString warning;
    if (!workbench_->restoreSession(*s, &error, &warning)) {
        showError(tr("Cannot recover the session"), error);
        return false;
    }
    if (!warning.isEmpty())
        showError(tr("Files have changed"), warning);
    return true;
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    AppSettings::windowGeometry().set(saveGeometry());
    AppSettings::windowState().set(saveState());
    // A clean exit leaves no recovery file; the session itself is saved only when asked.
    if (workbench_->isOpen() && !workbench_->undoStack()->isClean() && interactive_) {
        const auto answer = QMessageBox::question(this, tr("Save the session?"),
                                                  tr("The plan has changes that are not saved in a session."),
                                                  QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
        if (answer == QMessageBox::Cancel || (answer == QMessageBox::Save && !saveSessionAs())) {
            event->ignore();
            return;
        }
    }
    autosaver_->markClean();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    QStringList paths;
    for (const QUrl& url : event->mimeData()->urls())
        if (!url.toLocalFile().isEmpty())
            paths << url.toLocalFile();
    openPaths(paths);
    event->acceptProposedAction();
}

void MainWindow::openPaths(const QStringList& paths)
{
    // Models first, so that data dropped with its model goes with it.
    for (const QString& path : paths)
        if (isSession(path))
            openSession(path);
        else if (isModel(path))
            openModel(path);
    for (const QString& path : paths)
        if (!isSession(path) && !isModel(path))
            openData(path);
}

void MainWindow::chooseModel()
{
    const QString path = askPath(this, false, tr("Open Model"), {}, kModelFilter);
    if (!path.isEmpty())
        openModel(path);
}

void MainWindow::chooseData()
{
    const QString path = askPath(this, false, tr("Open Evaluation Data"), {}, kDataFilter);
    if (!path.isEmpty())
        openData(path);
}

void MainWindow::chooseComparison()
{
    const QString path = askPath(this, false, tr("Compare With Another Model"), {}, kCompareFilter);
    if (!path.isEmpty())
        compareWith(path);
}

void MainWindow::compareWith(const QString& path)
{
    workbench_->addComparison(path);
}

void MainWindow::chooseSession()
{
    const QString path = askPath(this, false, tr("Open Session"), {}, kSessionFilter);
    if (!path.isEmpty())
        openSession(path);
}

bool MainWindow::saveSessionAs()
{
    QString path = askPath(this, true, tr("Save Session"), QFileInfo(workbench_->modelPath()).completeBaseName() + ".leger-session", kSessionFilter);
    if (path.isEmpty())
        return false;
    if (!isSession(path))
        path += ".leger-session";
    return saveSession(path);
}

void MainWindow::exportModel()
{
    if (!workbench_->isOpen())
        return;
    QString filter;
    const QString base = QFileInfo(workbench_->modelPath()).completeBaseName();
    if (workbench_->isLanguageModel()) {
        const QString path = askPath(this, true, tr("Export Compressed Model"), base + "-leger.gguf",
                                     tr("GGUF for llama.cpp, exact size shown (*.gguf)"));
        if (!path.isEmpty())
            exportGgufTo(path);
        return;
    }
    const QString path = askPath(
        this, true, tr("Export Compressed Model"), base + ".leger",
        tr("Leger container, exact size shown (*.leger);;ONNX with DequantizeLinear (*.onnx);;ONNX with float weights (*.onnx)"),
        &filter);
    if (path.isEmpty())
        return;
    exportModelTo(path, filter.startsWith("Leger")                ? ExportFormat::Leger
                        : filter.contains("DequantizeLinear") ? ExportFormat::OnnxQdq
                                                               : ExportFormat::OnnxFloat);
}

struct MainWindow::ExportOutcome {
    qint64 bytes = 0;
    QString message, error;
};

void MainWindow::runExport(const QString& path, std::function<ExportOutcome()> work)
{
    statusBar()->showMessage(tr("Exporting %1…").arg(path));
    auto* watcher = new QFutureWatcher<ExportOutcome>(this);
    connect(watcher, &QFutureWatcher<ExportOutcome>::finished, this, [this, watcher, path] {
        const ExportOutcome r = watcher->result();
        watcher->deleteLater();
        if (!r.error.isEmpty())
            showError(tr("Export failed"), r.error);
        else
            statusBar()->showMessage(r.message, 15000);
        emit modelExported(path, r.bytes, r.error);
    });
    watcher->setFuture(QtConcurrent::run([work = std::move(work)]() -> ExportOutcome {
        try { // an exception must not cross into the GUI thread through the future
            return work();
        } catch (const std::exception& e) {
            return {0, {}, QString::fromStdString(e.what())};
        }
    }));
}

namespace {

QString sizeCheckText(qint64 bytes, std::int64_t shown)
{
    return bytes == shown ? QObject::tr(" (exactly the size shown)") : QObject::tr(" (the size shown was %1 bytes!)").arg(shown);
}

} // namespace

void MainWindow::exportModelTo(const QString& path, ExportFormat format)
{
    if (!workbench_->isOpen())
        return;
    auto model = workbench_->sharedModel();
    const auto layers = workbench_->layers();
    const auto settings = workbench_->settings();
    const std::int64_t shown = workbench_->sizeReport().total;
    // The lambda holds the model: opening another one meanwhile is safe.
    runExport(path, [model, layers, settings, format, path, shown] {
        ExportOutcome o;
        const ExportResult r = leger::exportModel(*model, layers, settings, format, path.toStdString());
        o.bytes = r.bytes;
        o.message = QObject::tr("Exported %1: %2 bytes").arg(path).arg(r.bytes);
        if (format == ExportFormat::Leger)
            o.message += sizeCheckText(r.bytes, shown);
        if (!r.sidecar.empty())
            o.message += QObject::tr("; preprocessing in %1").arg(QString::fromStdString(r.sidecar));
        for (const std::string& w : r.warnings)
            o.message += QStringLiteral("; ") + QString::fromStdString(w);
        return o;
    });
}

void MainWindow::exportGgufTo(const QString& path)
{
    auto model = workbench_->languageModel();
    if (!model)
        return;
    const auto settings = workbench_->settings();
    const std::int64_t shown = workbench_->sizeReport().total;
    // Reads the original weights and the norms, which the engine's worker never changes.
    runExport(path, [model, settings, path, shown] {
        model->exportGguf(settings, path.toStdString());
        ExportOutcome o;
        o.bytes = static_cast<qint64>(QFileInfo(path).size());
        o.message = QObject::tr("Exported %1: %2 bytes").arg(path).arg(o.bytes) + sizeCheckText(o.bytes, shown);
        return o;
    });
}

void MainWindow::exportReport()
{
    if (!workbench_->isOpen())
        return;
    if (!workbench_->hasData()) {
        showError(tr("Export Report"), tr("Open evaluation data first: a report shows measured numbers."));
        return;
    }
    const QString base = QFileInfo(workbench_->modelPath()).completeBaseName();
    const QString path = askPath(this, true, tr("Export Report"), base + "-report.html",
                                 tr("HTML report, with a PDF and the figures as JSON beside (*.html)"));
    if (!path.isEmpty())
        exportReportTo(path);
}

void MainWindow::exportReportTo(const QString& htmlPath)
{
    if (!workbench_->isOpen() || !workbench_->hasData())
        return;
    const QFileInfo info(htmlPath);
    const QString pdfPath = info.dir().filePath(info.completeBaseName() + ".pdf");
    const ReportRequest request = workbench_->reportRequest();
    auto cancel = std::make_shared<CancelToken>();
    QPointer<QProgressDialog> dialog;
    if (interactive_) {
        dialog = new QProgressDialog(tr("Building the report…"), tr("Cancel"), 0, 0, this);
        dialog->setWindowTitle(tr("Export Report"));
        dialog->setMinimumDuration(300);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &QProgressDialog::canceled, this, [cancel] { cancel->cancel(); });
    }
    statusBar()->showMessage(tr("Building the report…"));
    struct Outcome {
        std::shared_ptr<ReportData> data;
        QString error;
        bool cancelled = false;
    };
    auto* watcher = new QFutureWatcher<Outcome>(this);
    connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher, dialog, htmlPath, pdfPath] {
        const Outcome r = watcher->result();
        watcher->deleteLater();
        if (dialog)
            dialog->close();
        QString error = r.error;
        if (r.cancelled) {
            statusBar()->showMessage(tr("Report cancelled."), 8000);
            emit reportExported(htmlPath, pdfPath, tr("cancelled"));
            return;
        }
        if (error.isEmpty()) {
            // The charts are drawn here, in the GUI thread.
            try {
                const ReportDocument doc(*r.data);
                const QString jsonPath = QFileInfo(pdfPath).dir().filePath(QFileInfo(pdfPath).completeBaseName() + ".json");
                if (doc.writeHtml(htmlPath, &error) && doc.writePdf(pdfPath, &error))
                    doc.writeJson(jsonPath, &error);
            } catch (const std::exception& e) {
                error = QString::fromStdString(e.what());
            }
        }
        if (!error.isEmpty()) {
            showError(tr("Report failed"), error);
        } else {
            statusBar()->showMessage(tr("Report written to %1 and %2: %3")
                                         .arg(htmlPath, pdfPath,
                                              r.data->ready() ? tr("every stated check passed")
                                                              : tr("a check failed (see its checklist)")),
                                     15000);
        }
        emit reportExported(htmlPath, pdfPath, error);
    });
    // The progress callback runs in the worker thread: it posts to the GUI thread.
    auto progress = [this, dialog](std::int64_t done, std::int64_t total, const std::string& what) {
        QMetaObject::invokeMethod(this, [this, dialog, done, total, text = QString::fromStdString(what)] {
            if (dialog) {
                dialog->setMaximum(static_cast<int>(total));
                dialog->setValue(static_cast<int>(done));
                dialog->setLabelText(tr("Building the report: %1").arg(text));
            } else {
                statusBar()->showMessage(tr("Building the report: %1").arg(text));
            }
        });
    };
    watcher->setFuture(QtConcurrent::run([request, cancel, progress]() -> Outcome {
        Outcome o;
        try {
            o.data = std::make_shared<ReportData>(buildReport(request, cancel.get(), progress));
        } catch (const CancelledError&) {
            o.cancelled = true;
        } catch (const std::exception& e) {
            o.error = QString::fromStdString(e.what());
        }
        return o;
    }));
}

void MainWindow::exportChart()
{
    const QString path = askPath(this, true, tr("Export Chart"), QStringLiteral("tradeoff.png"), tr("PNG image (*.png);;SVG drawing (*.svg)"));
    if (!path.isEmpty())
        exportChartTo(path);
}

bool MainWindow::exportChartTo(const QString& path)
{
    QString error;
    if (!tradeoff_->chart()->saveImage(path, &error)) {
        showError(tr("Cannot export the chart"), error);
        return false;
    }
    statusBar()->showMessage(tr("Chart written to %1").arg(path), 8000);
    return true;
}

void MainWindow::exportTable()
{
    const QString path = askPath(this, true, tr("Export Layer Table"), QStringLiteral("layers.csv"), tr("CSV (*.csv)"));
    if (!path.isEmpty())
        exportTableTo(path);
}

bool MainWindow::exportTableTo(const QString& path)
{
    QString error;
    if (!writeCsv(*layers_->model(), path, &error)) {
        showError(tr("Cannot export the table"), error);
        return false;
    }
    statusBar()->showMessage(tr("Layer table written to %1").arg(path), 8000);
    return true;
}

void MainWindow::exportPlan()
{
    const QString path = askPath(this, true, tr("Export Plan"), QStringLiteral("plan.json"), tr("Plan recipe (*.json)"));
    if (path.isEmpty())
        return;
    try {
        Plan::fromJson(workbench_->planJson(workbench_->settings())).writeFile(path.toStdString());
        statusBar()->showMessage(tr("Plan written to %1 (use it with leger-cli eval --plan)").arg(path), 8000);
    } catch (const std::exception& e) {
        showError(tr("Cannot export the plan"), QString::fromStdString(e.what()));
    }
}

void MainWindow::importPlan()
{
    const QString path = askPath(this, false, tr("Import Plan"), {}, tr("Plan recipe (*.json)"));
    if (path.isEmpty())
        return;
    try {
        const auto settings = Plan::readFile(path.toStdString()).resolve(workbench_->layers());
        workbench_->setAllSettings(settings, tr("Import plan %1").arg(QFileInfo(path).fileName()));
    } catch (const std::exception& e) {
        showError(tr("Cannot import the plan"), QString::fromStdString(e.what()));
    }
}

void MainWindow::askFloorFit()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    bool ok = false;
    const double start = workbench_->maxDrop() ? *workbench_->maxDrop() * m.scale : 0.5;
    const double drop = QInputDialog::getDouble(this, tr("Fit to the accuracy floor"),
                                                tr("Acceptable drop of %1 (%2):").arg(m.title, m.unit == "%" ? tr("points") : m.unit),
                                                start, 0.0, 100.0, 2, &ok);
    if (!ok)
        return;
    workbench_->setMaxDrop(drop / m.scale);
    workbench_->startFitMaxDrop(drop / m.scale);
}

void MainWindow::askBudgetFit()
{
    bool ok = false;
    const double start = workbench_->budgetBytes() ? static_cast<double>(*workbench_->budgetBytes()) / 1e6
                                                   : static_cast<double>(workbench_->sizeReport().total) / 2e6;
    const double mb = QInputDialog::getDouble(this, tr("Fit to the size budget"), tr("Size budget (MB, 10^6 bytes):"), start,
                                              0.0001, 1e6, 4, &ok);
    if (!ok)
        return;
    const auto bytes = static_cast<qint64>(mb * 1e6);
    workbench_->setBudgetBytes(bytes);
    workbench_->startFitBudget(bytes);
}

} // namespace leger::ui
