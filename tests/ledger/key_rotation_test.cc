// Key custody (LedgerOptions::signing_key_file, adopt_signing_key): the
// signing key kept outside the ledger's directory, and rotated to a new key
// that signs from a size on, with what the old key signed still verifiable
// and a head the old key signed past that size refused by Verify().
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <string>

#include "key_layout.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "ledger/tree_head.h"
#include "raw_db.h"
#include "test_util.h"

namespace ledger {
namespace {

using testing::Received;
using testing::Req;
using testing::T;
using testing::TempDir;

LedgerOptions WithKey(const std::string& key, bool adopt = false, bool read_only = false) {
  LedgerOptions o = testing::TestOptions();
  o.signing_key_file = key;
  o.adopt_signing_key = adopt;
  o.read_only = read_only;
  return o;
}

void Append(Ledger& ledger, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    auto r = ledger.Append(Req("k" + std::to_string(i), T(0), Received()), testing::Writer());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// Whether the signed note `text` verifies with verifier key `vkey`.
bool NoteVerifies(const std::string& text, const std::string& vkey) {
  Result<note::Note> n = note::Parse(text);
  Result<note::Verifier> v = note::ParseVerifierKey(vkey);
  return n.ok() && v.ok() && note::SignedBy(*n, *v);
}

TEST(KeyCustody, TheSigningKeyLivesOutsideTheDataAndOnlyItsPublicKeyInside) {
  TempDir data, keys;
  const std::string key = keys.path() + "/ledger.pem";
  std::string vkey, checkpoint;
  {
    auto l = Ledger::Open(data.path(), WithKey(key));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    Append(**l, 0, 3);
    vkey = (*l)->VerifierKey();
    checkpoint = *(*l)->Checkpoint(3);
    ASSERT_TRUE((*l)->SignedHead(2).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(key));
  EXPECT_FALSE(std::filesystem::exists(Ledger::SigningKeyPath(data.path())));
  EXPECT_TRUE(std::filesystem::exists(Ledger::SigningKeyPath(data.path()) + ".pub"));
  EXPECT_TRUE(Ledger::Exists(data.path()));
  EXPECT_EQ(note::VerifierKey(note::kDefaultOrigin, *Ledger::ReadPublicKey(data.path())), vkey);
  EXPECT_TRUE(NoteVerifies(checkpoint, vkey));

  // A writer needs the key; a path that holds none makes none.
  auto without = Ledger::Open(data.path(), testing::TestOptions());
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.status().code(), Code::kNotFound);
  auto mistyped = Ledger::Open(data.path(), WithKey(keys.path() + "/typo.pem"));
  EXPECT_FALSE(mistyped.ok());
  EXPECT_FALSE(std::filesystem::exists(keys.path() + "/typo.pem"));

  // A read-only open without the key verifies but cannot sign.
  auto reader = Ledger::Open(data.path(), WithKey("", false, true));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->Verify().ok);
  EXPECT_EQ((*reader)->VerifierKey(), vkey);
  EXPECT_FALSE((*reader)->Checkpoint(3).ok());
  auto signing_reader = Ledger::Open(data.path(), WithKey(key, false, true));
  ASSERT_TRUE(signing_reader.ok());
  EXPECT_EQ(*(*signing_reader)->Checkpoint(3), checkpoint);
}

TEST(KeyCustody, ARotatedKeySignsFromItsSizeOnAndTheOldCheckpointsStayVerifiable) {
  TempDir data, keys;
  const std::string old_key = keys.path() + "/2026.pem", new_key = keys.path() + "/2027.pem";
  std::string old_vkey, old_checkpoint;
  {
    auto l = Ledger::Open(data.path(), WithKey(old_key));
    ASSERT_TRUE(l.ok());
    Append(**l, 0, 3);
    ASSERT_TRUE((*l)->SignedHead(2).ok());
    ASSERT_TRUE((*l)->SignedHead(3).ok());
    old_vkey = (*l)->VerifierKey();
    old_checkpoint = *(*l)->Checkpoint(3);
  }
  std::string new_vkey;
  {
    auto l = Ledger::Open(data.path(), WithKey(new_key, /*adopt=*/true));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    new_vkey = (*l)->VerifierKey();
    EXPECT_NE(new_vkey, old_vkey);
    const std::vector<SigningKeyPeriod> history = (*l)->KeyHistory();
    ASSERT_EQ(history.size(), 2u);
    EXPECT_EQ(history[0].from_size, 0u);
    EXPECT_EQ(history[1].from_size, 3u);
    EXPECT_EQ(history[1].public_key, (*l)->PublicKey());
    Append(**l, 3, 2);
    ASSERT_TRUE((*l)->SignedHead(5).ok());
    ASSERT_TRUE((*l)->SignedHead(1).ok());  // an earlier head, signed by the new key
    const std::string checkpoint = *(*l)->Checkpoint(5);
    EXPECT_TRUE(NoteVerifies(checkpoint, new_vkey));
    EXPECT_FALSE(NoteVerifies(checkpoint, old_vkey));
    EXPECT_TRUE(NoteVerifies(old_checkpoint, old_vkey));
    const VerifyReport report = (*l)->Verify();
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.signed_heads_checked, 4u);
  }
  EXPECT_EQ(note::VerifierKey(note::kDefaultOrigin, *Ledger::ReadPublicKey(data.path())), new_vkey);
  // The old key no longer opens the ledger for writing; rotating twice at
  // one size is refused.
  auto old = Ledger::Open(data.path(), WithKey(old_key));
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("since size 3"), std::string::npos)
      << old.status().message();
  {
    auto l = Ledger::Open(data.path(), WithKey(new_key));
    ASSERT_TRUE(l.ok());
  }
  auto again = Ledger::Open(data.path(), WithKey(keys.path() + "/third.pem", true));
  ASSERT_TRUE(again.ok());  // at size 5, after the appends
  again->reset();
  auto twice = Ledger::Open(data.path(), WithKey(keys.path() + "/fourth.pem", true));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("rotated at size 5 already"), std::string::npos);
}

