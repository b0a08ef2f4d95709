#pragma once
// Every application setting in one place, each declared once with its key and default. The
// per-session chart settings live in the session file; these are the user's last choices, used
// for a new session.

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <optional>

#include "session/Setting.h"

namespace leger::ui {

struct AppSettings {
    static constexpr int kMaxRecent = 10;

    /// Recent files, most recent first (absolute paths). Prefer recentModels() / addRecentModel().
    static Setting<QStringList>& recentModelsSetting();
    static Setting<QStringList>& recentDataSetting();
    /// Folders the last open and save dialogs showed (empty: the dialog's own choice).
    static Setting<QString>& lastOpenDir();
    static Setting<QString>& lastSaveDir();
    /// QMainWindow::saveGeometry() and saveState().
    static Setting<QByteArray>& windowGeometry();
    static Setting<QByteArray>& windowState();
    /// The trade-off chart: x axis ("mb" or "bpw") and metric (e.g. "top1").
    static Setting<QString>& chartXAxis();
    static Setting<QString>& chartMetric();
    /// The acceptable drop (in the metric's unit, 0.01 = one point of top-1) and the size budget.
    static Setting<std::optional<double>>& maxDrop();
    static Setting<std::optional<qint64>>& budgetBytes();

    /// The recent model files that still exist, most recent first, without duplicates.
    static QStringList recentModels();
    /// Puts path first (moving it if listed), keeping at most kMaxRecent existing files.
    static void addRecentModel(const QString& path);
    static QStringList recentData();
    static void addRecentData(const QString& path);
};

} // namespace leger::ui
