// A projection's own keyspace inside the ledger's database (SPEC §7).
//
// Each view store is one RocksDB column family of the ledger's database, so a
// projection can write its state together with the seq it reflects in one
// atomic write: a crash never leaves the state ahead of or behind its
// checkpoint. RocksDB stays private to the ledger library.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"

namespace ledger {

class ViewStore {
 public:
  // Puts and deletes applied together by Write().
  class Batch {
   public:
    void Put(std::string_view key, std::string_view value) {
      ops_.push_back({std::string(key), std::string(value)});
    }
    void Delete(std::string_view key) { ops_.push_back({std::string(key), std::nullopt}); }
    bool empty() const { return ops_.empty(); }
    size_t size() const { return ops_.size(); }

   private:
    friend class ViewStore;
    std::vector<std::pair<std::string, std::optional<std::string>>> ops_;
  };

  virtual ~ViewStore() = default;

  const std::string& name() const { return name_; }

  // Applies `batch` atomically: after a crash, all of it or none of it is
  // there. Not synced by itself (a view can always be rebuilt from the log);
  // the ledger's next synced append makes it durable too.
  virtual Status Write(const Batch& batch) = 0;
  // The value at `key`, or nullopt.
  virtual Result<std::optional<std::string>> Get(std::string_view key) const = 0;
  // Calls fn(key, value) for each key starting with `prefix`, in key order,
  // until fn returns false.
  virtual Status Scan(std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const = 0;
  // Deletes every key, atomically.
  virtual Status Clear() = 0;

 protected:
  explicit ViewStore(std::string name) : name_(std::move(name)) {}
  static const auto& Ops(const Batch& b) { return b.ops_; }

 private:
  std::string name_;
};

}  // namespace ledger
