#include "MainWindow.h"

#include <QAction>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTableView>
#include <QVBoxLayout>

#include "io/OnnxReader.h"
#include "layers/LayerTableModel.h"
#include "model/Model.h"
#include "util/Error.h"

namespace leger::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), layers_(new LayerTableModel(this))
{
    setWindowTitle(tr("Leger"));
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    summary_ = new QLabel(tr("Open an ONNX model to see its compressible layers."), central);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layerView_ = new QTableView(central);
    layerView_->setModel(layers_);
    layerView_->setSelectionBehavior(QAbstractItemView::SelectRows);
    layerView_->horizontalHeader()->setSectionResizeMode(LayerTableModel::Name, QHeaderView::Stretch);
    layerView_->verticalHeader()->hide();
    layout->addWidget(summary_);
    layout->addWidget(layerView_);
    setCentralWidget(central);

    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, &MainWindow::chooseModel);
    open->setShortcut(QKeySequence::Open);
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    resize(900, 560);
}

MainWindow::~MainWindow() = default;

void MainWindow::chooseModel()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), QString(), tr("ONNX models (*.onnx)"));
    if (!path.isEmpty())
        openModel(path);
}

bool MainWindow::openModel(const QString& path)
{
    std::unique_ptr<Model> model;
    try {
        model = std::make_unique<Model>(OnnxReader::readModel(path.toStdString()));
    } catch (const Error& e) {
        QMessageBox::critical(this, tr("Cannot open model"), QString::fromStdString(e.what()));
        return false;
    }
    auto layers = Layer::find(*model);
    qint64 params = 0;
    for (const auto& l : layers)
        params += l.parameters;
    const QLocale locale;
    summary_->setText(tr("<b>%1</b> — %2 nodes, %3 compressible layers, %4 parameters in them, %5 on disk")
                          .arg(QFileInfo(path).fileName().toHtmlEscaped())
                          .arg(model->graph.nodes.size())
                          .arg(layers.size())
                          .arg(locale.toString(params))
                          .arg(locale.formattedDataSize(model->fileBytes)));
    layers_->setLayers(std::move(layers));
    model_ = std::move(model);
    setWindowTitle(tr("%1 — Leger").arg(QFileInfo(path).fileName()));
    statusBar()->showMessage(path);
    return true;
}

} // namespace leger::ui
