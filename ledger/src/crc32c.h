// CRC-32C (Castagnoli): the commit log's check of each record against torn
// and damaged writes. A CRC, not a cryptographic hash: the log guards
// against the disk, and what is acknowledged is proven by the chain and
// the tree. The x86-64 CRC32 instruction computes it when the processor has
// SSE 4.2 (checked once, at run time); a table otherwise.
#pragma once

#include <cstdint>
#include <string_view>

namespace ledger::internal {

// The CRC-32C of `prefix` followed by `data`, given `crc`, the CRC-32C of
// `prefix` (0 for none): Crc32c(a + b) == Crc32c(b, Crc32c(a)).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// The same, always by table: for tests that both ways agree.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);

}  // namespace ledger::internal
