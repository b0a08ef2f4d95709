#include "session/Autosaver.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTimer>

#include <exception>

namespace leger::ui {

namespace {
constexpr int kDefaultDelayMs = 2000;
}

Autosaver::Autosaver(std::function<SessionData()> snapshot, QString path, QObject* parent)
    : QObject(parent), snapshot_(std::move(snapshot)), path_(path.isEmpty() ? recoveryPath() : std::move(path)),
      timer_(new QTimer(this))
{
    // Single-shot and restarted by every change: a slider drag saves once, after it stops.
    timer_->setSingleShot(true);
    timer_->setInterval(kDefaultDelayMs);
    connect(timer_, &QTimer::timeout, this, &Autosaver::flush);
}

// Nothing is written here: the snapshot may read objects already being destroyed. A clean
// exit calls markClean; an unclean one never gets here.
Autosaver::~Autosaver() = default;

QString Autosaver::recoveryPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/recovery.leger-session";
}

bool Autosaver::hasRecovery() const { return QFileInfo(path_).isFile(); }

void Autosaver::markDirty()
{
    dirty_ = true;
    timer_->start();
}

void Autosaver::markClean()
{
    timer_->stop();
    dirty_ = false;
    if (QFileInfo::exists(path_) && !QFile::remove(path_))
        emit saveFailed(QDir::toNativeSeparators(path_) + ": cannot remove the recovery file");
}

void Autosaver::setDelay(int ms) { timer_->setInterval(ms); }

void Autosaver::flush()
{
    timer_->stop();
    if (!dirty_)
        return;
    // Called from the event loop (the timer): nothing may escape as an exception.
    QString error;
    try {
        const QString dir = QFileInfo(path_).absolutePath();
        if (!QDir().mkpath(dir)) {
            error = QDir::toNativeSeparators(dir) + ": cannot create the folder for the recovery file";
        } else if (SessionFile::write(path_, snapshot_(), &error)) {
            dirty_ = false;
            return;
        }
    } catch (const std::exception& e) {
        error = QDir::toNativeSeparators(path_) + ": " + QString::fromLocal8Bit(e.what());
    }
    // Still dirty: the next change (or flush) tries again.
    emit saveFailed(error);
}

} // namespace leger::ui
