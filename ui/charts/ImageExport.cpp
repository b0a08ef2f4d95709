#include "charts/ImageExport.h"

#include <QFileInfo>
#include <QImage>
#include <QPainter>
#include <QBuffer>
#include <QSvgGenerator>
#include <QWidget>

#include "session/SaveFile.h"

namespace leger::ui {

namespace {

bool fail(QString* error, const QString& message)
{
    if (error)
        *error = message;
    return false;
}

} // namespace

QByteArray encodeImage(const QString& format, QSize size, const QColor& background,
                       const std::function<void(QPainter&)>& paint, const QString& title)
{
    QByteArray bytes;
    if (size.isEmpty() || (format != "png" && format != "svg"))
        return bytes;
    QBuffer file(&bytes);
    file.open(QIODevice::WriteOnly);
    if (format == "png") {
        // Twice the logical size, so that text and thin lines stay crisp when the image is
        // shown on a high-DPI screen or in a printed report; once for very tall images (a
        // heatmap of hundreds of layers) to keep the buffer under ~64 MB.
        const int ratio = qint64(size.width()) * size.height() * 4 * 4 <= (qint64(64) << 20) ? 2 : 1;
        QImage image(size * ratio, QImage::Format_ARGB32_Premultiplied);
        image.setDevicePixelRatio(ratio);
        image.fill(background);
        QPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setRenderHint(QPainter::TextAntialiasing);
        paint(painter);
        painter.end();
        if (!image.save(&file, "PNG"))
            bytes.clear();
    } else {
        QSvgGenerator svg;
        svg.setOutputDevice(&file);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setResolution(96); // CSS pixels: the file's size in mm is its size on screen
        svg.setTitle(title);
        svg.setDescription("Leger chart");
        QPainter painter(&svg);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.fillRect(QRect(QPoint(0, 0), size), background);
        paint(painter);
        painter.end();
        // Qt names the generic families as fontconfig does ("Sans Serif"); browsers know them by
        // their CSS names, and fall back to a serif face otherwise.
        bytes.replace("font-family=\"Sans Serif\"", "font-family=\"sans-serif\"");
        bytes.replace("font-family=\"Serif\"", "font-family=\"serif\"");
        bytes.replace("font-family=\"Monospace\"", "font-family=\"monospace\"");
    }
    return bytes;
}

bool saveImage(const QString& path, QSize size, const QColor& background,
               const std::function<void(QPainter&)>& paint, QString* error)
{
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext != "png" && ext != "svg")
        return fail(error, QString("Cannot save %1: unknown image format (use .png or .svg)").arg(path));
    if (size.isEmpty())
        return fail(error, QString("Cannot save %1: the chart has no size").arg(path));
    // Encoded in memory, then written atomically (session/SaveFile.h says why not QSaveFile).
    const QByteArray bytes = encodeImage(ext, size, background, paint, QFileInfo(path).completeBaseName());
    if (bytes.isEmpty())
        return fail(error, QString("Cannot write %1: %2 encoding failed").arg(path, ext.toUpper()));
    return saveFile(path, bytes, error);
}

QByteArray widgetImage(QWidget* widget, const QString& format)
{
    // A widget never shown has not been laid out yet; render() lays it out at its current size.
    const QSize size = widget->size().expandedTo(widget->minimumSizeHint());
    if (widget->size() != size)
        widget->resize(size);
    return encodeImage(format, size, widget->palette().color(QPalette::Base),
                       [widget](QPainter& p) { widget->render(&p, QPoint(), QRegion(), QWidget::DrawChildren); });
}

bool saveWidgetImage(QWidget* widget, const QString& path, QString* error)
{
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext != "png" && ext != "svg")
        return fail(error, QString("Cannot save %1: unknown image format (use .png or .svg)").arg(path));
    const QByteArray bytes = widgetImage(widget, ext);
    if (bytes.isEmpty())
        return fail(error, QString("Cannot write %1: %2 encoding failed").arg(path, ext.toUpper()));
    return saveFile(path, bytes, error);
}

} // namespace leger::ui
