#pragma once
// One typed application setting, declared once with its key and default (AppSettings.h lists
// them all). Stored in QSettings (organisation and application names of the QCoreApplication).

#include <QSettings>
#include <QString>
#include <QVariant>
#include <optional>
#include <type_traits>
#include <utility>

namespace leger::ui {

template <class T>
class Setting {
public:
    Setting(QString key, T defaultValue) : key_(std::move(key)), default_(std::move(defaultValue)) {}

    /// The stored value, or the default when it is absent or cannot be read as a T (an edited
    /// or older settings file).
    T get() const { return fromVariant(QSettings().value(key_)); }
    void set(const T& value) { QSettings().setValue(key_, toVariant(value)); }
    /// Forgets the stored value: get() returns the default again.
    void reset() { QSettings().remove(key_); }

    const QString& key() const { return key_; }
    const T& defaultValue() const { return default_; }

private:
    template <class U>
    struct IsOptional : std::false_type {};
    template <class U>
    struct IsOptional<std::optional<U>> : std::true_type {};

    // An absent optional is stored as "none": QSettings (INI files) has no null.
    static QVariant toVariant(const T& value)
    {
        if constexpr (IsOptional<T>::value)
            return value ? QVariant::fromValue(*value) : QVariant(QStringLiteral("none"));
        else
            return QVariant::fromValue(value);
    }

    template <class U>
    static std::optional<U> convert(QVariant v)
    {
        if (!v.isValid() || !v.convert(QMetaType::fromType<U>()))
            return std::nullopt;
        return v.template value<U>();
    }

    T fromVariant(const QVariant& v) const
    {
        if (!v.isValid())
            return default_;
        if constexpr (IsOptional<T>::value) {
            if (v.toString() == QLatin1String("none"))
                return std::nullopt;
            auto u = convert<typename T::value_type>(v);
            return u ? T(*u) : default_;
        } else {
            auto u = convert<T>(v);
            return u ? *u : default_;
        }
    }

    QString key_;
    T default_;
};

} // namespace leger::ui
