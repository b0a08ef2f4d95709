#pragma once
// Autosave with recovery after a crash: while the session has unsaved changes it is written
// (atomically) to a recovery file a couple of seconds after the last change; a clean exit or
// an explicit save removes the file, so a recovery file found at start-up means the last run
// ended without saving.

#include <QObject>
#include <QString>
#include <functional>

#include "session/SessionFile.h"

class QTimer;

namespace leger::ui {

class Autosaver : public QObject {
    Q_OBJECT
public:
    /// path: the recovery file (default: recoveryPath()). snapshot: returns the session to save.
    Autosaver(std::function<SessionData()> snapshot, QString path = {}, QObject* parent = nullptr);
    ~Autosaver() override;

    /// The default recovery file, in the user's application data folder.
    static QString recoveryPath();
    QString path() const { return path_; }
    /// Whether a recovery file from an earlier run exists.
    bool hasRecovery() const;

    /// Call on every change; the save happens `delayMs` after the last one.
    void markDirty();
    /// The session was saved by the user (or closed cleanly): removes the recovery file.
    void markClean();
    void setDelay(int ms);
    /// Writes now if dirty (e.g. before quitting on a signal).
    void flush();

signals:
    void saveFailed(QString message);

private:
    std::function<SessionData()> snapshot_;
    QString path_;
    QTimer* timer_;
    bool dirty_ = false;
};

} // namespace leger::ui
