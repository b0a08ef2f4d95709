#pragma once
// The cells of the sensitivity heatmap (rows = layers, columns = settings, colour = value),
// painted by hand because Qt Charts has no heatmap. Lives in a scroll area; paints only the
// rows it is asked to, so hundreds of layers cost nothing until they are scrolled to.

#include <QStringList>
#include <QWidget>
#include <functional>
#include <vector>

namespace leger::ui {

class HeatmapCanvas : public QWidget {
    Q_OBJECT

public:
    explicit HeatmapCanvas(QWidget* parent = nullptr);

    /// values[row][column]; NaN cells are drawn as "no value". Empty rows clear.
    void setTable(const QStringList& rows, const QStringList& columns, const std::vector<std::vector<double>>& values,
                  const QString& unit);
    /// The colour range: low (at most 0) to high, on round numbers.
    double low() const { return low_; }
    double high() const { return high_; }
    /// The size the whole table wants (every row at its natural height, capped so that a saved
    /// image stays reasonable: rows get thinner, and lose their text, beyond maxHeight).
    QSize naturalSize(int maxHeight) const;
    /// Paints the rows in `exposed` of the table as it looks at `size`, the column headers at
    /// headerTop (0 for the whole table; the visible top in the scroll area).
    void paintTable(QPainter& p, const QSize& size, const QRect& exposed, double headerTop) const;
    QString formatValue(double v) const;
    int rowAt(const QPoint& pos) const;
    int columnAt(const QPoint& pos) const;

    std::function<void(int row)> onRowClicked;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;

private:
    struct Geometry {
        double left = 0, top = 0, colW = 0, rowH = 0;
    };
    Geometry geometryFor(const QSize& size) const;
    void measure();

    QStringList rows_, columns_;
    std::vector<std::vector<double>> values_;
    QString unit_;
    double low_ = 0, high_ = 1;
    int decimals_ = 2;
    int labelWidth_ = 0, minColW_ = 48, minRowH_ = 16, headerH_ = 20;
};

} // namespace leger::ui
