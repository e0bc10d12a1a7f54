// Signed notes and checkpoints (ledger/note.h) against the published
// vectors: Go's golang.org/x/mod/sumdb/note tests (the PeterNeumann key,
// its verifier key, a signed note byte for byte) and c2sp.org/signed-note.
#include "ledger/note.h"

#include <gtest/gtest.h>

#include "ledger/ledger.h"
#include "test_util.h"

namespace ledger::note {
namespace {

// sumdb/note's test key: "PRIVATE+KEY+PeterNeumann+c74f20a3+" followed by
// base64(0x01 || 32-byte seed).
constexpr std::string_view kSeed = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kVkey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kSigned =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

std::unique_ptr<Signer> PeterNeumann() {
  std::optional<std::string> key = Base64Decode(kSeed);
  EXPECT_TRUE(key && key->size() == 33 && (*key)[0] == 1);
  auto signer = Signer::FromSeed(key ? key->substr(1) : "");
  EXPECT_TRUE(signer.ok());
  return signer.ok() ? std::move(signer).value() : nullptr;
}

TEST(SignedNote, TheGoVectorsKeyIdVerifierKeyAndSignature) {
  std::unique_ptr<Signer> signer = PeterNeumann();
  ASSERT_TRUE(signer);
  EXPECT_EQ(KeyId("PeterNeumann", kEd25519, signer->public_key()), 0xc74f20a3u);
  EXPECT_EQ(VerifierKey("PeterNeumann", signer->public_key()), kVkey);
  EXPECT_EQ(Sign(kText, "PeterNeumann", *signer), kSigned);
}

TEST(SignedNote, ParsesAndVerifiesOnlyWhatTheKeySigned) {
  auto v = ParseVerifierKey(kVkey);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->id, 0xc74f20a3u);
  auto note = Parse(kSigned);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(note->text, kText);
  ASSERT_EQ(note->signatures.size(), 1u);
  EXPECT_TRUE(SignedBy(*note, *v));
  // Another text under the same signature: rejected.
  Note altered = *note;
  altered.text[0] = 'i';
  EXPECT_FALSE(SignedBy(altered, *v));
  // A key of the same name but another id is not the signer.
  Verifier other = *v;
  other.id ^= 1;
  EXPECT_FALSE(SignedBy(*note, other));
  // The example of c2sp.org/signed-note parses (its key is not published).
  auto poem = Parse(
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \xC3\xA8 subito "
      "sera.\n\n\xE2\x80\x94 quasimodo.example/salvatore "
      "NnugSzTjtVAewIS+Z/iJhUPeFDkO/"
      "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n");
  ASSERT_TRUE(poem.ok()) << poem.status().ToString();
  EXPECT_EQ(poem->signatures[0].name, "quasimodo.example/salvatore");
  EXPECT_TRUE(poem->text.ends_with("subito sera.\n"));
}

TEST(SignedNote, MalformedKeysAndNotesAreRefused) {
  // From sumdb/note's tests: a key of the wrong length and an unknown
  // algorithm, each with its id adjusted.
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
          .ok());
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  EXPECT_FALSE(ParseVerifierKey("PeterNeumann").ok());
  EXPECT_FALSE(Parse(kText).ok());                                           // no signature
  EXPECT_FALSE(Parse(std::string(kText) + "\n- PeterNeumann AAAA\n").ok());  // no em dash
  std::string control(kSigned);
  control[3] = '\x01';
  EXPECT_FALSE(Parse(control).ok());
  EXPECT_FALSE(Base64Decode("AB=C").has_value());
  EXPECT_FALSE(Base64Decode("ABC").has_value());
  EXPECT_EQ(Base64Decode("AAE="), std::string("\0\1", 2));
}

