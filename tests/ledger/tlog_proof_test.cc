// c2sp.org/tlog-proof@v1 files (ledger/tlog_proof.h): the specification's
// example read as it is written, a proof of this ledger written and read
// back and checked, and every deviation from the format refused.
#include "ledger/tlog_proof.h"

#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "test_util.h"

namespace ledger {
namespace {

// The example of c2sp.org/tlog-proof, verbatim (its signatures are elided
// there with "[...]", so its checkpoint is no signed note: the format reads
// it all the same, and leaves the checkpoint to the checker).
constexpr std::string_view kSpecExample =
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "\xe2\x80\x94 example.com/fancylog hI2DJw[...]1roloI=\n"
    "\xe2\x80\x94 witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "\xe2\x80\x94 witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "\xe2\x80\x94 witness3.example S4X82uH5[...]3oEcROGLFQ==\n";

Hash HashOf(std::string_view base64) {
  std::optional<std::string> bytes = note::Base64Decode(base64);
  EXPECT_TRUE(bytes && bytes->size() == 32);
  Hash h{};
  if (bytes) std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

TEST(TlogProof, ReadsTheSpecificationsExample) {
  Result<tlog_proof::Proof> p = tlog_proof::Parse(kSpecExample);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->extra.has_value());
  EXPECT_TRUE(p->extra->starts_with("age-v1.2.1-darwin-arm64.tar.gz"));
  EXPECT_EQ(p->extra->size(), 39u);  // 52 base64 characters
  EXPECT_EQ(p->index, 73894u);
  ASSERT_EQ(p->path.size(), 5u);
  EXPECT_EQ(p->path.front(), HashOf("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="));
  EXPECT_EQ(p->path.back(), HashOf("AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk="));
  EXPECT_TRUE(p->checkpoint.starts_with("example.com/fancylog\n109482\nsFodV/"));
  EXPECT_TRUE(p->checkpoint.ends_with("witness3.example S4X82uH5[...]3oEcROGLFQ==\n"));
  // Written back, it is the same text, byte for byte.
  EXPECT_EQ(tlog_proof::Format(*p), kSpecExample);
  // Its checkpoint body reads as one; its signatures (elided) do not.
  EXPECT_FALSE(note::Parse(p->checkpoint).ok());
  const std::string body = p->checkpoint.substr(0, p->checkpoint.find("\n\n") + 1);
  Result<note::Checkpoint> c = note::ParseCheckpointText(body);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->origin, "example.com/fancylog");
  EXPECT_EQ(c->size, 109482u);
}

TEST(TlogProof, AProofOfThisLedgerRoundTripsAndChecks) {
  testing::TempDir dir;
  auto opened = Ledger::Open(dir.path(), testing::TestOptions());
  ASSERT_TRUE(opened.ok());
  Ledger& ledger = **opened;
  for (int i = 0; i < 11; ++i) {
    ASSERT_TRUE(
        ledger
            .Append(testing::Req("t" + std::to_string(i), testing::T(0), testing::Received()),
                    testing::Writer())
            .ok());
  }
  for (uint64_t seq : {1u, 4u, 11u}) {
    tlog_proof::Proof proof;
    proof.extra = *ledger.GetCanonicalBytes(seq);
    proof.index = seq - 1;
    proof.path = *ledger.InclusionProof(seq, 11);
    proof.checkpoint = *ledger.Checkpoint(11);
    const std::string text = tlog_proof::Format(proof);
    EXPECT_TRUE(text.starts_with("c2sp.org/tlog-proof@v1\nextra ")) << text;
    EXPECT_NE(text.find("\nindex " + std::to_string(seq - 1) + "\n"), std::string::npos);
    Result<tlog_proof::Proof> back = tlog_proof::Parse(text);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, proof);
    // What a checker does: the log's signature, then the leaf recomputed
    // from the extra data, led by the path to the checkpoint's root.
    Result<note::Note> n = note::Parse(back->checkpoint);
    ASSERT_TRUE(n.ok());
    Result<note::Verifier> key = note::ParseVerifierKey(ledger.VerifierKey());
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(note::SignedBy(*n, *key));
    Result<note::Checkpoint> c = note::ParseCheckpointText(n->text);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(VerifyInclusion(back->index, c->size, LeafHash(*back->extra), back->path, c->root));
    EXPECT_FALSE(
        VerifyInclusion(back->index, c->size, LeafHash(*back->extra + "x"), back->path, c->root));
  }
  // Without extra data, and with no hashes (a tree of one entry).
  tlog_proof::Proof bare;
  bare.index = 0;
  bare.checkpoint = *ledger.Checkpoint(1);
  const std::string text = tlog_proof::Format(bare);
  EXPECT_EQ(text, "c2sp.org/tlog-proof@v1\nindex 0\n\n" + bare.checkpoint);
  EXPECT_EQ(*tlog_proof::Parse(text), bare);
}

