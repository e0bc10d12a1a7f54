// JSON text with numbers in plain decimal (SPEC §11).
#include "wire/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <random>

namespace wire {
namespace {

namespace json = boost::json;

TEST(FormatDecimal, PlainShortestAndExact) {
  EXPECT_EQ(FormatDecimal(0.2), "0.2");
  EXPECT_EQ(FormatDecimal(0.46), "0.46");
  EXPECT_EQ(FormatDecimal(1e-7), "0.0000001");
  EXPECT_EQ(FormatDecimal(1.0), "1.0");
  EXPECT_EQ(FormatDecimal(0.0), "0.0");
  EXPECT_EQ(FormatDecimal(-2.5), "-2.5");
  EXPECT_EQ(FormatDecimal(1250000.0), "1250000.0");
  EXPECT_EQ(FormatDecimal(1e21), "1000000000000000000000.0");
  EXPECT_EQ(FormatDecimal(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatDecimal(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(FormatDecimal(std::numeric_limits<double>::infinity()), "null");
  // Every double reads back as itself, and never in exponent form.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> scale(-12, 12);
  for (int i = 0; i < 20000; ++i) {
    const double d = unit(rng) * std::pow(10.0, scale(rng));
    const std::string text = FormatDecimal(d);
    ASSERT_EQ(text.find_first_of("eE"), std::string::npos) << text;
    ASSERT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
  }
  const double tiny = std::numeric_limits<double>::denorm_min();
  EXPECT_EQ(std::strtod(FormatDecimal(tiny).c_str(), nullptr), tiny);
  const double huge = std::numeric_limits<double>::max();
  EXPECT_EQ(std::strtod(FormatDecimal(huge).c_str(), nullptr), huge);
}

TEST(Serialize, BoostJsonTextButPlainDecimals) {
  const json::value v = json::parse(
      R"({"rate":0.2,"ci95":[0.01,1.0],"n":12,"neg":-3,"big":18446744073709551615,)"
      R"("none":null,"yes":true,"s":"a \"quoted\"\n\u0001 é","nested":{"z":[],"o":{}}})");
  const std::string text = Serialize(v);
  EXPECT_EQ(text,
            R"({"rate":0.2,"ci95":[0.01,1.0],"n":12,"neg":-3,"big":18446744073709551615,)"
            R"("none":null,"yes":true,"s":"a \"quoted\"\n\u0001 é","nested":{"z":[],"o":{}}})");
  EXPECT_EQ(json::parse(text), v);
  // Boost.JSON's own text for the same value has exponents.
  EXPECT_NE(json::serialize(v).find("2E-1"), std::string::npos);
}

}  // namespace
}  // namespace wire
