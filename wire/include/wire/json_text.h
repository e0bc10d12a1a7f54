// JSON text as the API writes it (SPEC §11): every number in plain decimal,
// never in exponent form (0.2, not 2E-1, which Boost.JSON's serializer
// writes), in the shortest form that reads back as the same double.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace wire {

// `v` as compact JSON text: strings escaped as Boost.JSON escapes them,
// object members in their order, doubles as FormatDecimal writes them.
std::string Serialize(const boost::json::value& v);

// A double in plain decimal: the shortest digits that read back as the same
// double, with no exponent ("0.000012", "1250000.0"); a whole number keeps
// ".0", so that a typed reader still sees a fraction. Not finite: "null"
// (JSON has no such number; the views never make one).
std::string FormatDecimal(double d);

}  // namespace wire
