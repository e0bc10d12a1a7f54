// A view store held in memory: the same contract as the ledger's own
// (view_store.h), without RocksDB, for tests of a projection's checkpoints
// and for a projection that need not outlive its process. Nothing survives
// the object; Write is atomic for readers (one lock).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "ledger/view_store.h"

namespace ledger {

class MemoryViewStore final : public ViewStore {
 public:
  explicit MemoryViewStore(std::string name = "memory") : ViewStore(std::move(name)) {}

  Status Write(const Batch& batch) override {
    std::lock_guard l(mu_);
    for (const auto& [key, value] : Ops(batch)) {
      if (value) {
        data_[key] = *value;
      } else {
        data_.erase(key);
      }
    }
    ++writes_;
    return Status::Ok();
  }
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::lock_guard l(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard l(mu_);
    for (auto it = data_.lower_bound(std::string(prefix));
         it != data_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      if (!fn(it->first, it->second)) break;
    }
    return Status::Ok();
  }
  Status Clear() override {
    std::lock_guard l(mu_);
    data_.clear();
    return Status::Ok();
  }

  // How many batches were written: a test's view of checkpointing.
  size_t writes() const {
    std::lock_guard l(mu_);
    return writes_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> data_;
  size_t writes_ = 0;
};

}  // namespace ledger
