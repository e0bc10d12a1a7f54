#include "metrics.h"

#include <sstream>

namespace api {

void RequestMetrics::Observe(std::string route, unsigned status, double millis, bool appended) {
  size_t bucket = 0;
  while (bucket < kBucketCount && millis > kBuckets[bucket]) ++bucket;
  std::lock_guard l(mu_);
  ++requests_[{std::move(route), status}];
  ++latency_[bucket];
  latency_sum_ms_ += millis;
  ++latency_count_;
  // Counted by request here; the head size counts events.
  if (appended) ++append_requests_;
}

std::string RequestMetrics::Text() const {
  std::ostringstream out;
  std::lock_guard l(mu_);
  out << "# HELP ledger_http_requests_total Requests answered, by route and status.\n"
      << "# TYPE ledger_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out << "ledger_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second
        << "\"} " << count << "\n";
  }
  out << "# HELP ledger_http_request_duration_seconds Time to answer a request.\n"
      << "# TYPE ledger_http_request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBucketCount; ++i) {
    cumulative += latency_[i];
    out << "ledger_http_request_duration_seconds_bucket{le=\"";
    if (i < kBucketCount) {
      out << kBuckets[i] / 1000;
    } else {
      out << "+Inf";
    }
    out << "\"} " << cumulative << "\n";
  }
  out << "ledger_http_request_duration_seconds_sum " << latency_sum_ms_ / 1000 << "\n"
      << "ledger_http_request_duration_seconds_count " << latency_count_ << "\n";
  out << "# HELP ledger_append_requests_total Append requests that appended events.\n"
      << "# TYPE ledger_append_requests_total counter\n"
      << "ledger_append_requests_total " << append_requests_ << "\n";
  return out.str();
}

}  // namespace api
