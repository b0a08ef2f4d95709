// leger: the workbench window.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <cstdio>
#include <cstring>

#include "MainWindow.h"

namespace {

constexpr const char* kHelp = R"(Usage: leger [MODEL]

Opens MODEL (an ONNX file) in the Leger workbench; with no argument, opens the bundled
Fashion-MNIST sample.

Options:
  -h, --help     this help
  --version      the version
)";

/// The bundled sample: next to the installed binary's share folder, else in the source tree.
QString samplePath()
{
    const QString installed =
        QDir(QCoreApplication::applicationDirPath()).filePath("../share/leger/sample/fashion_mnist_cnn.onnx");
    if (QFileInfo::exists(installed))
        return QDir::cleanPath(installed);
    return QStringLiteral(LEGER_SOURCE_SAMPLE_DIR "/fashion_mnist_cnn.onnx");
}

} // namespace

int main(int argc, char** argv)
{
    // Answer --help/--version before QApplication: it aborts without a display.
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
            std::fputs(kHelp, stdout);
            return 0;
        }
        if (!std::strcmp(argv[i], "--version")) {
            std::printf("leger %s\n", LEGER_VERSION);
            return 0;
        }
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName("Leger");
    QApplication::setOrganizationName("Leger");
    QApplication::setApplicationVersion(LEGER_VERSION);
    const QStringList args = QApplication::arguments().mid(1);
    leger::ui::MainWindow window;
    window.openModel(args.isEmpty() ? samplePath() : args.first());
    window.show();
    return QApplication::exec();
}
