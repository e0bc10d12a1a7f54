// ledgerctl: the investigator's command line on a ledger directory.
//
//   ledgerctl verify   --data DIR
//   ledgerctl export   --data DIR [--after SEQ]
//   ledgerctl replay   --data DIR --view fairness|waiting-times|refusals|areas
//                      [--as-of SEQ|TIME] [--from DATE] [--to DATE] [--at TIME]
//                      [--area CODE] [--reason R] [--stage S]
//   ledgerctl timeline --data DIR REFERRAL [--as-of SEQ|TIME]
//   ledgerctl import   --data DIR FILE.ndjson [--actor ROLE:NAME]
//   ledgerctl proof inclusion|consistency --key KEY.pem ...   (offline)
//   ledgerctl proof write --server URL --token T --seq N --out FILE.tlog-proof
//   ledgerctl proof check FILE.tlog-proof --vkey LOGVKEY [--witness WVKEY ...] [--quorum K]
//   ledgerctl generate --data DIR [--referrals N] [--seed S] [--from D] [--to D]
//
// Exit codes: 0 done; 1 the ledger failed verification or the thing asked
// for does not exist; 2 bad usage or no ledger in --data; 3 the ledger cannot be opened (for
// instance, generate or import while ledgerd has it open). The commands that only read open
// the ledger read-only: beside a running ledgerd, changing nothing.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"

namespace {

using namespace ledgerctl;  // NOLINT: the commands and their arguments

constexpr const char* kUsage = R"(ledgerctl: the rehab access ledger's command line

