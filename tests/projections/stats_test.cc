#include <gtest/gtest.h>
#include "projections/stats.h"
namespace projections { namespace { TEST(Stats, Placeholder) { EXPECT_EQ(NearestRank({1, 2, 3}, 1, 2), 2); } } }
