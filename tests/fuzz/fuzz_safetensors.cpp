// libFuzzer target: a safetensors file (header JSON, tensor table) and each tensor converted to
// float32. Hostile input must end in leger::Error; anything else is a bug (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "io/SafetensorsFile.h"
#include "util/Error.h"

using namespace leger;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto* begin = reinterpret_cast<const std::byte*>(data);
    auto owner = std::make_shared<std::vector<std::byte>>(begin, begin + size);
    try {
        const SafetensorsFile f =
            SafetensorsFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "fuzz.safetensors");
        for (const SafetensorsTensor& t : f.tensors()) {
            try {
                SafetensorsFile::toFloat(t);
            } catch (const Error&) {
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
