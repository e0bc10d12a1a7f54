// ledgerctl import: records into a local ledger or to a server, and restores of an export.
#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "tables.h"
#include "wire/event_json.h"

namespace ledgerctl {

namespace json = boost::json;

namespace {

// The SHA-256 of a file, read in pieces, and its number of lines.
std::optional<std::pair<std::string, uint64_t>> DigestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  uint64_t lines = 0;
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    const auto n = static_cast<size_t>(in.gcount());
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  ledger::Hash h;
  EVP_DigestFinal_ex(ctx.get(), h.data(), nullptr);
  return std::make_pair(ledger::ToHex(h), lines);
}

// Reads an import file record by record: each as a POST /v1/events body (an
// NDJSON line, or a CSV row under its header), or why it is not one.
class Records {
 public:
  Records(std::istream& in, bool csv) : in_(in), csv_(csv) {}
  // False at the end. `number` is the record's first line.
  bool Next(uint64_t* number, ledger::Result<json::object>* body) {
    for (;;) {
      *number = line_ + 1;
      if (!csv_) {
        std::string text;
        if (!std::getline(in_, text)) return false;
        ++line_;
        if (text.empty() || text == "\r") continue;
        auto v = wire::ParseStrictJson(text);
        if (!v.ok())
          *body = v.status();
        else if (!v->is_object())
          *body = ledger::Status::InvalidArgument("the line is not a JSON object");
        else
          *body = std::move(v->as_object());
        return true;
      }
      std::vector<std::string> row;
      auto more = ledgerctl::ReadCsvRecord(in_, &row, &line_);
      if (!more.ok()) {
        *body = more.status();
        return true;
      }
      if (!*more) return false;
      if (row.size() == 1 && row[0].empty()) continue;
      if (header_.empty()) {
        header_ = row;  // the first record names the columns
        continue;
      }
      *body = ledgerctl::CsvRowToBody(header_, row);
      return true;
    }
  }

 private:
  std::istream& in_;
  bool csv_;
  uint64_t line_ = 0;
  std::vector<std::string> header_;
};

// Where an import goes: a local ledger, or a server's POST /v1/events/batch.
struct Destination {
  std::unique_ptr<ledger::Ledger> ledger;
  std::optional<ledgerctl::HttpClient> server;
  ledger::WriteContext ctx;
};

}  // namespace

