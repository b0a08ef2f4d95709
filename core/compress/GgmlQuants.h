#pragma once
// ggml's block quantization formats (the GGUF tensor types Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the
// K-quants Q2_K..Q6_K), written the way ggml's reference quantizers write them
// (quantize_row_<type>_ref in ggml-quants.c; what ggml_quantize_chunk does without an importance
// matrix), bit for bit: a GGUF written with these is the file llama.cpp's own quantizer writes
// from the same float32 weights. tests/gguf checks this against ggml's libggml-base.so.
//
// A row is cut into blocks of 32 weights (256 for the K-quants, which split each super-block into
// 16 or 8 sub-blocks with their own 4- to 8-bit scale). Block layouts are in GgmlQuants.cpp; the
// decoder is io/GgufFile's dequantizeBlocks / dequantizeSuperBlocks.

#include <cstddef>
#include <cstdint>

#include "io/GgufFile.h"

namespace leger {

/// Whether Leger can quantize to this type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
bool ggmlCanQuantize(GgmlType type);
/// Bytes of one row of n weights in this type (n a multiple of the block size; throws Error otherwise).
std::int64_t ggmlRowBytes(GgmlType type, std::int64_t n);
/// Quantizes one row of n floats (n a multiple of the type's block size: 32, or 256 for K-quants)
/// into ggmlRowBytes(type, n) bytes, bit for bit as ggml's reference quantizer
/// (quantize_row_<type>_ref, i.e. ggml_quantize_chunk without an importance matrix) does.
/// Throws Error for a bad n, UnsupportedError for a type ggmlCanQuantize refuses.
void quantizeGgmlRow(GgmlType type, const float* x, std::int64_t n, std::byte* out);
/// Decodes one row of n weights (dequantizeBlocks / dequantizeSuperBlocks of io/GgufFile.h).
void dequantizeGgmlRow(GgmlType type, const std::byte* in, std::int64_t n, float* out);

} // namespace leger
