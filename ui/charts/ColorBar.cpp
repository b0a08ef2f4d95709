#include "charts/ColorBar.h"

#include <QLinearGradient>
#include <QPainter>
#include <cmath>

#include "charts/ColorMap.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {
constexpr int kBarWidth = 14;
constexpr int kPad = 6;
} // namespace

ColorBar::ColorBar(QWidget* parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

void ColorBar::setRange(double low, double high, const QString& title)
{
    low_ = low;
    high_ = high;
    title_ = title;
    updateGeometry();
    update();
}

int ColorBar::preferredWidth() const
{
    const QFontMetrics fm = fontMetrics();
    const NiceScale s = NiceScale::fit(low_, high_, 5);
    const int labels = std::max(fm.horizontalAdvance(s.format(low_)), fm.horizontalAdvance(s.format(high_)));
    return kPad + kBarWidth + 4 + labels + kPad + fm.height() + kPad;
}

QSize ColorBar::sizeHint() const
{
    return {preferredWidth(), 240};
}

QSize ColorBar::minimumSizeHint() const
{
    return {preferredWidth(), 120};
}

void ColorBar::paint(QPainter& p, const QRectF& rect) const
{
    const QFontMetricsF fm(font());
    p.save();
    p.setFont(font());
    const QColor text = palette().color(QPalette::Text);
    const QRectF bar(rect.left() + kPad, rect.top() + fm.height() / 2 + kPad, kBarWidth,
                     rect.height() - fm.height() - 2 * kPad);
    QLinearGradient g(bar.bottomLeft(), bar.topLeft());
    for (int i = 0; i <= 10; ++i)
        g.setColorAt(i / 10.0, viridis(i / 10.0));
    p.fillRect(bar, g);
    p.setPen(QPen(text, 0));
    p.drawRect(bar);

    // Ticks on round numbers inside [low, high].
    const NiceScale s = NiceScale::fit(low_, high_, 5);
    const double span = high_ - low_;
    if (span > 0 && std::isfinite(span)) {
        for (double t = std::ceil(low_ / s.step - 1e-9) * s.step; t <= high_ + s.step * 1e-9; t += s.step) {
            const double y = bar.bottom() - (t - low_) / span * bar.height();
            p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3, y));
            p.drawText(QRectF(bar.right() + 5, y - fm.height() / 2, rect.right() - bar.right(), fm.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, s.format(t));
        }
    }
    // The quantity along the right edge, read bottom to top like a y-axis title.
    p.translate(rect.right() - kPad - fm.descent(), bar.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-bar.height() / 2, -fm.ascent(), bar.height(), fm.height()), Qt::AlignCenter,
               fm.elidedText(title_, Qt::ElideRight, bar.height()));
    p.restore();
}

void ColorBar::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    paint(p, rect());
}

} // namespace leger::ui
