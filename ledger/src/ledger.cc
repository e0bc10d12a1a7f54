// The public face of the ledger: each call handed to Ledger::Impl
// (ledger_impl.h).
#include "ledger_impl.h"

namespace ledger {

// ---------------------------------------------------------------------------
// Ledger, the public face

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& dir, LedgerOptions options) {
  if (!note::ValidOrigin(options.origin)) {
    return Status::InvalidArgument("the origin '" + options.origin +
                                   "' may hold no spaces, '+' or control characters");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  LEDGER_RETURN_IF_ERROR(impl->Open(dir));
  if (!impl->read_only()) impl->Start();  // a read-only ledger commits nothing
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

Result<std::vector<AppendResult>> Ledger::Append(std::span<const AppendRequest> requests,
                                                 const WriteContext& ctx) {
  std::promise<Result<std::vector<AppendResult>>> promise;
  auto future = promise.get_future();
  impl_->AppendAsync(
      std::vector<AppendRequest>(requests.begin(), requests.end()), ctx,
      [&promise](Result<std::vector<AppendResult>> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Ledger::AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx,
                         AppendCallback done) {
  impl_->AppendAsync(std::move(requests), std::move(ctx), std::move(done));
}

Result<std::vector<AppendResult>> Ledger::AppendRecorded(std::span<const RecordedRequest> requests,
                                                         std::optional<Hash> expected_root) {
  return impl_->AppendRecorded(requests, expected_root);
}

Result<AppendResult> Ledger::Append(const AppendRequest& request, const WriteContext& ctx) {
  auto r = Append(std::span<const AppendRequest>(&request, 1), ctx);
  if (!r.ok()) return r.status();
  return r->front();
}

uint64_t Ledger::Size() const { return impl_->Size(); }
Result<Event> Ledger::GetEvent(uint64_t seq) const { return impl_->GetEvent(seq); }
Result<std::string> Ledger::GetCanonicalBytes(uint64_t seq) const {
  if (seq == 0 || seq > Size()) return Status::NotFound("no event with seq " + std::to_string(seq));
  Result<std::string> stored = impl_->GetStored(seq);
  if (!stored.ok()) return stored.status();
  return stored->substr(32);
}
Result<std::vector<Event>> Ledger::ReadStream(std::string_view id) const {
  return impl_->ReadStream(id);
}
Result<StreamInfo> Ledger::DescribeStream(std::string_view referral_id,
                                          bool with_placements) const {
  return impl_->DescribeStream(referral_id, with_placements);
}
Result<std::vector<Event>> Ledger::ReadFeed(uint64_t after, size_t limit) const {
  return impl_->ReadFeed(after, limit);
}
Status Ledger::ScanEvents(uint64_t after, uint64_t upto,
                          const std::function<Status(const Event&)>& fn) const {
  return impl_->ScanEvents(after, upto, fn);
}

Status Ledger::ScanBriefs(uint64_t after, uint64_t upto,
                          const std::function<Status(const EventBrief&)>& fn) const {
  return impl_->ScanBriefs(after, upto, fn);
}
Result<uint64_t> Ledger::SeqAtTime(Micros t) const { return impl_->SeqAtTime(t); }
Result<ViewStore*> Ledger::OpenViewStore(const std::string& name) {
  return impl_->OpenViewStore(name);
}
TreeHead Ledger::Head() const { return impl_->Head(); }
Result<TreeHead> Ledger::HeadAt(uint64_t size) const { return impl_->HeadAt(size); }
Result<SignedTreeHead> Ledger::SignedHead(uint64_t size) const { return impl_->SignedHead(size); }
Result<std::vector<Hash>> Ledger::InclusionProof(uint64_t seq, uint64_t size) const {
  return impl_->InclusionProof(seq, size);
}
Result<std::vector<Hash>> Ledger::ConsistencyProof(uint64_t from, uint64_t to) const {
  return impl_->ConsistencyProof(from, to);
}
Result<std::string> Ledger::Checkpoint(uint64_t size) const {
  {
    std::lock_guard lock(impl_->checkpoint_mu);
    if (impl_->checkpoint_size == size) return impl_->checkpoint_note;
  }
  Result<TreeHead> head = impl_->HeadAt(size);
  if (!head.ok()) return head.status();
  const std::string& origin = impl_->options().origin;
  if (!impl_->signer()) return NoSigningKey();
  std::string signed_note =
      note::Sign(note::CheckpointText(origin, size, head->root), origin, *impl_->signer());
  std::lock_guard lock(impl_->checkpoint_mu);
  if (impl_->checkpoint_size == UINT64_MAX || size >= impl_->checkpoint_size) {
    impl_->checkpoint_size = size;
    impl_->checkpoint_note = signed_note;
  }
  return signed_note;
}
Result<std::string> Ledger::ReadTile(const tiles::Tile& tile, uint64_t size) const {
  return impl_->ReadTile(tile, size);
}

std::string Ledger::VerifierKey() const {
  return note::VerifierKey(impl_->options().origin, impl_->public_key());
}
const std::string& Ledger::origin() const { return impl_->options().origin; }
const std::string& Ledger::PublicKey() const { return impl_->public_key(); }
const std::string& Ledger::PublicKeyPem() const { return impl_->public_key_pem(); }
std::vector<SigningKeyPeriod> Ledger::KeyHistory() const { return impl_->key_history(); }
VerifyReport Ledger::Verify(const std::function<void(uint64_t, uint64_t)>& on_progress) const {
  return impl_->Verify(on_progress);
}
void Ledger::Subscribe(std::function<void(uint64_t)> listener) {
  impl_->Subscribe(std::move(listener));
}

}  // namespace ledger
