// Reference data: England's upper-tier local authorities with their ONS
// codes, names, regions and Census 2021 populations
// (projections/data/areas_england.csv, compiled in).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace projections {

struct AreaInfo {
  std::string code;  // ONS GSS code, e.g. E08000034
  std::string name;
  std::string region;
  uint64_t population = 0;  // Census 2021 usual residents, rounded to 100
};

// Every area of the reference file, in code order.
const std::vector<AreaInfo>& ReferenceAreas();
// The area with `code`, or nullptr when the reference file lacks it (an area
// code that is well formed but unknown is still accepted in events).
const AreaInfo* FindReferenceArea(std::string_view code);

}  // namespace projections