  ledgerctl verify   --data DIR
      Recomputes the hash chain, every Merkle node and every signed head from
      the stored bytes; names the first seq that does not match. Like export,
      replay, diff and timeline, it opens the ledger read-only: it works
      beside a running ledgerd (seeing every event it has acknowledged) and
      changes nothing in DIR.
  ledgerctl export   --data DIR [--after SEQ]
      Every event (seq, version, recorded_at, actor, hash included) as NDJSON.
  ledgerctl export   --data DIR --view VIEW [view options]
      A view as CSV: one row per figure set (England, each area, ...), ci95
      intervals as .low/.high columns; see docs/TOOLS.md for the columns.
  ledgerctl replay   --data DIR --view fairness|waiting-times|refusals|areas
                     [--as-of SEQ|TIME] [--from DATE] [--to DATE] [--at TIME]
                     [--area CODE] [--reason REASON] [--stage STAGE]
      A view as JSON, as the ledger stood at --as-of (default: the head).
  ledgerctl diff     --data DIR --view VIEW --as-of A --as-of B [view options]
      What changed in a view between two moments: each figure whose value
      differs, with its value at A and at B (JSON).
  ledgerctl timeline --data DIR REFERRAL [--as-of SEQ|TIME]
      One referral's history, one line per event.
  ledgerctl proof inclusion --key KEY.pem --head HEAD.json
                            (--proof PROOF.json | --server URL --token T --seq N)
  ledgerctl proof consistency --key KEY.pem --old OLD.json
                            (--new NEW.json --proof PROOF.json | --server URL --token T [--new NEW.json])
      Checks without the ledger's storage: the heads' signatures (as served
      by /v1/ledger/head) against the ledger's public key, then an inclusion
      proof (/v1/ledger/proof/inclusion) of event N in the saved head, or a
      consistency proof (/v1/ledger/proof/consistency) from the old head to
      the new one (with --server and no --new: the head the server serves
      now). The server supplies proofs only; trust comes from the saved heads
      and the key.
  ledgerctl proof write --server URL --token T --seq N --out FILE.tlog-proof
      Writes event N's inclusion in the server's latest checkpoint (the one
      its witnesses cosigned, /log/checkpoint) as a c2sp.org/tlog-proof@v1
      file: the index (N-1), the audit path, the checkpoint verbatim with its
      cosignatures, and the event's bytes as extra data when the token may
      read the event. An event not yet in that checkpoint: retry later.
  ledgerctl proof check FILE.tlog-proof --vkey LOGVKEY [--witness WVKEY ...]
                        [--quorum K] [--leaf-hash HEX | --entry FILE]
      Checks a proof file offline: read strictly, the checkpoint signed by
      the log's verifier key (ledgerctl key, /v1/ledger/head's vkey) under
      its origin, cosigned by at least K of the witnesses' cosigner keys
      named (default: all of them; each key counts once), and the entry's
      leaf hash, recomputed from the extra data (never trusted by itself),
      --entry (its bytes) or --leaf-hash, led by the audit path to the
      checkpoint's root. Prints what it checked: origin, size, event seq,
      which witnesses cosigned and when.
      Every proof subcommand exits 0 verified, 1 REJECTED (a proof,
      signature or witness quorum that fails, a leaf that does not match),
      2 could not check (bad arguments, an unreadable or malformed file, a
      server unreachable or not answering 200).
  ledgerctl key      --data DIR [--origin ORIGIN]
      The checkpoint verifier key (C2SP signed-note) of the ledger in DIR,
      under the origin ledgerd is given (default localhost/rehab-access-ledger):
      what a regulator stores to check /log/checkpoint. Reads the public key
      only; works beside a running ledgerd.
  ledgerctl key new --out FILE [--origin ORIGIN]
      Makes an Ed25519 signing key at FILE (0600, never over an existing
      one, its public key beside it) and prints its verifier key: the key
      of a new ledger kept apart from its data (ledgerd --signing-key FILE),
      or the next key of a rotation.
  ledgerctl key history --data DIR [--origin ORIGIN]
      Every key the ledger has signed with: the size it signs from and its
      verifier key, a line each. Read-only; works beside a running ledgerd.
  ledgerctl key rotate --data DIR --signing-key NEW.pem [--origin ORIGIN]
      From the ledger's present size on, NEW.pem signs (made there if there
      is no key there). ledgerd must be stopped; start it again with
      --signing-key NEW.pem. What the old key signed stays verifiable with
      its verifier key; a head past this size signed with it fails verify.
  ledgerctl import   FILE (--data DIR | --server URL --token T)
                     [--format ndjson|csv] [--actor ROLE:NAME] [--progress]
      Appends each record (an NDJSON line or a CSV row, as a POST /v1/events
      body) in order, in batches of up to 1,000, into a local ledger or to
      a server. A rejected record is reported with its line number and
      reason, and the others are kept. Records without an idempotency_key
      get one from the file's digest and the line number, so importing the
      same file again (to resume) appends nothing twice.
  ledgerctl import   FILE.ndjson --data DIR --restore
      Rebuilds a ledger from an export: every event at its exported seq with
      its recorded_at and actor, and the chain hash it had, else it stops at
      that line. Resumable: events already restored are checked, not re-added.
  ledgerctl generate --data DIR [--referrals N|calibrated] [--seed S] [--from DATE] [--to DATE]
      Fills an empty ledger with a synthetic England ledger: referrals
      received from --from (2022-01-01) to --to (today), each event recorded
      with a realistic lag and by its partnership or provider. By default the
      number of referrals is calibrated so that the placements started each
      year are about 0.8% of the 290,000 adults a year in treatment.
  ledgerctl witness  --data DIR --listen HOST:PORT --log VKEY [--log VKEY...]
                     [--name NAME]
      A witness (c2sp.org/tlog-witness) of the logs whose verifier keys are
      given: it cosigns a checkpoint (POST /add-checkpoint) only when it is
      consistent with the last one it cosigned of that log, keeping that
      state in DIR (synced before it answers), and keeps both signed
      checkpoints of every inconsistent one it refuses. Its key is created
      in DIR on first use, under NAME (default localhost/witness); it prints
      the cosigner key to give the log (ledgerd --witness NAME,URL,VKEY).
  ledgerctl witness key --data DIR
      The cosigner key of the witness in DIR. Read-only.
  ledgerctl witness evidence --data DIR
      The refused inconsistent checkpoints, one JSON object a line: origin,
      received_at, reason, the cosigned and the refused checkpoint (signed
      notes), the old size and proof submitted. Read-only; works beside a
      running witness.
  ledgerctl backup   --data DIR --to BACKUP_DIR [--with-key] [--signing-key FILE]
                     [--origin ORIGIN]
      A consistent copy of the ledger in DIR, taken beside a running ledgerd
      (read-only): every event acknowledged before it began, as NDJSON, with
      a manifest (size, last hash, root, checkpoint) and the public key.
      Again to the same BACKUP_DIR, it adds only the newer events, once its
      last event is found to be the ledger's. The signing key only with
      --with-key, and it says which.
  ledgerctl restore  --from BACKUP_DIR --to DIR [--key SIGNING_KEY.pem]
      A new ledger in DIR from a backup, with the ledger's signing key (the
      backup's, or --key, checked against the backed-up verifier key);
      checked against the manifest's size and root.
  ledgerctl promote  (--data DIR | --socket PATH)
      Promotes the standby ledgerd running on DIR (through its control
      socket, DIR/ledgerd.sock, or --socket): it stops copying and takes
      appends as the primary, in the term after its primary's, continuing
      the same log and key from its size (docs/OPERATIONS.md, "Standbys and
      failover"). Prints ledgerd's answer (JSON: term, size); exits 1 if it
      is a primary already, 3 if no ledgerd answers there.
  ledgerctl status   (--data DIR | --socket PATH)
      What the ledgerd running on DIR says of itself (its /healthz answer
      and its term), through the same socket.

  A --server URL is http://HOST[:PORT] or https://HOST[:PORT]; for https the
  server's certificate is checked against --ca FILE (a private CA, PEM) or
  the system's trusted roots, and against the host name.

  Anything that runs over a second shows its progress (count, rate, ETA) on
  a terminal; --progress prints it as lines for logs.

Exit codes: 0 done, 1 verification failed, not found, or records rejected,
2 bad usage or no ledger in --data (only generate and import make one),
3 the ledger cannot be opened (generate and import: is ledgerd running on it?)
  or, for promote and status, no ledgerd answers.
proof: 0 verified, 1 REJECTED, 2 could not check.
)";

