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

bool saveImage(const QString& path, QSize size, const QColor& background,
               const std::function<void(QPainter&)>& paint, QString* error)
{
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext != "png" && ext != "svg")
        return fail(error, QString("Cannot save %1: unknown image format (use .png or .svg)").arg(path));
    if (size.isEmpty())
        return fail(error, QString("Cannot save %1: the chart has no size").arg(path));

    // Encoded in memory, then written atomically (session/SaveFile.h says why not QSaveFile).
    QByteArray bytes;
    QBuffer file(&bytes);
    file.open(QIODevice::WriteOnly);

    if (ext == "png") {
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
            return fail(error, QString("Cannot write %1: PNG encoding failed").arg(path));
    } else {
        QSvgGenerator svg;
        svg.setOutputDevice(&file);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(QFileInfo(path).completeBaseName());
        svg.setDescription("Leger chart");
        QPainter painter(&svg);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.fillRect(QRect(QPoint(0, 0), size), background);
        paint(painter);
        painter.end();
    }
    file.close();
    return saveFile(path, bytes, error);
}

bool saveWidgetImage(QWidget* widget, const QString& path, QString* error)
{
    // A widget never shown has not been laid out yet; render() lays it out at its current size.
    const QSize size = widget->size().expandedTo(widget->minimumSizeHint());
    if (widget->size() != size)
        widget->resize(size);
    const QColor background = widget->palette().color(QPalette::Base);
    return saveImage(path, size, background,
                     [widget](QPainter& p) { widget->render(&p, QPoint(), QRegion(), QWidget::DrawChildren); },
                     error);
}

} // namespace leger::ui
