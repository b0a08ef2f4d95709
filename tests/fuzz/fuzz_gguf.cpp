// libFuzzer target: a GGUF file as Leger reads a language model from it — the header, metadata and
// tensor table (GgufFile), the model's configuration (LlmConfig), its vocabulary (Tokenizer, which
// then encodes a text), each tensor decoded to float32, and the whole file opened as a language
// model (LanguageModel::open: the decoder's weights and shapes, the export layout). Hostile input must end in leger::Error;
// anything else (a crash, a sanitizer report, another exception, an allocation it drove) is a bug.
// Build: cmake -DLEGER_FUZZ=ON with clang (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <memory>
#include <vector>

#include "compress/LayerSetting.h"
#include "io/GgufFile.h"
#include "llm/LanguageModel.h"
#include "llm/LlmConfig.h"
#include "llm/Tokenizer.h"
#include "util/Error.h"

#include <unistd.h>

using namespace leger;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto* begin = reinterpret_cast<const std::byte*>(data);
    auto owner = std::make_shared<std::vector<std::byte>>(begin, begin + size);
    try {
        const GgufFile f = GgufFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "fuzz.gguf");
        try {
            LlmConfig::fromGguf(f, "fuzz.gguf");
        } catch (const Error&) {
        }
        try {
            const Tokenizer t = Tokenizer::fromGguf(f, "fuzz.gguf");
            const auto ids = t.encode("Hello, world! 12345 caf\xC3\xA9 \xE2\x82\xAC\n\n  x <s>");
            t.decode(ids);
        } catch (const Error&) {
        }
        for (const GgufTensorInfo& t : f.tensors())
            if (t.bytes <= (1u << 20)) {
                try {
                    f.toFloat(t);
                } catch (const Error&) {
                }
            }
    } catch (const Error&) {
        return 0;
    }
    // A file that parses, opened as a language model (decoder weights, vocabulary, GGUF layout).
    static const std::string path = "/dev/shm/leger-fuzz-" + std::to_string(getpid()) + ".gguf";
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (!out)
        return 0;
    std::fwrite(data, 1, size, out);
    std::fclose(out);
    try {
        const LanguageModel m = LanguageModel::open(path);
        m.ggufBytes(std::vector<LayerSetting>(m.layers().size()));
    } catch (const Error&) {
    }
    return 0;
}
