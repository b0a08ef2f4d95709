#pragma once

#include <QMainWindow>
#include <memory>

class QLabel;
class QTableView;

namespace leger {
class Model;
}

namespace leger::ui {

class LayerTableModel;

/// Assembles the panels and actions; each panel owns its own wiring.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Opens a model; on failure shows the error and keeps the current state.
    bool openModel(const QString& path);

private:
    void chooseModel();

    std::unique_ptr<Model> model_;
    LayerTableModel* layers_ = nullptr;
    QTableView* layerView_ = nullptr;
    QLabel* summary_ = nullptr;
};

} // namespace leger::ui
