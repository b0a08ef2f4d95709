#include "charts/HeatmapCanvas.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "charts/ColorMap.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {
constexpr int kMaxLabelWidth = 240;
constexpr double kMaxColW = 150, kMaxRowH = 30;
} // namespace

HeatmapCanvas::HeatmapCanvas(QWidget* parent) : QWidget(parent)
{
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
    measure();
}

void HeatmapCanvas::setTable(const QStringList& rows, const QStringList& columns,
                             const std::vector<std::vector<double>>& values, const QString& unit)
{
    rows_ = rows;
    columns_ = columns;
    values_ = values;
    values_.resize(static_cast<std::size_t>(rows_.size()));
    for (auto& r : values_)
        r.resize(static_cast<std::size_t>(columns_.size()), std::nan(""));
    unit_ = unit;

    double lo = 0, hi = 0;
    for (const auto& r : values_)
        for (double v : r)
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
    // Small negative drops (a compressed layer that happens to score better) are noise next to
    // the real drops: they share the lowest colour rather than stretch the scale below zero.
    if (hi > 0 && lo > -0.1 * hi)
        lo = 0;
    const NiceScale s = NiceScale::fit(lo, hi > lo ? hi : lo + 1, 5);
    low_ = s.min;
    high_ = s.max;
    // Digits enough to tell cells apart at the table's scale.
    const double mag = std::max(std::abs(lo), std::abs(hi));
    decimals_ = mag >= 100 ? 0 : mag >= 10 ? 1 : mag >= 1 ? 2 : 3;
    measure();
    update();
}

void HeatmapCanvas::measure()
{
    const QFontMetrics fm = fontMetrics();
    int label = 0;
    for (const QString& r : std::as_const(rows_))
        label = std::max(label, fm.horizontalAdvance(r));
    labelWidth_ = std::min(label, kMaxLabelWidth) + 12;
    int col = fm.horizontalAdvance(QString::number(-88.888, 'f', decimals_));
    for (const QString& c : std::as_const(columns_))
        col = std::max(col, fm.horizontalAdvance(c));
    minColW_ = std::clamp(col + 10, 44, 110);
    minRowH_ = fm.height() + 4;
    headerH_ = fm.height() + 10;
    setMinimumSize(minimumSizeHint());
    updateGeometry();
}

QSize HeatmapCanvas::minimumSizeHint() const
{
    if (rows_.isEmpty())
        return {200, 120};
    return {labelWidth_ + static_cast<int>(columns_.size()) * minColW_ + 4,
            headerH_ + static_cast<int>(rows_.size()) * minRowH_ + 2};
}

QSize HeatmapCanvas::sizeHint() const
{
    return minimumSizeHint();
}

QSize HeatmapCanvas::naturalSize(int maxHeight) const
{
    if (rows_.isEmpty())
        return minimumSizeHint();
    const int rows = static_cast<int>(rows_.size());
    const int width = labelWidth_ + static_cast<int>(columns_.size()) * std::max(minColW_, 72) + 4;
    // Roomy rows when they fit, else the smallest that keep their text, else thinner.
    int rowH = std::max(minRowH_, 22);
    if (headerH_ + rows * rowH > maxHeight)
        rowH = std::max(minRowH_, 2);
    if (headerH_ + rows * rowH > maxHeight)
        rowH = std::max(2, (maxHeight - headerH_) / rows);
    return {width, headerH_ + rows * rowH + 2};
}

HeatmapCanvas::Geometry HeatmapCanvas::geometryFor(const QSize& size) const
{
    Geometry g;
    g.left = labelWidth_;
    g.top = headerH_;
    if (rows_.isEmpty() || columns_.isEmpty())
        return g;
    g.colW = std::clamp((size.width() - g.left - 4) / static_cast<double>(columns_.size()), 2.0, kMaxColW);
    g.rowH = std::clamp((size.height() - g.top - 2) / static_cast<double>(rows_.size()), 1.0, kMaxRowH);
    return g;
}

