#pragma once
// Writes a file the user owns (session, export, chart, table) atomically, through the core's
// writer rather than QSaveFile: Qt 6.4's QSaveFile::commit() reports success after a short
// write (a full disk, a file size limit), leaving a truncated file in place of the old one; the
// core's writer checks every write and fsyncs before the rename.

#include <QByteArray>
#include <QString>

namespace leger::ui {

/// Returns false and sets *error (naming the file) on failure; the old file is then intact.
bool saveFile(const QString& path, const QByteArray& bytes, QString* error);

} // namespace leger::ui
