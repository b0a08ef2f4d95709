#pragma once
// Any table model as a CSV file (RFC 4180), e.g. the evaluated points or the layer table.

#include <QString>
#include <Qt>

class QAbstractItemModel;

namespace leger::ui {

/// The role at which models give raw values for export (integer bytes rather than "1.2 kB",
/// a fraction rather than "92.5 %"); cells without it are exported as displayed.
constexpr int kExportRole = Qt::UserRole + 100;

/// Writes the model's top-level rows: a header row from headerData (kExportRole if the model
/// gives it, else DisplayRole), then one line per row. Fields are quoted when they contain a
/// comma, quote or line break; lines end in CRLF; UTF-8 without a byte-order mark; numbers with
/// '.' whatever the locale. Written atomically; on failure returns false and sets *error
/// naming the file.
bool writeCsv(const QAbstractItemModel& model, const QString& path, QString* error);

} // namespace leger::ui
