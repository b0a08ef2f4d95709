#include "session/SaveFile.h"

#include <QFile>
#include <string_view>

#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger::ui {

bool saveFile(const QString& path, const QByteArray& bytes, QString* error)
{
    try {
        writeFileAtomically(QFile::encodeName(path).toStdString(),
                            std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())));
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromLocal8Bit(e.what());
        return false;
    }
    return true;
}

} // namespace leger::ui