// `ledgerctl CMD --help`: the usage entries of CMD (each from its
// "  ledgerctl CMD" line to the next entry), then the exit codes; the whole
// usage for a command it does not know.
int CommandHelp(const std::string& command) {
  std::istringstream in(kUsage);
  std::string out, line;
  bool mine = false;
  const std::string entry = "  ledgerctl " + command + " ";
  while (std::getline(in, line)) {
    if (line.starts_with("  ledgerctl "))
      mine = line.starts_with(entry);
    else if (!line.starts_with("   "))
      mine = false;
    if (mine) out += line + "\n";
  }
  if (out.empty()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string usage(kUsage);
  std::printf("%s\n%s", out.c_str(), usage.substr(usage.find("Exit codes:")).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A ledger it writes is its owner's alone (files 0600, directories 0700).
  umask(077);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return CommandHelp(a.command);
    if (arg.starts_with("--")) {
      const std::string name = arg.substr(2);
      std::string value = "yes";
      if (!IsSwitch(name)) {
        if (i + 1 >= argc) return Usage(arg + " needs a value");
        value = argv[++i];
      }
      a.flags[name] = value;
      a.values[name].push_back(value);
    } else {
      a.positional.push_back(arg);
    }
  }
  static const std::map<std::string, std::vector<std::string>> kFlags = {
      {"verify", {"data", "progress"}},
      {"export",
       {"data", "after", "progress", "view", "as-of", "from", "to", "at", "area", "reason",
        "stage"}},
      {"diff",
       {"data", "progress", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"replay",
       {"data", "progress", "view", "as-of", "from", "to", "at", "area", "reason", "stage"}},
      {"timeline", {"data", "as-of"}},
      {"generate", {"data", "referrals", "seed", "from", "to", "progress", "signing-key"}},
      {"proof",
       {"key", "head", "old", "new", "proof", "server", "token", "seq", "out", "vkey", "witness",
        "quorum", "leaf-hash", "entry", "ca"}},
      {"import",
       {"data", "actor", "format", "restore", "server", "token", "progress", "ca", "signing-key"}},
      {"key", {"data", "origin", "signing-key", "out"}},
      {"witness", {"data", "listen", "log", "name"}},
      {"backup", {"data", "to", "with-key", "progress", "signing-key", "origin"}},
      {"restore", {"from", "to", "key", "progress"}},
      {"promote", {"data", "socket"}},
      {"status", {"data", "socket"}},
  };
  auto allowed = kFlags.find(a.command);
  if (allowed == kFlags.end()) return Usage("unknown command " + a.command);
  for (const auto& [key, value] : a.flags) {
    if (std::find(allowed->second.begin(), allowed->second.end(), key) == allowed->second.end()) {
      return Usage("--" + key + " is not an option of " + a.command);
    }
  }
  if (a.Has("ca")) HttpClient::SetCaFile(a.flags.at("ca"));
  if (a.command == "verify") return Verify(a);
  if (a.command == "export") return Export(a);
  if (a.command == "replay") return Replay(a);
  if (a.command == "diff") return Diff(a);
  if (a.command == "timeline") return Timeline(a);
  if (a.command == "generate") return Generate(a);
  if (a.command == "proof") return Proof(a);
  if (a.command == "import") return Import(a);
  if (a.command == "key") return Key(a);
  if (a.command == "witness") return Witness(a);
  if (a.command == "backup") return Backup(a);
  if (a.command == "restore") return Restore(a);
  if (a.command == "promote" || a.command == "status") return Control(a);
  return Usage("unknown command " + a.command);
}
