// For tests that damage a closed ledger behind its back: its RocksDB
// database opened directly (the key layout is ledger/src/key_layout.h).
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>
#include <memory>
#include <string>

namespace ledger::testing {

// Opens the database of the closed ledger in `dir`, applies `edit`, closes it.
inline void EditClosedLedger(const std::string& dir,
                             const std::function<void(rocksdb::DB*)>& edit) {
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir + "/rocksdb", &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  edit(db.get());
}

}  // namespace ledger::testing
