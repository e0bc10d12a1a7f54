// Each credential's append rate (ServiceOptions::append_rate).
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace api {

// A token bucket of append events per credential (ServiceOptions::
// append_rate): each holds up to `burst` events and refills at `rate` a
// second.
class AppendLimiter {
 public:
  AppendLimiter(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1000.0)) {}
  // 0 when `who` may append `events` now, which are taken from its bucket;
  // else the seconds until it may, and nothing is taken.
  double Take(const std::string& who, double events) {
    if (rate_ <= 0) return 0;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard l(mu_);
    auto [it, fresh] = buckets_.try_emplace(who, Bucket{burst_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens =
          std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.at).count());
      b.at = now;
    }
    if (b.tokens >= events) {
      b.tokens -= events;
      return 0;
    }
    return (events - b.tokens) / rate_;
  }
  double rate() const { return rate_; }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // by actor; one per credential
};

}  // namespace api
