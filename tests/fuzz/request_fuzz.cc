// Fuzz target: request handling, from the parsed HTTP request to the
// answer, on a real ledger (RocksDB in a temporary directory) and its views.
// The input is "METHOD\nTARGET\nROLE\nBODY": ROLE picks a credential (0
// regulator, 1 partnership, 2 provider, 3 auditor, else none). Every
// request must get exactly one answer with a status of 200 to 503, and a
// problem+json body when it is an error.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "api/service.h"
#include "ledger/hash.h"
#include "ledger/ledger.h"
#include "projections/projector.h"

namespace {

struct World {
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Projector> projector;
  std::unique_ptr<api::Service> service;
};

std::string Digest(const char* token) { return ledger::ToHex(ledger::Sha256(token)); }

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    char tmpl[] = "/tmp/request-fuzz-XXXXXX";
    if (!mkdtemp(tmpl)) std::abort();
    auto l = ledger::Ledger::Open(tmpl);
    if (!l.ok()) std::abort();
    world->ledger = std::move(l).value();
    auto p = projections::Projector::Open(world->ledger.get());
    if (!p.ok()) std::abort();
    world->projector = std::move(p).value();
    const std::string tokens =
        std::string(R"({"tokens":[{"name":"r","role":"regulator","sha256":")") + Digest("t0") +
        R"("},{"name":"p","role":"partnership","areas":["E08000002","E08000025"],"sha256":")" +
        Digest("t1") +
        R"("},{"name":"v","role":"provider","providers":["1-1731644238"],"sha256":")" +
        Digest("t2") + R"("},{"name":"a","role":"auditor","sha256":")" + Digest("t3") + "\"}]}";
    auto store = api::TokenStore::Parse(tokens);
    if (!store.ok()) std::abort();
    world->service = std::make_unique<api::Service>(world->ledger.get(), world->projector.get(),
                                                    std::move(store).value());
    return world;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = [&in]() {
    const size_t n = in.find('\n');
    std::string_view out = in.substr(0, n);
    in = n == std::string_view::npos ? std::string_view() : in.substr(n + 1);
    return std::string(out);
  };
  api::HttpRequest req;
  req.method = line();
  req.target = line();
  const std::string role = line();
  if (role.size() == 1 && role[0] >= '0' && role[0] <= '3') {
    req.authorization = std::string("Bearer t") + role[0];
  } else if (!role.empty()) {
    req.authorization = role;
  }
  req.body = std::string(in);
  req.content_type = "application/json";
  req.content_length = req.body.size();
  // Views answer from what the projections have applied: keep them current.
  (void)w.projector->CatchUp();
  if (w.service->IsSubscription(req)) return 0;  // streamed by the server, not answered here
  // An append is answered from the ledger's commit thread: wait for it. A
  // second answer would throw from the promise (and end the run).
  auto answer = std::make_shared<std::promise<api::HttpResponse>>();
  std::future<api::HttpResponse> answered = answer->get_future();
  w.service->Handle(req, [answer](api::HttpResponse r) { answer->set_value(std::move(r)); });
  const api::HttpResponse res = answered.get();
  if (res.status < 200 || res.status > 503) std::abort();
  if (res.status >= 400 && res.content_type != "application/problem+json") std::abort();
  return 0;
}
