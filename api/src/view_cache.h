// Recent answers of aggregate views (ServiceOptions::view_cache_entries).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace api {

// Recent answers of aggregate views, least recently used out first. An
// answer is shared, not copied, with each response that sends it
// (HttpResponse::shared_body): a large one is never copied per request.
class ViewCache {
 public:
  using Body = std::shared_ptr<const std::string>;
  explicit ViewCache(size_t capacity) : capacity_(capacity) {}
  // The answer kept under `key`, or nullptr.
  Body Get(const std::string& key) {
    std::lock_guard l(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void Put(const std::string& key, Body body) {
    if (capacity_ == 0) return;
    std::lock_guard l(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.emplace_front(key, std::move(body));
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, Body>> order_;
  std::unordered_map<std::string, std::list<std::pair<std::string, Body>>::iterator> index_;
};

}  // namespace api