void HeatmapCanvas::paintTable(QPainter& p, const QSize& size, const QRect& exposed, double headerTop) const
{
    const QPalette pal = palette();
    p.fillRect(exposed, pal.color(QPalette::Base));
    p.setFont(font());
    const QFontMetricsF fm(font());
    if (rows_.isEmpty() || columns_.isEmpty()) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter, QStringLiteral("No sensitivity table yet"));
        return;
    }
    const Geometry g = geometryFor(size);
    const double span = high_ - low_;
    const bool rowText = g.rowH >= fm.height();

    // Only the rows in the exposed area (the scroll area shows a window onto the table).
    const int first = std::max(0, static_cast<int>((exposed.top() - g.top) / g.rowH));
    const int last = std::min(static_cast<int>(rows_.size()) - 1, static_cast<int>((exposed.bottom() - g.top) / g.rowH));
    const double gap = g.rowH >= 6 && g.colW >= 6 ? 1.0 : 0.0;
    for (int r = first; r <= last; ++r) {
        const double y = g.top + r * g.rowH;
        if (rowText) {
            p.setPen(pal.color(QPalette::Text));
            p.drawText(QRectF(4, y, g.left - 10, g.rowH), Qt::AlignRight | Qt::AlignVCenter,
                       fm.elidedText(rows_[r], Qt::ElideMiddle, g.left - 10));
        }
        for (qsizetype c = 0; c < columns_.size(); ++c) {
            const double v = values_[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
            const QRectF cell(g.left + static_cast<double>(c) * g.colW, y, g.colW - gap, g.rowH - gap);
            const QColor fill = std::isfinite(v) ? viridis(span > 0 ? (v - low_) / span : 0) : pal.color(QPalette::Mid);
            p.fillRect(cell, fill);
            if (!rowText)
                continue;
            const QString text = std::isfinite(v) ? formatValue(v) : QStringLiteral("\u2013");
            if (fm.horizontalAdvance(text) + 6 <= cell.width()) {
                p.setPen(textColorOn(fill));
                p.drawText(cell, Qt::AlignCenter, text);
            }
        }
    }

    // Column headers last, over the rows: at headerTop they stay in view while the rows scroll.
    p.fillRect(QRectF(0, headerTop, size.width(), g.top), pal.color(QPalette::Base));
    p.setPen(pal.color(QPalette::Text));
    for (qsizetype c = 0; c < columns_.size(); ++c) {
        const QRectF r(g.left + static_cast<double>(c) * g.colW, headerTop, g.colW, g.top);
        p.drawText(r.adjusted(2, 0, -2, -3), Qt::AlignHCenter | Qt::AlignBottom,
                   fm.elidedText(columns_[c], Qt::ElideMiddle, r.width() - 4));
    }
}

QString HeatmapCanvas::formatValue(double v) const
{
    QString text = QString::number(v, 'f', decimals_);
    if (text.startsWith('-') && text.mid(1).remove('0').remove('.').isEmpty())
        text.remove(0, 1); // "-0.0": a tiny negative rounds to zero
    return text;
}

void HeatmapCanvas::paintEvent(QPaintEvent* event)
{
    QPainter p(this);
    // The scroll area shows part of the canvas: keep the headers at the top of that part.
    const double headerTop = visibleRegion().boundingRect().top();
    paintTable(p, size(), event->rect().united(QRect(0, static_cast<int>(headerTop), width(), headerH_)), headerTop);
}

int HeatmapCanvas::rowAt(const QPoint& pos) const
{
    const Geometry g = geometryFor(size());
    if (rows_.isEmpty() || pos.y() < g.top || pos.y() < visibleRegion().boundingRect().top() + g.top)
        return -1; // above the table, or on the (sticky) headers
    const int r = static_cast<int>((pos.y() - g.top) / g.rowH);
    return r < rows_.size() ? r : -1;
}

int HeatmapCanvas::columnAt(const QPoint& pos) const
{
    const Geometry g = geometryFor(size());
    if (columns_.isEmpty() || pos.x() < g.left)
        return -1;
    const int c = static_cast<int>((pos.x() - g.left) / g.colW);
    return c < columns_.size() ? c : -1;
}

void HeatmapCanvas::mouseReleaseEvent(QMouseEvent* event)
{
    const int r = rowAt(event->position().toPoint());
    if (event->button() == Qt::LeftButton && r >= 0 && onRowClicked)
        onRowClicked(r);
    QWidget::mouseReleaseEvent(event);
}

void HeatmapCanvas::mouseMoveEvent(QMouseEvent* event)
{
    setCursor(rowAt(event->position().toPoint()) >= 0 ? Qt::PointingHandCursor : Qt::ArrowCursor);
    QWidget::mouseMoveEvent(event);
}

bool HeatmapCanvas::event(QEvent* event)
{
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const int r = rowAt(help->pos()), c = columnAt(help->pos());
        QString text;
        if (r >= 0 && c >= 0) {
            const double v = values_[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
            text = QString("<b>%1</b><br>at %2: drop %3 %4")
                       .arg(rows_[r].toHtmlEscaped(), columns_[c].toHtmlEscaped(),
                            std::isfinite(v) ? QString::number(v, 'g', 6) : QStringLiteral("not measured"),
                            std::isfinite(v) ? unit_.toHtmlEscaped() : QString());
        } else if (r >= 0) {
            text = rows_[r].toHtmlEscaped();
        } else if (c >= 0) {
            text = columns_[c].toHtmlEscaped();
        }
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(help->globalPos(), text, this);
        return true;
    }
    if (event->type() == QEvent::FontChange)
        measure();
    return QWidget::event(event);
}

} // namespace leger::ui
