// Recent answers of aggregate views (ServiceOptions::view_cache_entries),
// and full tiles.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace api {

// One kept answer: its bytes, their strong entity tag, and their gzip,
// made once, when a client that takes gzip first asks for it.
class CachedAnswer {
 public:
  // `immutable`: the answer can never change (a view at an explicit
  // as_of seq within the ledger), so clients may keep it for good.
  CachedAnswer(std::string body, bool immutable);
  const std::string& body() const { return body_; }
  bool immutable() const { return immutable_; }
  // "\"<32 hex digits of the body's SHA-256>\"", and that of the gzip
  // (a strong tag per representation, RFC 9110 §8.8.3).
  const std::string& etag() const { return etag_; }
  std::string gzip_etag() const { return etag_.substr(0, etag_.size() - 1) + "-gzip\""; }
  // The body gzipped (zlib, level 6); made on the first call.
  const std::string& Gzipped() const;

 private:
  std::string body_;
  bool immutable_;
  std::string etag_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzip_;
};

// Recent answers, least recently used out first. An answer is shared, not
// copied, with each response that sends it (HttpResponse::shared_body): a
// large one is never copied per request.
class ViewCache {
 public:
  using Body = std::shared_ptr<const CachedAnswer>;
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
