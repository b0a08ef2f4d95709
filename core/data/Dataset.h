#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

/// Evaluation data as stored on disk: samples along the first axis, optional integer labels.
/// Preprocessing (scale, mean/std, layout) is applied later, by the evaluation.
class Dataset {
public:
    Tensor samples;                      // (N, ...): uint8 images as stored, or numbers from .npy/.npz
    Tensor labels;                       // (N) int64, empty() when the data has none
    std::vector<std::string> classNames; // from an image folder's subfolders, else empty
    std::string source;                  // the path it was read from

    std::int64_t count() const { return samples.empty() ? 0 : samples.dim(0); }
    bool hasLabels() const { return !labels.empty(); }

    /// Reads any supported form, chosen by the path: an IDX images file (gzipped or not; its
    /// labels file found by the -images-idx3-ubyte -> -labels-idx1-ubyte naming), an .npz with
    /// arrays x and optional y, an x .npy (with y.npy beside it when present), or a folder
    /// with one subfolder of images per label. limit > 0 keeps the first `limit` samples.
    static Dataset read(const std::string& path, std::int64_t limit = -1);

    static Dataset readIdx(const std::string& imagesPath, std::int64_t limit = -1);
    static Dataset readNpz(const std::string& path, std::int64_t limit = -1);
    static Dataset readNpyPair(const std::string& xPath, const std::string& yPath, std::int64_t limit = -1);
    static Dataset readImageFolder(const std::string& dir, std::int64_t limit = -1);

    /// One IDX file (gzipped or not) as a tensor of its own element type and dimensions.
    static Tensor readIdxTensor(const std::string& path, std::int64_t limit = -1);
};

} // namespace leger
