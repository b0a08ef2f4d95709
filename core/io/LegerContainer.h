#pragma once
// The compact `.leger` container: a model with its layers' weights as compressed (pruned and
// quantized) codes. Its size is exactly what SizeModel (compress/SizeReport.h) computes from
// the plan, so the size Leger displays is the size of the exported file.
//
// Format, version 1 (core/io/leger-format.md says the same at more length). All integers are
// little-endian; there is no padding or alignment anywhere.
//
//   header (32 bytes)
//     u8[8]  magic        89 'L' 'E' 'G' 'E' 'R' 0D 0A
//     u32    version      1
//     u32    flags        0 (readers reject other values)
//     u64    graphBytes   length of the graph section
//     u32    tensorCount  number of tensor records
//     u32    layerCount   number of layer records
//   graph section (graphBytes bytes)
//     An ONNX ModelProto: the source model with every initializer of the main graph removed
//     and the main graph's `Constant` nodes that define a tensor removed (their values are
//     tensor or layer records instead). Subgraphs, value infos, metadata stay as they were.
//   tensorCount tensor records: every main-graph tensor that is not a compressed layer
//     u32    nameLength, then the name (UTF-8, no terminator)
//     u8     element type (onnx.TensorProto.DataType code)
//     u8     rank
//     i64    dims[rank]
//     payload: the elements as stored in memory (little-endian, product(dims) * element size
//     bytes); a string tensor stores each element as u32 length + bytes.
//   layerCount layer records
//     u32    nameLength, then the name (the weight tensor's name)
//     setting (16 bytes): u8 format (0 float32, 1 float16, 2 bfloat16, 3 int), u8 bits,
//       u8 granularity (0 tensor, 1 channel, 2 group), u8 symmetric (0/1), u8 clip (0 minmax,
//       1 mse), u8 pattern (0 unstructured, 1 2:4, 2 4:8, 3 channel), u16 group size of the
//       setting, f64 sparsity
//     u8     element type of the weight tensor (onnx.TensorProto.DataType code)
//     u8     rank
//     u8     transposed (0/1: the tensor holds the matrix column-major, see Layer)
//     u8     hasKeep (0/1: whether CompressedWeight::keep was non-empty)
//     i64    rows, cols   the matrix view (rows = output channels)
//     i64    groupSize    CompressedWeight::groupSize (weights per scale along a row)
//     i64    dims[rank]   the weight tensor's shape
//     then four sections whose lengths follow from the setting, rows and cols alone
//     (SizeReport.h), in this order:
//     1. sparsity metadata
//        unstructured, sparsity > 0: the keep mask, rows*cols bits (1 = kept), row-major;
//        2:4 / 4:8: for each complete group of M weights of each row (row-major, groups in
//          order), the column offsets in the group (0..M-1) of its N kept weights in
//          ascending order, log2(M) bits each; a row's trailing partial group keeps all;
//        channel, sparsity > 0: the row mask, rows bits (1 = kept);
//        otherwise nothing.
//     2. scales (format int): one float16 per scale, row-major (rows, groups per row) or one
//        for granularity tensor; scales of removed rows are stored too.
//     3. zero points (format int, asymmetric): one u8 per scale.
//     4. values of the kept weights only, row-major: int -> `bits`-bit codes (symmetric: two's
//        complement in `bits` bits; asymmetric: unsigned); float16 / bfloat16 -> 2 bytes;
//        float32 -> 4 bytes.
//   Bit streams (masks, N:M indices, int codes) are little-endian in bit order: element i of
//   width w occupies bits i*w .. i*w+w-1 of the stream, bit k of the stream being bit k % 8 of
//   byte k / 8; the last byte is padded with zero bits. Nothing follows the last record.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compress/CompressedWeight.h"
#include "model/Layer.h"
#include "model/Model.h"

namespace leger {

/// What a `.leger` file holds: the model (graph, every tensor, layer weights dequantized into
/// the tensors' element type), its layers in record order, and each layer's compressed weight
/// exactly as it was written.
struct LegerContainer {
    Model model;
    std::vector<Layer> layers;
    std::vector<CompressedWeight> weights;

    static constexpr std::uint32_t kVersion = 1;
    static constexpr std::int64_t kHeaderBytes = 32;
    /// Bytes of a tensor record before its payload.
    static std::int64_t tensorRecordHeaderBytes(std::string_view name, std::size_t rank)
    {
        return 6 + static_cast<std::int64_t>(name.size()) + 8 * static_cast<std::int64_t>(rank);
    }
    /// Bytes of a tensor record's payload (elements at their stored width).
    static std::int64_t tensorPayloadBytes(const Tensor& t);
    /// Bytes of a layer record before its sections.
    static std::int64_t layerRecordHeaderBytes(std::string_view name, std::size_t rank)
    {
        return 48 + static_cast<std::int64_t>(name.size()) + 8 * static_cast<std::int64_t>(rank);
    }
    /// The graph section for a model read from an ONNX file: reads model.path again. Throws
    /// leger::Error when the file cannot be read, or UnsupportedError for external data in subgraphs.
    static std::string graphSection(const Model& model);
};

/// Writes a `.leger` file atomically (util/AtomicFile.h): model's graph (re-read from model.path)
/// and every tensor that is not in layers, then one record per layer with weights[i] (the
/// compressed weight of layers[i]). Throws leger::Error naming the file or the layer when a
/// weight is inconsistent with its setting (wrong counts, scales not float16, a pruned weight
/// that is not the code of zero).
void writeLegerContainer(const std::string& path, const Model& model, const std::vector<Layer>& layers,
                         const std::vector<CompressedWeight>& weights);
/// The same, with the graph section already built (LegerContainer::graphSection).
void writeLegerContainer(const std::string& path, const std::string& graphSection, const Model& model,
                         const std::vector<Layer>& layers, const std::vector<CompressedWeight>& weights);
/// The file's bytes, as writeLegerContainer writes them.
std::string serializeLegerContainer(const std::string& graphSection, const Model& model,
                                    const std::vector<Layer>& layers, const std::vector<CompressedWeight>& weights);

/// Reads a `.leger` file. Every field is bounds-checked: a truncated or corrupt file throws
/// leger::Error naming the file, the record and what was wrong.
LegerContainer readLegerContainer(const std::string& path);
/// The same, from the file's bytes (`path` names it in messages).
LegerContainer parseLegerContainer(const std::string& bytes, const std::string& path);

} // namespace leger
