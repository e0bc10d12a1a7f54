#include "projections/areas.h"

#include <algorithm>
#include <charconv>

#include "ledger/time.h"

namespace projections {
namespace internal {
extern const char kAreasCsv[];
}  // namespace internal

namespace {

// Splits one CSV line into fields; a field may be quoted ("" is a quote).
std::vector<std::string> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<AreaInfo> Parse() {
  std::vector<AreaInfo> out;
  std::string_view csv(internal::kAreasCsv);
  bool header = true;
  while (!csv.empty()) {
    const size_t eol = csv.find('\n');
    std::string_view line = csv.substr(0, eol);
    csv = eol == std::string_view::npos ? std::string_view() : csv.substr(eol + 1);
    if (line.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> f = SplitCsvLine(line);
    if (f.size() < 4) continue;
    AreaInfo a{f[0], f[1], f[2], 0, std::nullopt, std::nullopt, {}};
    std::from_chars(f[3].data(), f[3].data() + f[3].size(), a.population);
    if (f.size() >= 8) {
      a.in_use_from = ledger::ParseDate(f[5]);
      a.in_use_to = ledger::ParseDate(f[6]);
      for (size_t at = 0; at < f[7].size();) {
        const size_t space = std::min(f[7].find(' ', at), f[7].size());
        if (space > at) a.replaces.push_back(f[7].substr(at, space - at));
        at = space + 1;
      }
    }
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(),
            [](const AreaInfo& a, const AreaInfo& b) { return a.code < b.code; });
  return out;
}

}  // namespace

const std::vector<AreaInfo>& ReferenceAreas() {
  static const std::vector<AreaInfo> areas = Parse();
  return areas;
}

uint64_t EnglandPopulation() {
  uint64_t total = 0;
  for (const AreaInfo& a : ReferenceAreas()) {
    if (!a.in_use_to) total += a.population;
  }
  return total;
}

const AreaInfo* FindReferenceArea(std::string_view code) {
  const auto& areas = ReferenceAreas();
  auto it = std::lower_bound(areas.begin(), areas.end(), code,
                             [](const AreaInfo& a, std::string_view c) { return a.code < c; });
  return it != areas.end() && it->code == code ? &*it : nullptr;
}

}  // namespace projections
