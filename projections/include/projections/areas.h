// Reference data: England's upper-tier local authorities with their ONS
// codes, names, regions and Census 2021 populations
// (projections/data/areas_england.csv, compiled in), on the boundaries of
// April 2021 and, for the areas April 2023 changed, of both: the county
// codes of Cumbria, North Yorkshire and Somerset until 2023-04-01, the four
// unitary authorities that replaced them from then. Referrals keep the code
// they were recorded with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace projections {

struct AreaInfo {
  std::string code;  // ONS GSS code, e.g. E08000034
  std::string name;
  std::string region;
  uint64_t population = 0;  // Census 2021 usual residents, rounded to 100
  // The days (since 1970-01-01) its boundaries are in use from and until
  // (exclusive); none: from before, or still.
  std::optional<int64_t> in_use_from, in_use_to;
  std::vector<std::string> replaces;  // the codes of the areas it took over
  bool InUse(int64_t day) const {
    return (!in_use_from || day >= *in_use_from) && (!in_use_to || day < *in_use_to);
  }
};

// Every area of the reference file, in code order: those replaced and
// those that replaced them alike.
const std::vector<AreaInfo>& ReferenceAreas();
// England's population: the areas in use today (the replaced and their
// successors hold the same people).
uint64_t EnglandPopulation();
// The area with `code`, or nullptr when the reference file lacks it (an area
// code that is well formed but unknown is still accepted in events).
const AreaInfo* FindReferenceArea(std::string_view code);

}  // namespace projections
