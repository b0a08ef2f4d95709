#include "session/CsvExport.h"

#include <QAbstractItemModel>
#include <QLocale>
#include <QFile>
#include <QVariant>

#include "session/SaveFile.h"

namespace leger::ui {

namespace {

/// A value as text, independent of the locale: numbers in the C locale, the shortest form
/// that reads back as the same double.
QString format(const QVariant& v)
{
    switch (v.typeId()) {
    case QMetaType::Double:
        return QString::number(v.toDouble(), 'g', QLocale::FloatingPointShortest);
    case QMetaType::Float:
        return QString::number(static_cast<double>(v.toFloat()), 'g', QLocale::FloatingPointShortest);
    case QMetaType::Int:
    case QMetaType::Long:
    case QMetaType::LongLong:
    case QMetaType::Short:
        return QString::number(v.toLongLong());
    case QMetaType::UInt:
    case QMetaType::ULong:
    case QMetaType::ULongLong:
    case QMetaType::UShort:
        return QString::number(v.toULongLong());
    case QMetaType::Bool:
        return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    default:
        return v.toString();
    }
}

/// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
QString quoted(const QString& field)
{
    static const QString special = QStringLiteral(",\"\r\n");
    bool needs = false;
    for (QChar c : field)
        needs = needs || special.contains(c);
    if (!needs)
        return field;
    QString out = field;
    out.replace(QLatin1Char('"'), QLatin1String("\"\""));
    return QLatin1Char('"') + out + QLatin1Char('"');
}

QString cell(const QVariant& exportValue, const QVariant& displayValue)
{
    return quoted(format(exportValue.isValid() ? exportValue : displayValue));
}

} // namespace

bool writeCsv(const QAbstractItemModel& model, const QString& path, QString* error)
{
    const int rows = model.rowCount(), cols = model.columnCount();
    QString text;
    for (int c = 0; c < cols; ++c) {
        if (c)
            text += QLatin1Char(',');
        text += cell(model.headerData(c, Qt::Horizontal, kExportRole), model.headerData(c, Qt::Horizontal, Qt::DisplayRole));
    }
    text += QLatin1String("\r\n");
    for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
            const QModelIndex i = model.index(r, c);
            if (c)
                text += QLatin1Char(',');
            text += cell(model.data(i, kExportRole), model.data(i, Qt::DisplayRole));
        }
        text += QLatin1String("\r\n");
    }
    const QByteArray bytes = text.toUtf8();
    return saveFile(path, bytes, error);
}

} // namespace leger::ui
