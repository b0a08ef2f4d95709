#pragma once
// The legend of a colour-mapped value: the map as a vertical bar from low (bottom) to high
// (top), ticks on round numbers, and the quantity with its unit.

#include <QWidget>

namespace leger::ui {

class ColorBar : public QWidget {
    Q_OBJECT

public:
    explicit ColorBar(QWidget* parent = nullptr);

    void setRange(double low, double high, const QString& title);
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;
    /// Paints the bar into rect (for the widget and for saved images).
    void paint(QPainter& p, const QRectF& rect) const;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    int preferredWidth() const;

    double low_ = 0, high_ = 1;
    QString title_;
};

} // namespace leger::ui
