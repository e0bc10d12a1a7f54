#include "projections/areas.h"

#include <algorithm>
#include <charconv>

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
    AreaInfo a{f[0], f[1], f[2], 0};
    std::from_chars(f[3].data(), f[3].data() + f[3].size(), a.population);
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

const AreaInfo* FindReferenceArea(std::string_view code) {
  const auto& areas = ReferenceAreas();
  auto it = std::lower_bound(areas.begin(), areas.end(), code,
                             [](const AreaInfo& a, std::string_view c) { return a.code < c; });
  return it != areas.end() && it->code == code ? &*it : nullptr;
}

}  // namespace projections
