#pragma once
// The sensitivity table (layers x settings: the metric's drop with that layer alone
// compressed) as a heatmap, or as bars of one setting's column sorted by drop.

#include <QStringList>
#include <QWidget>
#include <memory>
#include <vector>

namespace leger::ui {

class SensitivityView : public QWidget {
    Q_OBJECT
public:
    enum class Mode { Heatmap, Bars };

    explicit SensitivityView(QWidget* parent = nullptr);
    ~SensitivityView() override;

    /// drop[layer][setting] in the metric's display unit (positive is worse); empty clears.
    void setTable(const QStringList& layers, const QStringList& settings,
                  const std::vector<std::vector<double>>& drop, const QString& unit);
    void setMode(Mode mode);
    Mode mode() const;
    /// The setting (column) whose drops the bars show.
    void setBarsColumn(int column);
    bool saveImage(const QString& path, QString* error) const;

signals:
    void layerClicked(int layer);

private:
    struct Private;
    std::unique_ptr<Private> d_;
};

} // namespace leger::ui