// A head past the rotation signed with the old key (a stolen key's fork)
// does not verify; the same head signed before the rotation's size does.
TEST(KeyCustody, VerifyRefusesAHeadTheOldKeySignedPastTheRotation) {
  TempDir data, keys;
  const std::string old_key = keys.path() + "/old.pem", new_key = keys.path() + "/new.pem";
  TreeHead head5;
  {
    auto l = Ledger::Open(data.path(), WithKey(old_key));
    ASSERT_TRUE(l.ok());
    Append(**l, 0, 3);
  }
  {
    auto l = Ledger::Open(data.path(), WithKey(new_key, true));
    ASSERT_TRUE(l.ok());
    Append(**l, 3, 2);
    head5 = *(*l)->HeadAt(5);
    ASSERT_TRUE((*l)->SignedHead(5).ok());
  }
  auto thief = Signer::Load(old_key);
  ASSERT_TRUE(thief.ok());
  const SignedTreeHead forged = (*thief)->Sign(head5);
  testing::EditClosedLedger(data.path(), [&](rocksdb::DB* db) {
    std::string v;
    internal::keys::PutU64(static_cast<uint64_t>(forged.head.timestamp), &v);
    v.append(reinterpret_cast<const char*>(forged.head.root.data()), 32);
    v.append(forged.signature);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), internal::keys::SignedHead(5), v).ok());
  });
  auto l = Ledger::Open(data.path(), WithKey(new_key));
  ASSERT_TRUE(l.ok());
  const VerifyReport report = (*l)->Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problem.find("signed head of size 5 has a bad signature"), std::string::npos)
      << report.problem;
}

}  // namespace
}  // namespace ledger
