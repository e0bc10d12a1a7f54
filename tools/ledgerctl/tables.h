// Events as tables: the CSV shape ledgerctl import reads, and the flat
// list of figures ledgerctl diff compares (a view as CSV is wire/view_csv.h).
#pragma once

#include <boost/json.hpp>
#include <istream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"

namespace ledgerctl {

// Every figure of a view answer by its path ("areas.E08000034.refused",
// "by_reason_stage_month[not_ready/assessment/2025-03].count"), in order.
// List entries are named by their identifying members (code, reason, stage,
// month, provider, area), else by position. The answer's own bookkeeping
// (as_of_seq, tree_head) is left out.
std::vector<std::pair<std::string, boost::json::value>> Figures(const boost::json::value& answer);

// Reads one CSV record (RFC 4180: quoted fields may hold commas, doubled
// quotes and line breaks) into `fields`. Returns false at the end of input;
// kInvalidArgument for an unterminated quote. `line` is advanced by the
// lines read.
ledger::Result<bool> ReadCsvRecord(std::istream& in, std::vector<std::string>* fields,
                                   uint64_t* line);

// A CSV event row (header names -> cells) as a POST /v1/events body: type,
// referral_id, occurred_at, idempotency_key and expected_version at the top,
// every other column into data; empty cells are left out; weeks,
// corrects_seq and expected_version as numbers; fields (of record.corrected)
// as a JSON object. kInvalidArgument names the cell that cannot be read.
ledger::Result<boost::json::object> CsvRowToBody(const std::vector<std::string>& header,
                                                 const std::vector<std::string>& row);

}  // namespace ledgerctl
