// ledgerctl backup / restore: a consistent copy of a ledger taken while
// ledgerd serves, and a ledger rebuilt from it.
//
// A backup directory holds events.ndjson (every event as `export` writes
// it: seq, hash, recorded_at, actor included), manifest.json (its size,
// the hash of its last event, the root and checkpoint of that size, the
// origin and verifier key) and the ledger's public key. The signing key
// only with --with-key. The ledger is opened read-only beside ledgerd
// (a RocksDB secondary and the commit log: every event acknowledged before
// the backup opened it), so the copy is the ledger as it stood at one
// moment. A later backup to the same directory adds only the events after
// it, once the directory's last event is found to be the ledger's own. The
// manifest lists every key the ledger has signed with (key rotation), and
// has the checkpoint only when the signing key can be read (--signing-key
// when it is kept outside the data).
// Restore is `import --restore` of the events into a new directory with the
// signing key, and checks the root against the manifest.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "ledger/note.h"
#include "wire/event_json.h"

namespace ledgerctl {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kEvents = "/events.ndjson";
constexpr const char* kManifest = "/manifest.json";

int Fail(const std::string& why, int code) {
  std::fprintf(stderr, "ledgerctl: %s\n", why.c_str());
  return code;
}

// What a backup's manifest.json says (Backup writes it).
struct Manifest {
  uint64_t size = 0;
  std::string last_hash, root, origin, vkey;
};

// The manifest in `dir`; nullopt when there is none, kInvalidArgument when
// it is not a whole manifest.
ledger::Result<std::optional<Manifest>> ReadManifest(const std::string& dir) {
  std::ifstream in(dir + kManifest);
  if (!in) return std::optional<Manifest>();
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  const json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  auto text = [o](const char* key) -> const json::string* {
    const json::value* x = o ? o->if_contains(key) : nullptr;
    return x && x->is_string() ? &x->as_string() : nullptr;
  };
  const json::value* size = o ? o->if_contains("size") : nullptr;
  Manifest m;
  if (size && size->is_number()) m.size = size->to_number<uint64_t>(ec);
  if (!size || ec || !text("last_hash") || !text("root") || !text("origin") || !text("vkey")) {
    return ledger::Status::InvalidArgument(dir + kManifest + " is not a backup manifest");
  }
  m.last_hash = *text("last_hash");
  m.root = *text("root");
  m.origin = *text("origin");
  m.vkey = *text("vkey");
  return std::optional<Manifest>(std::move(m));
}

// Writes `text` to `path` whole: a temporary file synced, then renamed.
bool WriteWhole(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                  std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  std::fclose(f);
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int Backup(const Args& a) {
  if (!a.Has("to")) return Usage("backup needs --data DIR --to BACKUP_DIR");
  int code = 0;
  auto ledger = OpenLedger(a, &code);  // read-only: beside a running ledgerd
  if (!ledger) return code;
  const std::string data = a.flags.at("data"), to = a.flags.at("to");
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Fail("cannot make " + to + ": " + ec.message(), 2);
  ::chmod(to.c_str(), 0700);
  const uint64_t size = ledger->Size();

  // An earlier backup here: its last event must be this ledger's.
  uint64_t from = 0;
  auto earlier = ReadManifest(to);
  if (!earlier.ok()) return Fail(earlier.status().message(), 1);
  if (*earlier) {
    const Manifest& m = **earlier;
    from = m.size;
    if (from > size) {
      return Fail("the backup in " + to + " holds " + std::to_string(from) +
                      " events, more than the ledger's " + std::to_string(size) +
                      ": not a backup of this ledger",
                  1);
    }
    if (from > 0) {
      auto last = ledger->GetEvent(from);
      if (!last.ok() || ledger::ToHex(last->hash) != m.last_hash) {
        return Fail("event " + std::to_string(from) + " of the backup in " + to +
                        " is not the ledger's: not a backup of this ledger",
                    1);
      }
    }
  } else if (fs::exists(to + kEvents)) {
    return Fail(to + " holds events but no manifest: not a backup", 1);
  }

  // The new events, appended and synced before the manifest names them.
  FILE* out = std::fopen((to + kEvents).c_str(), "ab");
  if (!out) return Fail("cannot write " + to + kEvents + ": " + std::strerror(errno), 1);
  Progress progress("backup", size - from, a);
  ledger::Status st = ledger->ScanEvents(from, size, [&](const ledger::Event& e) {
    const std::string line = json::serialize(wire::EventToJson(e)) + "\n";
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      return ledger::Status::IOError("cannot write " + to + kEvents);
    }
    progress.Add(1);
    return ledger::Status::Ok();
  });
  progress.Done();
  const bool synced = std::fflush(out) == 0 && ::fsync(fileno(out)) == 0;
  std::fclose(out);
  if (!st.ok()) return Fail(st.ToString(), 1);
  if (!synced) return Fail("cannot sync " + to + kEvents, 1);

  auto head = ledger->HeadAt(size);
  if (!head.ok()) return Fail(head.status().ToString(), 1);
  // The checkpoint needs the signing key: kept apart from the data, it is
  // signed only when --signing-key names it.
  auto checkpoint = ledger->Checkpoint(size);
  std::string last_hash = std::string(64, '0');
  if (size > 0) {
    auto last = ledger->GetEvent(size);
    if (!last.ok()) return Fail(last.status().ToString(), 1);
    last_hash = ledger::ToHex(last->hash);
  }
  const bool with_key = a.Has("with-key");
  const std::string key_path =
      a.Has("signing-key") ? a.flags.at("signing-key") : ledger::Ledger::SigningKeyPath(data);
  if (with_key && !fs::exists(key_path)) {
    return Fail("--with-key: there is no signing key at " + key_path + " (--signing-key FILE)", 2);
  }
  // The public key always; the signing key only when asked.
  const std::string secret_copy = to + "/signing-key.pem";
  fs::copy_file(ledger::Ledger::SigningKeyPath(data) + ".pub", secret_copy + ".pub",
                fs::copy_options::overwrite_existing, ec);
  if (!ec && with_key) {
    fs::copy_file(key_path, secret_copy, fs::copy_options::overwrite_existing, ec);
    ::chmod(secret_copy.c_str(), 0600);
  } else if (!ec) {
    fs::remove(secret_copy, ec);  // an earlier --with-key backup's copy goes too
  }
  if (ec) return Fail("cannot copy the ledger's keys: " + ec.message(), 1);
  // Every key the ledger signed with, so that what the older ones signed
  // stays checkable from the backup alone.
  json::array keys;
  for (const ledger::SigningKeyPeriod& k : ledger->KeyHistory()) {
    keys.push_back(
        json::object{{"from_size", k.from_size},
                     {"vkey", ledger::note::VerifierKey(ledger->origin(), k.public_key)}});
  }
  json::object manifest{{"format", "rehab-access-ledger backup v1"},
                        {"size", size},
                        {"last_hash", last_hash},
                        {"root", ledger::ToHex(head->root)},
                        {"origin", ledger->origin()},
                        {"vkey", ledger->VerifierKey()},
                        {"keys", std::move(keys)},
                        {"holds_signing_key", with_key}};
  if (checkpoint.ok()) manifest["checkpoint"] = *checkpoint;
  if (!WriteWhole(to + kManifest, json::serialize(manifest) + "\n")) {
    return Fail("cannot write " + to + kManifest, 1);
  }
  std::printf("backup of %s in %s: %llu events (%llu new), root %s\n", data.c_str(), to.c_str(),
              static_cast<unsigned long long>(size), static_cast<unsigned long long>(size - from),
              ledger::ToHex(head->root).c_str());
  std::printf(with_key ? "it holds the signing key: keep it as the key itself is kept\n"
                       : "it holds no signing key: a restore needs the ledger's key (--key)\n");
  if (!checkpoint.ok()) {
    std::printf(
        "its manifest has no checkpoint: the signing key is kept elsewhere "
        "(--signing-key FILE signs one)\n");
  }
  return 0;
}

int Restore(const Args& a) {
  if (!a.Has("from") || !a.Has("to")) return Usage("restore needs --from BACKUP_DIR --to DIR");
  const std::string from = a.flags.at("from"), to = a.flags.at("to");
  auto read = ReadManifest(from);
  if (!read.ok()) return Fail(read.status().message(), 2);
  if (!*read) return Fail(from + " holds no backup manifest", 2);
  const Manifest& manifest = **read;
  if (ledger::Ledger::Exists(to)) return Fail(to + " already holds a ledger", 2);
  const std::string key = a.Has("key") ? a.flags.at("key") : from + "/signing-key.pem";
  if (!fs::exists(key)) {
    return Fail("the backup holds no signing key: give the ledger's with --key FILE", 2);
  }
  // The key must be the ledger's: its verifier key is the manifest's.
  auto signer = ledger::Signer::Load(key);
  if (!signer.ok()) return Fail(signer.status().ToString(), 2);
  if (ledger::note::VerifierKey(manifest.origin, (*signer)->public_key()) != manifest.vkey) {
    return Fail(key + " is not the signing key of the ledger backed up", 1);
  }
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Fail("cannot make " + to + ": " + ec.message(), 2);
  ::chmod(to.c_str(), 0700);
  const std::string key_file = ledger::Ledger::SigningKeyPath(to);
  fs::copy_file(key, key_file, ec);
  if (!ec) fs::copy_file(from + "/signing-key.pem.pub", key_file + ".pub", ec);
  if (ec) return Fail("cannot copy the key: " + ec.message(), 1);
  ::chmod(key_file.c_str(), 0600);

  Args import;
  import.command = "import";
  import.positional = {from + kEvents};
  import.flags = {{"data", to}, { "restore", "yes" }};
  if (a.Has("progress")) import.flags["progress"] = "yes";
  if (int code = Import(import); code != 0) return code;

  auto ledger = ledger::Ledger::Open(to);
  if (!ledger.ok()) return Fail(ledger.status().ToString(), 3);
  const uint64_t size = manifest.size;
  if ((*ledger)->Size() != size || ledger::ToHex((*ledger)->Head().root) != manifest.root) {
    return Fail("the restored ledger is not the one backed up (size or root differs)", 1);
  }
  std::printf("restored %llu events into %s; root %s, as the backup's manifest says\n",
              static_cast<unsigned long long>(size), to.c_str(), manifest.root.c_str());
  return 0;
}

}  // namespace ledgerctl
