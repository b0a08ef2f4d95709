#include "session/AppSettings.h"

#include <QDir>
#include <QFileInfo>

namespace leger::ui {

namespace {

/// Absolute and cleaned, so that "a/../b.onnx" and "b.onnx" are one entry.
QString normalized(const QString& path) { return QDir::cleanPath(QFileInfo(path).absoluteFilePath()); }

/// Existing files only, each once, at most kMaxRecent. Reading only hides missing files (one on
/// an unmounted drive comes back with the drive); adding a file stores the pruned list.
QStringList cleaned(const QStringList& paths)
{
    QStringList out;
    for (const QString& p : paths) {
        if (p.isEmpty())
            continue;
        const QString n = normalized(p);
        if (!out.contains(n) && QFileInfo::exists(n))
            out.push_back(n);
        if (out.size() == AppSettings::kMaxRecent)
            break;
    }
    return out;
}

void addRecent(Setting<QStringList>& setting, const QString& path)
{
    QStringList list = setting.get();
    list.prepend(path);
    setting.set(cleaned(list));
}

} // namespace

Setting<QStringList>& AppSettings::recentModelsSetting()
{
    static Setting<QStringList> s("recent/models", {});
    return s;
}

Setting<QStringList>& AppSettings::recentDataSetting()
{
    static Setting<QStringList> s("recent/data", {});
    return s;
}

Setting<QString>& AppSettings::lastOpenDir()
{
    static Setting<QString> s("dialogs/lastOpenDir", {});
    return s;
}

Setting<QString>& AppSettings::lastSaveDir()
{
    static Setting<QString> s("dialogs/lastSaveDir", {});
    return s;
}

Setting<QByteArray>& AppSettings::windowGeometry()
{
    static Setting<QByteArray> s("mainWindow/geometry", {});
    return s;
}

Setting<QByteArray>& AppSettings::windowState()
{
    static Setting<QByteArray> s("mainWindow/state", {});
    return s;
}

Setting<QString>& AppSettings::chartXAxis()
{
    static Setting<QString> s("chart/xAxis", "mb");
    return s;
}

Setting<QString>& AppSettings::chartMetric()
{
    static Setting<QString> s("chart/metric", "top1");
    return s;
}

Setting<std::optional<double>>& AppSettings::maxDrop()
{
    static Setting<std::optional<double>> s("target/maxDrop", 0.01); // one point of top-1
    return s;
}

Setting<std::optional<qint64>>& AppSettings::budgetBytes()
{
    static Setting<std::optional<qint64>> s("target/budgetBytes", std::nullopt);
    return s;
}

QStringList AppSettings::recentModels() { return cleaned(recentModelsSetting().get()); }
void AppSettings::addRecentModel(const QString& path) { addRecent(recentModelsSetting(), path); }
QStringList AppSettings::recentData() { return cleaned(recentDataSetting().get()); }
void AppSettings::addRecentData(const QString& path) { addRecent(recentDataSetting(), path); }

} // namespace leger::ui
