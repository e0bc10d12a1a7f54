// For tests that damage a closed ledger behind its back: its RocksDB
// database opened directly (the key layout is ledger/src/key_layout.h).
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ledger::testing {

// Opens the database of the closed ledger in `dir` (with its view stores'
// column families, when it has any), applies `edit` to the default family
// (the ledger's records), closes it.
inline void EditClosedLedger(const std::string& dir,
                             const std::function<void(rocksdb::DB*)>& edit) {
  const std::string path = dir + "/rocksdb";
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  edit(db.get());
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
}

}  // namespace ledger::testing
