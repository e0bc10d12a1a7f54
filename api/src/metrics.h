// Request counters and the latency histogram that /metrics shows
// (Prometheus text format).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace api {

class RequestMetrics {
 public:
  // Counts an answered request of route template `route` ("unmatched" for
  // none); `appended` for an append that appended.
  void Observe(std::string route, unsigned status, double millis, bool appended);
  // The counters and the histogram, as Prometheus text.
  std::string Text() const;

  // Latency histogram bounds, milliseconds.
  static constexpr double kBuckets[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
  static constexpr size_t kBucketCount = std::size(kBuckets);

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;  // (route, status)
  std::array<uint64_t, kBucketCount + 1> latency_{};               // the last is +Inf
  double latency_sum_ms_ = 0;
  uint64_t latency_count_ = 0;
  uint64_t append_requests_ = 0;
};

}  // namespace api