// c2sp.org/tlog-cosignature's example: the cosigned message, and the
// layout of the signature bytes (key id, then the big-endian timestamp that
// the example's "time" line states, then the Ed25519 signature).
TEST(Cosignature, TheSpecificationsMessageAndSignatureLayout) {
  const std::string body =
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  EXPECT_EQ(CosignatureMessage(body, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  auto example =
      Parse(body +
            "\n\xE2\x80\x94 witness.example.com/w1 "
            "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
            "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n");
  ASSERT_TRUE(example.ok()) << example.status().ToString();
  const std::string& sig = example->signatures.at(0).signature;
  ASSERT_EQ(sig.size(), 8u + 64u);
  uint64_t timestamp = 0;
  for (int i = 0; i < 8; ++i) timestamp = (timestamp << 8) | static_cast<unsigned char>(sig[i]);
  EXPECT_EQ(timestamp, 1679315147u);
  EXPECT_EQ(
      SignatureLine(example->signatures.at(0)),
      "\xE2\x80\x94 witness.example.com/w1 "
      "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
      "mbIUBkBIfZ+qnA==\n");
}

TEST(Cosignature, AWitnessKeyCosignsAndOnlyItsCosignatureCounts) {
  std::unique_ptr<Signer> witness = PeterNeumann();
  ASSERT_TRUE(witness);
  const std::string vkey = VerifierKey("witness.example/w1", witness->public_key(), kCosignatureV1);
  // The key id of a cosigner hashes in 0x04, not 0x01.
  auto cosigner = ParseVerifierKey(vkey, kCosignatureV1);
  ASSERT_TRUE(cosigner.ok()) << cosigner.status().ToString();
  EXPECT_EQ(cosigner->id, KeyId("witness.example/w1", kCosignatureV1, witness->public_key()));
  EXPECT_NE(cosigner->id, KeyId("witness.example/w1", kEd25519, witness->public_key()));
  EXPECT_FALSE(ParseVerifierKey(vkey).ok());  // not a log's key
  EXPECT_FALSE(ParseVerifierKey(kVkey, kCosignatureV1).ok());

  const std::string body = CheckpointText("example.com/log", 5, Sha256(std::string("x")));
  std::string line = Cosign(body, "witness.example/w1", *witness, 1700000000);
  auto note = Parse(Sign(body, "PeterNeumann", *witness) + line);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(CosignedBy(*note, *cosigner), std::optional<uint64_t>(1700000000));
  // A cosignature is not a log signature, nor the other way round.
  EXPECT_FALSE(SignedBy(*note, *cosigner));
  auto log_key = ParseVerifierKey(kVkey);
  EXPECT_FALSE(CosignedBy(*note, *log_key).has_value());
  // Another time or another body under the same signature: no cosignature.
  Note moved = *note;
  moved.signatures.back().signature[7] ^= 1;
  EXPECT_FALSE(CosignedBy(moved, *cosigner).has_value());
  Note other = *note;
  other.text = CheckpointText("example.com/log", 6, Sha256(std::string("x")));
  EXPECT_FALSE(CosignedBy(other, *cosigner).has_value());
}

TEST(Checkpoint, BodyIsOriginSizeAndRootAndSignsAsANote) {
  std::unique_ptr<Signer> signer = PeterNeumann();
  ASSERT_TRUE(signer);
  const Hash root = Sha256("");  // the empty tree's root (RFC 6962)
  const std::string text = CheckpointText("example.com/log", 0, root);
  EXPECT_EQ(text, "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
  auto back = ParseCheckpointText(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->origin, "example.com/log");
  EXPECT_EQ(back->size, 0u);
  EXPECT_EQ(back->root, root);
  auto note = Parse(Sign(text, "example.com/log", *signer));
  ASSERT_TRUE(note.ok());
  auto v = ParseVerifierKey(VerifierKey("example.com/log", signer->public_key()));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(SignedBy(*note, *v));
  EXPECT_FALSE(ParseCheckpointText(text + "extra\n").ok());
  EXPECT_FALSE(ParseCheckpointText("example.com/log\n01\n" + text.substr(18)).ok());
}

// A ledger's checkpoints: of any size up to its own, signed under its
// origin, each checked by its verifier key; an origin that cannot be a key
// name is refused when the ledger is opened.
TEST(LedgerCheckpoint, EverySizeSignedUnderTheOrigin) {
  testing::TempDir dir;
  LedgerOptions options = testing::TestOptions();
  options.origin = "example.org/rehab";
  auto ledger = Ledger::Open(dir.path(), options);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        (*ledger)
            ->Append(testing::Req("r" + std::to_string(i), testing::T(i), testing::Received()),
                     testing::Writer())
            .ok());
  }
  auto v = ParseVerifierKey((*ledger)->VerifierKey());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->name, "example.org/rehab");
  for (uint64_t size = 0; size <= 3; ++size) {
    auto checkpoint = (*ledger)->Checkpoint(size);
    ASSERT_TRUE(checkpoint.ok());
    auto note = Parse(*checkpoint);
    ASSERT_TRUE(note.ok());
    EXPECT_TRUE(SignedBy(*note, *v));
    auto body = ParseCheckpointText(note->text);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(body->size, size);
    EXPECT_EQ(body->root, (*ledger)->SignedHead(size)->head.root);
  }
  EXPECT_EQ((*ledger)->Checkpoint(4).status().code(), Code::kNotFound);
  testing::TempDir other;
  options.origin = "two words";
  EXPECT_EQ(Ledger::Open(other.path(), options).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ledger::note
