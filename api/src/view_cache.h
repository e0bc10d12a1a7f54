// Recent answers of aggregate views (ServiceOptions::view_cache_entries).
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace api {

// Recent answers of aggregate views, least recently used out first.
class ViewCache {
 public:
  explicit ViewCache(size_t capacity) : capacity_(capacity) {}
  std::optional<std::string> Get(const std::string& key) {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void Put(const std::string& key, const std::string& body) {
    if (capacity_ == 0) return;
    std::lock_guard l(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.emplace_front(key, body);
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::string>> order_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

}  // namespace api
