// leger: the workbench window.
#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QTimer>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "MainWindow.h"
#include "engine/EngineBridge.h"
#include "workbench/Workbench.h"

namespace {

constexpr const char* kHelp = R"(Usage: leger [MODEL] [--data DATA] [--limit N] [--session FILE] [--compare FILE]...

Opens MODEL (an ONNX file, a .leger container, or a language model: a GGUF file or a Hugging Face
model folder) in the Leger workbench, with DATA (IDX images, .npz, .npy, or a folder of images per
class; a UTF-8 text for a language model) to measure it on; with no argument, opens the bundled
Fashion-MNIST sample with its 2,000 test images. --session opens a saved session (.leger-session)
instead, as does a MODEL path ending in .leger-session (what a double-clicked session file gives).

Options:
  --data DATA      evaluation data for MODEL (or synthetic:N for N random inputs)
  --limit N        measure on the first N samples of DATA only (a language model: the first N
                   windows of the text), for a quicker live loop on large data or models
  --session FILE   a saved session
  --compare FILE   another model (ONNX or .leger; for a language model, another of the same
                   vocabulary) to measure on the same data and draw on the trade-off chart beside
                   this one's plans; may be given more than once
  -h, --help       this help
  --version        the version
)";

/// A saved session rather than a model, by its extension (as MainWindow tells dropped files apart).
bool isSessionPath(const std::string& path)
{
    constexpr std::string_view ext = ".leger-session";
    return path.size() >= ext.size() &&
           std::equal(ext.rbegin(), ext.rend(), path.rbegin(),
                      [](char e, char c) { return e == std::tolower(static_cast<unsigned char>(c)); });
}

/// The bundled sample folder: beside the installed binary's share folder, else in the source tree.
QString sampleDir()
{
    const QString installed = QDir(QCoreApplication::applicationDirPath()).filePath("../share/leger/sample");
    if (QFileInfo::exists(installed + "/fashion_mnist_cnn.onnx"))
        return QDir::cleanPath(installed);
    return QStringLiteral(LEGER_SOURCE_SAMPLE_DIR);
}

} // namespace

int main(int argc, char** argv)
{
    // Answer --help/--version and bad arguments before QApplication: it aborts without a display.
    std::string model, data, session;
    std::vector<std::string> compare;
    long long limit = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kHelp, stdout);
            return 0;
        }
        if (a == "--version") {
            std::printf("leger %s\n", LEGER_VERSION);
            return 0;
        }
        if (a == "--compare" && i + 1 < argc) {
            compare.push_back(argv[++i]);
        } else if (a == "--limit" && i + 1 < argc) {
            char* end = nullptr;
            limit = std::strtoll(argv[++i], &end, 10);
            if (!end || *end != '\0' || limit < 1) {
                std::fprintf(stderr, "leger: --limit %s: expected a positive whole number\n", argv[i]);
                return 2;
            }
        } else if ((a == "--data" || a == "--session") && i + 1 < argc) {
            (a == "--data" ? data : session) = argv[++i];
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "leger: unknown option %s (see leger --help)\n", a.c_str());
            return 2;
        } else if (model.empty()) {
            model = a;
        } else {
            std::fprintf(stderr, "leger: one MODEL at most (see leger --help)\n");
            return 2;
        }
    }
    // A double-clicked session file arrives as the positional argument (Exec=leger %f).
    if (isSessionPath(model)) {
        if (!session.empty()) {
            std::fprintf(stderr, "leger: one session at most (see leger --help)\n");
            return 2;
        }
        session = std::move(model);
        model.clear();
    }
    // OpenBLAS on one thread in the engine's worker, malloc's thresholds: see tuneProcess.
    leger::ui::EngineBridge::tuneProcess();

    QApplication app(argc, argv);
    QApplication::setApplicationName("Leger");
    QApplication::setOrganizationName("Leger");
    QApplication::setApplicationVersion(LEGER_VERSION);
    QApplication::setDesktopFileName("leger");
    // The installed icon (share/icons/hicolor); nothing when running from the build tree.
    QApplication::setWindowIcon(QIcon::fromTheme("leger"));
    leger::ui::MainWindow window;
    if (limit > 0)
        window.workbench()->setDataLimit(limit);
    window.show();
    // Open after the window is up, so that it shows at once and errors have a parent.
    QTimer::singleShot(0, &window, [&] {
        if (!session.empty()) {
            window.openSession(QString::fromStdString(session));
        } else if (!model.empty()) {
            window.openModel(QString::fromStdString(model), QString::fromStdString(data));
        } else if (!window.offerRecovery()) {
            const QDir dir(sampleDir());
            window.openModel(dir.filePath("fashion_mnist_cnn.onnx"),
                             data.empty() ? dir.filePath("fashion-mnist-test-2000-images-idx3-ubyte.gz")
                                          : QString::fromStdString(data));
        }
        for (const std::string& other : compare)
            window.compareWith(QString::fromStdString(other));
    });
    return QApplication::exec();
}
