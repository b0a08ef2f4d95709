// libFuzzer target: a Hugging Face tokenizer.json (then encoding and decoding a text) and
// config.json, from the same bytes. Hostile input must end in leger::Error; anything else is a bug
// (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "llm/LlmConfig.h"
#include "llm/Tokenizer.h"
#include "util/Error.h"

using namespace leger;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string json(reinterpret_cast<const char*>(data), size);
    try {
        const Tokenizer t = Tokenizer::fromHuggingFaceJson(json, "tokenizer.json");
        for (auto mode : {Tokenizer::AddedTokens::AsText, Tokenizer::AddedTokens::AsTokens})
            t.decode(t.encode("Hello, world! 12345 caf\xC3\xA9 \xE2\x82\xAC\n\n  x <s> <|endoftext|>", mode));
    } catch (const Error&) {
    }
    try {
        LlmConfig::fromHuggingFaceJson(json, "config.json");
    } catch (const Error&) {
    }
    return 0;
}
