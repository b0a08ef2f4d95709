#pragma once

#include <cstdint>
#include <cstring>

namespace leger {

/// IEEE 754 binary16, stored as bits; converts to and from float with round-to-nearest-even.
struct Half {
    std::uint16_t bits = 0;

    static Half fromFloat(float f)
    {
        std::uint32_t x;
        std::memcpy(&x, &f, 4);
        const std::uint32_t sign = (x >> 16) & 0x8000u;
        std::uint32_t absx = x & 0x7fffffffu;
        Half h;
        if (absx >= 0x7f800000u) { // Inf or NaN
            h.bits = static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0u));
            return h;
        }
        if (absx >= 0x477ff000u) { // rounds to >= 65520: overflow to Inf
            h.bits = static_cast<std::uint16_t>(sign | 0x7c00u);
            return h;
        }
        if (absx < 0x38800000u) { // subnormal half or zero: scale into the 10-bit fraction
            // Adding 0.5 (as float) aligns the fraction so that the FPU rounds to nearest even.
            float a;
            std::memcpy(&a, &absx, 4);
            a += 0.5f;
            std::uint32_t y;
            std::memcpy(&y, &a, 4);
            h.bits = static_cast<std::uint16_t>(sign | (y - 0x3f000000u));
            return h;
        }
        const std::uint32_t mantOdd = (absx >> 13) & 1u;
        absx += 0xc8000fffu + mantOdd; // rebias exponent (-112 << 23) and round half to even
        h.bits = static_cast<std::uint16_t>(sign | (absx >> 13));
        return h;
    }

    float toFloat() const
    {
        const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
        const std::uint32_t exp = (bits >> 10) & 0x1fu;
        const std::uint32_t mant = bits & 0x3ffu;
        std::uint32_t x;
        if (exp == 0) {
            const float f = static_cast<float>(mant) * (1.0f / 16777216.0f); // mant * 2^-24
            std::memcpy(&x, &f, 4);
            x |= sign;
        } else if (exp == 31) {
            x = sign | 0x7f800000u | (mant << 13);
        } else {
            x = sign | ((exp + 112u) << 23) | (mant << 13);
        }
        float f;
        std::memcpy(&f, &x, 4);
        return f;
    }
};

/// bfloat16 (the top 16 bits of a float32), rounded to nearest even.
struct BFloat16 {
    std::uint16_t bits = 0;

    static BFloat16 fromFloat(float f)
    {
        std::uint32_t x;
        std::memcpy(&x, &f, 4);
        BFloat16 b;
        if ((x & 0x7fffffffu) > 0x7f800000u) { // NaN stays a quiet NaN
            b.bits = static_cast<std::uint16_t>((x >> 16) | 0x40u);
            return b;
        }
        x += 0x7fffu + ((x >> 16) & 1u);
        b.bits = static_cast<std::uint16_t>(x >> 16);
        return b;
    }

    float toFloat() const
    {
        const std::uint32_t x = static_cast<std::uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &x, 4);
        return f;
    }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

} // namespace leger
