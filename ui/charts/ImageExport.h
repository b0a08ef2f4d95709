#pragma once
// Saving a chart as PNG or SVG (chosen by the file's extension), written atomically so that a
// failed save never leaves half a file where a good one was.

#include <QByteArray>
#include <QColor>
#include <QSize>
#include <QString>
#include <functional>

class QPainter;
class QWidget;

namespace leger::ui {

/// Paints `paint` on a canvas of `size` logical pixels (PNG at device pixel ratio 2, or 1 for
/// very large images; or SVG) and
/// writes it to path. Returns false and sets *error, naming the file, on failure.
bool saveImage(const QString& path, QSize size, const QColor& background,
               const std::function<void(QPainter&)>& paint, QString* error);
/// The same, encoded in memory ("png" or "svg"); empty on failure.
QByteArray encodeImage(const QString& format, QSize size, const QColor& background,
                       const std::function<void(QPainter&)>& paint, const QString& title = {});
/// The widget as it is laid out now, encoded ("png" or "svg"); empty on failure.
QByteArray widgetImage(QWidget* widget, const QString& format);
/// The widget as it is laid out now.
bool saveWidgetImage(QWidget* widget, const QString& path, QString* error);

} // namespace leger::ui