TEST(TlogProof, RefusesEveryDeviationFromTheFormat) {
  const std::string hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
  const std::string checkpoint = "\nexample.com/log\n2\n" + hash + "\n\n\xe2\x80\x94 x AAAA\n";
  auto proof = [&](const std::string& head) { return head + checkpoint; };
  ASSERT_TRUE(tlog_proof::Parse(proof("c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\n")).ok());
  const std::vector<std::string> bad = {
      "",
      proof("c2sp.org/tlog-proof@v2\nindex 1\n"),
      proof("c2sp.org/tlog-proof@v1 \nindex 1\n"),
      proof("\nc2sp.org/tlog-proof@v1\nindex 1\n"),
      proof("c2sp.org/tlog-proof@v1\r\nindex 1\r\n"),
      proof("c2sp.org/tlog-proof@v1\nextra\nindex 1\n"),
      proof("c2sp.org/tlog-proof@v1\nextra  YWJj\nindex 1\n"),
      proof("c2sp.org/tlog-proof@v1\nextra YWJ\nindex 1\n"),       // not base64
      proof("c2sp.org/tlog-proof@v1\nextra YWJjZB==\nindex 1\n"),  // not canonical
      proof("c2sp.org/tlog-proof@v1\nindex 1\nextra YWJj\n"),      // extra after index
      proof("c2sp.org/tlog-proof@v1\n"),                           // no index
      proof("c2sp.org/tlog-proof@v1\nindex 01\n"),
      proof("c2sp.org/tlog-proof@v1\nindex -1\n"),
      proof("c2sp.org/tlog-proof@v1\nindex +1\n"),
      proof("c2sp.org/tlog-proof@v1\nindex 1 \n"),
      proof("c2sp.org/tlog-proof@v1\nindex \n"),
      proof("c2sp.org/tlog-proof@v1\nIndex 1\n"),
      proof("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n"),           // 2^64
      proof("c2sp.org/tlog-proof@v1\nindex 1\n" + hash.substr(0, 40) + "\n"),  // 30 bytes
      proof("c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "AAAA\n"),            // 35 bytes
      proof("c2sp.org/tlog-proof@v1\nindex 1\n " + hash + "\n"),
      "c2sp.org/tlog-proof@v1\nindex 1\n" + hash + "\n",        // no empty line
      "c2sp.org/tlog-proof@v1\nindex 1\n\n",                    // no checkpoint
      "c2sp.org/tlog-proof@v1\nindex 1\n\nexample.com/log\n2",  // no final newline
  };
  for (const std::string& text : bad) {
    Result<tlog_proof::Proof> p = tlog_proof::Parse(text);
    EXPECT_FALSE(p.ok()) << text;
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
      EXPECT_TRUE(p.status().message().starts_with("line ")) << p.status().message();
    }
  }
  // 64 hashes, the most a tree of 2^64 - 1 entries needs; 65 are refused.
  std::string many = "c2sp.org/tlog-proof@v1\nindex 1\n";
  for (int i = 0; i < 64; ++i) many += hash + "\n";
  EXPECT_TRUE(tlog_proof::Parse(many + checkpoint).ok());
  EXPECT_FALSE(tlog_proof::Parse(many + hash + "\n" + checkpoint).ok());
  EXPECT_EQ(
      tlog_proof::Parse("c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n" + checkpoint)->index,
      UINT64_MAX);
}

}  // namespace
}  // namespace ledger
