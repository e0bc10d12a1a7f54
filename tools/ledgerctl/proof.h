// What the `ledgerctl proof` subcommands share: their verdicts, which are
// their exit codes (docs/TOOLS.md), and reading the files they are given.
//
//   0  verified: everything the proof claims holds
//   1  REJECTED: a proof, signature or policy that fails (printed on
//      standard output as "REJECTED: <why>")
//   2  could not check: bad arguments, an unreadable or malformed file, a
//      server that cannot be reached or does not answer 200 (printed on
//      standard error as "could not check: <why>")
//
// A proof that could not be checked is never reported as rejected, nor the
// other way round: 1 always means that something was shown not to hold.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "ledger/hash.h"

namespace ledgerctl {

// Prints "REJECTED: <why>" on standard output; returns 1.
int Rejected(const std::string& why);
// Prints "could not check: <why>" on standard error; returns 2.
int CouldNotCheck(const std::string& why);

// The bytes of the file at `path`, or nullopt when it cannot be read or is
// larger than `limit` bytes.
std::optional<std::string> ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

// A JSON number that is a whole number from 0, or nullopt.
std::optional<uint64_t> WholeNumber(const boost::json::value* v);
// A JSON list of hex SHA-256 hashes (an audit path), or nullopt.
std::optional<std::vector<ledger::Hash>> HashList(const boost::json::value* v);

int ProofWrite(const Args& a);  // proof_file.cc: ledgerctl proof write
int ProofCheck(const Args& a);  // proof_file.cc: ledgerctl proof check

}  // namespace ledgerctl