int Import(const Args& a) {
  if (a.positional.size() != 1) return Usage("import takes one FILE");
  const std::string& path = a.positional[0];
  const std::string format = a.Has("format")          ? a.flags.at("format")
                             : path.ends_with(".csv") ? "csv"
                                                      : "ndjson";
  if (format != "csv" && format != "ndjson") return Usage("--format must be ndjson or csv");
  const bool restore = a.Has("restore");
  if (a.Has("data") == a.Has("server")) return Usage("import takes --data DIR or --server URL");
  if (a.Has("server") && !a.Has("token")) return Usage("--server needs --token");
  if (restore && (a.Has("server") || format == "csv" || a.Has("actor"))) {
    return Usage("--restore takes an NDJSON export into a local ledger (--data), without --actor");
  }
  auto digest = DigestFile(path);
  if (!digest) return Usage("cannot read " + path);
  const std::string file_id = digest->first.substr(0, 16);

  Destination to;
  int code = 0;
  if (a.Has("server")) {
    auto client = ledgerctl::HttpClient::Make(a.flags.at("server"), a.flags.at("token"));
    if (!client.ok()) return Usage(client.status().message());
    to.server = std::move(client).value();
  } else {
    to.ledger = OpenLedger(a, &code, /*create=*/true);
    if (!to.ledger) return code;
    to.ctx.actor = a.Has("actor") ? a.flags.at("actor") : "partnership:import";
  }

  uint64_t appended = 0, replayed = 0, rejected = 0, skipped = 0;
  auto reject = [&](uint64_t line, const std::string& why) {
    ++rejected;
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(line), why.c_str());
  };
  Progress progress("import", digest->second, a);

  // Each batch is all or nothing: when one fails, its lines go one by one so
  // that only the bad ones are left out (and named).
  struct Pending {
    uint64_t line;
    json::object body;
    ledger::AppendRequest request;  // local imports
  };
  std::vector<Pending> batch;
  bool stop = false;  // the destination failed: nothing more can be appended
  auto post = [&](std::span<Pending> items) -> std::pair<bool, std::string> {
    json::array events;
    for (Pending& p : items) events.push_back(p.body);
    auto reply =
        items.size() == 1
            ? to.server->Call("POST", "/v1/events", json::serialize(items[0].body))
            : to.server->Call("POST", "/v1/events/batch",
                              json::serialize(json::object{{"events", std::move(events)}}));
    if (!reply.ok()) {
      stop = true;
      return {false, reply.status().message()};
    }
    if (reply->status == 200 || reply->status == 201) {
      (reply->status == 200 ? replayed : appended) += items.size();
      return {true, ""};
    }
    // The credential or the server, not the events: no use going on.
    if (reply->status == 401 || reply->status == 413 || reply->status >= 500) stop = true;
    return {false, ProblemText(*reply)};
  };
  auto local = [&](std::span<Pending> items) -> std::pair<bool, std::string> {
    std::vector<ledger::AppendRequest> requests;
    for (Pending& p : items) requests.push_back(p.request);
    auto r = to.ledger->Append(requests, to.ctx);
    if (!r.ok()) {
      const ledger::Code c = r.status().code();
      if (c == ledger::Code::kIOError || c == ledger::Code::kResourceExhausted ||
          c == ledger::Code::kCorruption || c == ledger::Code::kInternal) {
        stop = true;
      }
      return {false, r.status().ToString()};
    }
    for (const auto& one : *r) ++(one.replayed ? replayed : appended);
    return {true, ""};
  };
  auto flush = [&] {
    if (batch.empty()) return;
    auto send = [&](std::span<Pending> items) { return to.server ? post(items) : local(items); };
    const char* kStopped = "; nothing from this line on was appended";
    auto [ok, why] = send(batch);
    if (!ok && stop) {
      reject(batch.front().line, why + kStopped);
    } else if (!ok) {
      for (Pending& p : batch) {
        auto [one_ok, one_why] = send(std::span<Pending>(&p, 1));
        if (!one_ok) reject(p.line, stop ? one_why + kStopped : one_why);
        if (stop) break;
      }
    }
    progress.Add(batch.size());
    batch.clear();
  };

  // A restore: every event lands at its exported seq with its exported hash.
  std::vector<std::pair<uint64_t, ledger::RecordedRequest>> history;
  auto restore_flush = [&] {
    if (history.empty()) return;
    std::vector<ledger::RecordedRequest> requests;
    for (auto& [line, r] : history) requests.push_back(r);
    auto r = to.ledger->AppendRecorded(requests);
    if (r.ok()) {
      appended += history.size();
    } else {
      // Name the line: append the events one by one up to it.
      for (auto& [line, one] : history) {
        auto single = to.ledger->AppendRecorded(std::span(&one, 1));
        if (!single.ok()) {
          reject(line, single.status().ToString());
          break;
        }
        ++appended;
      }
      stop = true;  // a history cannot go on past a gap
    }
    progress.Add(history.size());
    history.clear();
  };

  std::ifstream in(path, std::ios::binary);
  Records records(in, format == "csv");
  uint64_t line = 0;
  ledger::Result<json::object> body = ledger::Status::Internal("unread");
  while (!stop && records.Next(&line, &body)) {
    if (!body.ok()) {
      reject(line, body.status().ToString());
      if (restore) stop = true;
      continue;
    }
    if (restore) {
      const json::object exported = *body;
      auto r = wire::ParseRecordedEvent(std::move(body).value());
      if (!r.ok()) {
        reject(line, r.status().ToString());
        stop = true;
        continue;
      }
      if (r->seq <= to.ledger->Size()) {
        // Resuming: what is already there must be this very event, every
        // field of it (the line's hash alone proves nothing of its body).
        auto held = to.ledger->GetEvent(r->seq);
        if (!held.ok() || wire::EventToJson(*held) != exported) {
          reject(line, "the ledger holds a different event at seq " + std::to_string(r->seq));
          stop = true;
        } else {
          ++skipped;
        }
        continue;
      }
      history.emplace_back(line, std::move(r).value());
      if (history.size() == 1000) restore_flush();
      continue;
    }
    json::object& b = *body;
    if (b.contains("seq") && b.contains("hash")) {
      // An export: appending it anew would re-record every event now, by
      // the importer. Say what was meant instead of rejecting every line.
      reject(line,
             "this is an export (it has seq and hash): import it with --restore to keep "
             "each event's seq, recording and actor");
      stop = true;
      continue;
    }
    if (!b.contains("idempotency_key")) {
      b["idempotency_key"] = "import-" + file_id + "-" + std::to_string(line);
    }
    Pending p{line, std::move(b), {}};
    if (!to.server) {
      auto req = wire::ParseAppendRequest(p.body, ledger::NowMicros());
      if (!req.ok()) {
        reject(line, req.status().ToString());
        continue;
      }
      p.request = std::move(req).value();
    }
    batch.push_back(std::move(p));
    if (batch.size() == 1000) flush();
  }
  if (restore) {
    if (!stop) restore_flush();
  } else if (!stop) {
    flush();
  }
  progress.Done();
  if (restore) {
    std::printf("%llu restored, %llu already there, %llu rejected; head %llu events, root %s\n",
                static_cast<unsigned long long>(appended), static_cast<unsigned long long>(skipped),
                static_cast<unsigned long long>(rejected),
                static_cast<unsigned long long>(to.ledger->Size()),
                ledger::ToHex(to.ledger->Head().root).c_str());
  } else {
    std::printf("%llu appended, %llu already there, %llu rejected%s\n",
                static_cast<unsigned long long>(appended),
                static_cast<unsigned long long>(replayed),
                static_cast<unsigned long long>(rejected),
                stop ? "; stopped early: run the same import again to resume" : "");
  }
  return rejected == 0 && !stop ? 0 : 1;
}

}  // namespace ledgerctl
