// Internal to the core: Vec<T, N>, N lanes of T, a struct around a GCC/Clang
// vector extension with its operators. The SIMD kernels (lanes.h) and the
// lane random numbers (simulators/lane_random.h) pass and return Vec, never
// the raw vector: a raw vector of 32 or 64 bytes is passed in registers with
// AVX and in memory without, so GCC warns that its calling convention
// changes (-Wpsabi); a struct of that size is passed the same way on every
// target. Every function here is inlined, so the struct costs nothing.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__GNUC__)
#define AMORTIZED_VEC_INLINE inline __attribute__((always_inline))
#else
#define AMORTIZED_VEC_INLINE inline
#endif

namespace amortized {
namespace simd {

// The signed integer of T's size: comparisons give lanes of it, -1 or 0.
template <typename T>
struct MaskElem {
  using type = std::make_signed_t<std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
};

template <typename T, int N>
struct Vec {
  typedef T Raw __attribute__((vector_size(sizeof(T) * N)));
  using Mask = Vec<typename MaskElem<T>::type, N>;
  static constexpr int kWidth = N;
  Raw v;

  AMORTIZED_VEC_INLINE T operator[](int l) const { return v[l]; }
  AMORTIZED_VEC_INLINE void set(int l, T x) { v[l] = x; }

  AMORTIZED_VEC_INLINE friend Vec operator-(const Vec& a) { return {-a.v}; }
  AMORTIZED_VEC_INLINE friend Vec operator~(const Vec& a) { return {~a.v}; }

#define AMORTIZED_VEC_BINARY(op)                                                                      \
  AMORTIZED_VEC_INLINE friend Vec operator op(const Vec& a, const Vec& b) { return {a.v op b.v}; }   \
  AMORTIZED_VEC_INLINE friend Vec operator op(const Vec& a, T b) { return {a.v op b}; }              \
  AMORTIZED_VEC_INLINE friend Vec operator op(T a, const Vec& b) { return {a op b.v}; }              \
  AMORTIZED_VEC_INLINE friend Vec& operator op##=(Vec& a, const Vec& b) { a.v = a.v op b.v; return a; } \
  AMORTIZED_VEC_INLINE friend Vec& operator op##=(Vec& a, T b) { a.v = a.v op b; return a; }
  AMORTIZED_VEC_BINARY(+)
  AMORTIZED_VEC_BINARY(-)
  AMORTIZED_VEC_BINARY(*)
  AMORTIZED_VEC_BINARY(/)
  AMORTIZED_VEC_BINARY(&)
  AMORTIZED_VEC_BINARY(|)
  AMORTIZED_VEC_BINARY(^)
#undef AMORTIZED_VEC_BINARY

  AMORTIZED_VEC_INLINE friend Vec operator<<(const Vec& a, int s) { return {a.v << s}; }
  AMORTIZED_VEC_INLINE friend Vec operator>>(const Vec& a, int s) { return {a.v >> s}; }

#define AMORTIZED_VEC_COMPARE(op)                                                                     \
  AMORTIZED_VEC_INLINE friend Mask operator op(const Vec& a, const Vec& b) { return {a.v op b.v}; }  \
  AMORTIZED_VEC_INLINE friend Mask operator op(const Vec& a, T b) { return {a.v op b}; }             \
  AMORTIZED_VEC_INLINE friend Mask operator op(T a, const Vec& b) { return {a op b.v}; }
  AMORTIZED_VEC_COMPARE(<)
  AMORTIZED_VEC_COMPARE(>)
  AMORTIZED_VEC_COMPARE(<=)
  AMORTIZED_VEC_COMPARE(>=)
  AMORTIZED_VEC_COMPARE(==)
  AMORTIZED_VEC_COMPARE(!=)
#undef AMORTIZED_VEC_COMPARE
};

// The bits of one value as another of the same size (vectors or scalars).
template <typename To, typename From>
AMORTIZED_VEC_INLINE To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between vectors of different sizes");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// Lane by lane value conversion (float <-> int32, ...).
template <typename To, typename From>
AMORTIZED_VEC_INLINE To convert(const From& from) {
  return {__builtin_convertvector(from.v, typename To::Raw)};
}

}  // namespace simd
}  // namespace amortized
