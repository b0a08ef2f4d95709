#pragma once

#include <map>
#include <string>

#include "model/Tensor.h"

namespace leger {

/// NumPy .npy and .npz files (little-endian, C order; Fortran order and pickles are refused).
class NpyIO {
public:
    static Tensor readNpy(const std::string& path);
    /// Parses .npy bytes; `what` names the source in messages.
    static Tensor parseNpy(const std::string& bytes, const std::string& what);
    /// All arrays of an .npz (stored or deflated members), keyed by name without ".npy".
    static std::map<std::string, Tensor> readNpz(const std::string& path);

    static std::string serializeNpy(const Tensor& t);
    /// Writes atomically (temporary file, then rename).
    static void writeNpy(const std::string& path, const Tensor& t);
    static void writeNpz(const std::string& path, const std::map<std::string, Tensor>& arrays);
};

} // namespace leger
