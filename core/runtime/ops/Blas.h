#pragma once
// Row-major matrix products for the MatMul family and the recurrent ops: float and double go
// through OpenBLAS (float single rows through Leger's own GEMV, see ConvKernels.h), integer
// types through a plain loop with wrap-around arithmetic.

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "runtime/ops/ConvKernels.h"
#include "util/Error.h"

namespace leger::ops {

namespace detail {
inline blasint blasDim(std::int64_t v)
{
    if (v < 0 || v > INT_MAX)
        throw Error("matrix dimension " + std::to_string(v) + " is out of range for BLAS");
    return static_cast<blasint>(v);
}
} // namespace detail

/// C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, all row-major with leading
/// dimensions lda/ldb/ldc. op(X) is X or X^T. For beta == 0, C is overwritten (never read).
/// Floating types only.
template <class T>
void gemm(bool transA, bool transB, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc)
{
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        // BLAS leaves C * beta; write it explicitly so that beta == 0 also clears NaNs.
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = 0; j < N; ++j)
                C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
        return;
    }
    using detail::blasDim;
    const blasint m = blasDim(M), n = blasDim(N), k = blasDim(K);
    const blasint la = blasDim(std::max<std::int64_t>(lda, 1)), lb = blasDim(std::max<std::int64_t>(ldb, 1)),
                  lc = blasDim(std::max<std::int64_t>(ldc, 1));
    if (M == 1) {
        // A single row: gemv is 4-10x faster than sgemm's M = 1 path once B outgrows the cache
        // (measured, one thread: K = 1024, N = 4096: 28 vs 4 GFLOP/s; equal for small B).
        // c (N) = op(B)^T a, with B stored (K, N) or, transposed, (N, K).
        const blasint incA = transA ? la : 1;
        if constexpr (std::is_same_v<T, float>) {
            // Leger's own kernels (run-time ISA dispatch) read B once at full memory speed;
            // OpenBLAS's Haswell sgemv reaches about half of it here.
            if (incA == 1 && convk::gemv(transB, N, K, alpha, A, B, ldb, beta, C))
                return;
        }
        if (beta == T(0))
            std::memset(C, 0, static_cast<std::size_t>(N) * sizeof(T)); // gemv may scale garbage by 0
        if constexpr (std::is_same_v<T, float>) {
            if (transB)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, B, lb, A, incA, beta, C, 1);
            else
                cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, B, lb, A, incA, beta, C, 1);
        } else {
            if (transB)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, B, lb, A, incA, beta, C, 1);
            else
                cblas_dgemv(CblasRowMajor, CblasTrans, k, n, alpha, B, lb, A, incA, beta, C, 1);
        }
        return;
    }
    const auto ta = transA ? CblasTrans : CblasNoTrans;
    const auto tb = transB ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, la, B, lb, beta, C, lc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, A, la, B, lb, beta, C, lc);
}

/// C (M, N) = A (M, K) * B (K, N), row-major, for any numeric T: BLAS for float/double,
/// otherwise a loop that wraps around on overflow like numpy's integer matmul.
template <class T>
void matmulRows(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda, const T* B,
                std::int64_t ldb, T* C, std::int64_t ldc)
{
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        gemm<T>(false, false, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc);
    } else {
        static_assert(std::is_integral_v<T>);
        // Unsigned 64-bit arithmetic is modular, so the final narrowing gives numpy's wrap-around
        // without signed-overflow UB. i-k-j order streams rows of B for vectorisation.
        for (std::int64_t i = 0; i < M; ++i) {
            T* c = C + i * ldc;
            for (std::int64_t j = 0; j < N; ++j)
                c[j] = T(0);
            for (std::int64_t k = 0; k < K; ++k) {
                const auto a = static_cast<std::uint64_t>(static_cast<std::int64_t>(A[i * lda + k]));
                if (a == 0)
                    continue;
                const T* b = B + k * ldb;
                for (std::int64_t j = 0; j < N; ++j)
                    c[j] = static_cast<T>(static_cast<std::uint64_t>(c[j]) +
                                          a * static_cast<std::uint64_t>(static_cast<std::int64_t>(b[j])));
            }
        }
    }
}

} // namespace leger::ops
