// The view stores (ledger/view_store.h) of a ledger: each a column family of
// its database, for a projection's state and checkpoint.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/status.h"
#include "ledger/view_store.h"

namespace ledger {

// A RocksDB status as a ledger Status: kResourceExhausted for a full disk,
// kCorruption, else kIOError; `what` says what was being done.
inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace())
    return Status::ResourceExhausted(what + ": the disk is full (" + s.ToString() + ")");
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// A view store on one column family of the ledger's database.
class RocksViewStore final : public ViewStore {
 public:
  RocksViewStore(std::string name, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf)
      : ViewStore(std::move(name)), db_(db), cf_(cf) {}

  Status Write(const Batch& batch) override {
    rocksdb::WriteBatch wb;
    for (const auto& [key, value] : Ops(batch)) {
      rocksdb::Status s = value ? wb.Put(cf_, key, *value) : wb.Delete(cf_, key);
      LEDGER_RETURN_IF_ERROR(FromRocks(s, "view store " + name()));
    }
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "write view store " + name());
  }

  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    LEDGER_RETURN_IF_ERROR(FromRocks(s, "read view store " + name()));
    return std::optional<std::string>(std::move(v));
  }

  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "scan view store " + name());
  }

  Status Clear() override {
    // Every key of this family sorts below a key of 0xff bytes longer than
    // any the projections write.
    rocksdb::WriteBatch wb;
    LEDGER_RETURN_IF_ERROR(
        FromRocks(wb.DeleteRange(cf_, "", std::string(256, '\xff')), "clear view store " + name()));
    return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "clear view store " + name());
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

inline bool ValidViewStoreName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == rocksdb::kDefaultColumnFamilyName) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace ledger
