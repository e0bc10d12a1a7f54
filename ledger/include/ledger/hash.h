// SHA-256 digests and their hex form.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger {

using Hash = std::array<uint8_t, 32>;

// SHA-256 of the concatenation of `parts`. Thread-safe.
Hash Sha256(std::initializer_list<std::string_view> parts);
inline Hash Sha256(std::string_view bytes) { return Sha256({bytes}); }

inline std::string_view AsBytes(const Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

// Lower-case hex of `bytes`.
std::string ToHex(std::string_view bytes);
inline std::string ToHex(const Hash& h) { return ToHex(AsBytes(h)); }

// The bytes of an even-length hex string (either case), or nullopt.
std::optional<std::string> FromHex(std::string_view hex);
// A 64-digit hex string as a Hash, or nullopt.
std::optional<Hash> HashFromHex(std::string_view hex);

}  // namespace ledger
