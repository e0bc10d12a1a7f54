// The commit pipeline: appends queued, checked and written by the commit thread, made durable by
// the sync thread, answered by the answer thread (ledger.h).
#include "ledger_impl.h"

namespace ledger {

// ---------------------------------------------------------------------------
// Appends

void Ledger::Impl::AppendAsync(std::vector<AppendRequest> requests, WriteContext ctx,
                               AppendCallback done) {
  if (read_only()) {
    done(ReadOnly());
    return;
  }
  if (requests.empty()) {
    done(Status::BadField("events", "must hold at least one event"));
    return;
  }
  // Field rules first, for every request: field errors of any event win.
  const Micros now = options_.clock();
  std::vector<FieldError> errors;
  for (size_t i = 0; i < requests.size(); ++i) {
    Status st = ValidateRequest(requests[i], now).ForEvent(i);
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
  }
  if (Status st = Status::InvalidFields(std::move(errors)); !st.ok()) {
    done(std::move(st));
    return;
  }
  auto w = std::make_unique<Writer>();
  w->requests = std::move(requests);
  w->ctx = std::move(ctx);
  w->done = std::move(done);
  Enqueue(std::move(w));
}

void Ledger::Impl::Enqueue(std::unique_ptr<Writer> w) {
  {
    std::lock_guard l(mu_);
    queue_.push_back(std::move(w));
  }
  queue_cv_.notify_one();
}

Result<std::vector<AppendResult>> Ledger::Impl::AppendRecorded(
    std::span<const RecordedRequest> requests, std::optional<Hash> expected_root) {
  if (read_only()) return ReadOnly();
  if (requests.empty()) return Status::BadField("events", "must hold at least one event");
  const Micros now = options_.clock();
  std::vector<FieldError> errors;
  auto w = std::make_unique<Writer>();
  w->expected_root = expected_root;
  Micros previous = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecordedRequest& r = requests[i];
    // The event is checked as the clock stood when it was recorded.
    std::vector<FieldError> bad = ValidateRequest(r.request, r.recorded_at).field_errors();
    if (r.recorded_at > now) {
      bad.push_back({"recorded_at", "is later than the clock (" + FormatTimestamp(now) + ")"});
    } else if (r.recorded_at < previous) {
      bad.push_back({"recorded_at", "is earlier than the previous event's"});
    }
    const size_t colon = r.actor.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == r.actor.size() ||
        r.actor.size() > 200 || HasControlCharacter(r.actor)) {
      bad.push_back({"actor", "must be role:name, at most 200 characters, no control characters"});
    }
    previous = std::max(previous, r.recorded_at);
    Status st = Status::InvalidFields(std::move(bad)).ForEvent(i);
    errors.insert(errors.end(), st.field_errors().begin(), st.field_errors().end());
    w->requests.push_back(r.request);
    w->recorded.push_back({r.recorded_at, r.actor, r.seq, r.hash});
  }
  if (Status st = Status::InvalidFields(std::move(errors)); !st.ok()) return st;
  std::promise<Result<std::vector<AppendResult>>> promise;
  auto future = promise.get_future();
  w->done = [&promise](Result<std::vector<AppendResult>> r) { promise.set_value(std::move(r)); };
  Enqueue(std::move(w));
  return future.get();
}

void Ledger::Impl::CommitLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Writer>> group;
    {
      std::unique_lock l(mu_);
      queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to commit
      // No waiting for more writers: while this group is checked and
      // written the previous one is being synced, and the sync thread's
      // next sync covers every group written meanwhile.
      size_t events = 0;
      while (!queue_.empty()) {
        size_t n = queue_.front()->requests.size();
        if (!group.empty() && events + n > options_.max_group_events) break;
        // Recorded history commits alone (see AppendRecorded).
        if (!group.empty() &&
            (!group.back()->recorded.empty() || !queue_.front()->recorded.empty())) {
          break;
        }
        events += n;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<Writer*> writers;
    for (auto& w : group) writers.push_back(w.get());
    Written written;
    std::optional<Logged> logged;
    if (WriteGroup(writers, &written.segment, &logged).ok() && logged) {
      written.head = TreeHead{logged->overlay.events.back().seq, logged->tree.Root(),
                              logged->overlay.events.back().recorded_at};
    }
    written.writers = std::move(group);
    // The sync begins now, and the memtable is written while the disk
    // syncs: the group's latency is its check and log write, then the
    // longer of the two. The writers are the sync thread's from here on.
    to_sync_.Push(std::move(written));
    if (logged) Apply(std::move(*logged));
  }
}

void Ledger::Impl::Apply(Logged logged) {
  if (options_.before_apply) options_.before_apply();
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;                      // the commit log holds it (commit_log.h)
  wo.memtable_insert_hint_per_batch = true;  // the batch's keys are mostly in runs
  Status st = FromRocks(db_->Write(wo, &logged.batch), "append");
  if (!st.ok()) {
    // The in-memory state can no longer be trusted to match the disk:
    // refuse appends until reopened. The answer thread refuses this group.
    Fail(st);
    return;
  }
  Overlay& overlay = logged.overlay;
  written_seq_ = overlay.events.back().seq;
  written_hash_ = logged.hash;
  written_recorded_at_ = overlay.events.back().recorded_at;
  tree_ = std::move(logged.tree);
  if (logged.completed) brief_tail_.assign(1, internal::kBriefBlockFormat);
  brief_tail_.append(logged.briefs);
  brief_tail_ok_ = logged.tail_ok;
  for (auto& [id, h] : overlay.streams) {
    CacheStream(id, std::move(h));
    streams_.Insert(id);
  }
  {
    std::lock_guard l(applied_mu_);
    applied_seq_ = written_seq_;
  }
  applied_cv_.notify_one();
}

Status Ledger::Impl::WaitApplied(uint64_t seq) {
  std::unique_lock l(applied_mu_);
  applied_cv_.wait(l, [&] { return applied_seq_ >= seq || has_failed_.load(); });
  return applied_seq_ >= seq ? Status::Ok() : Failed();
}

void Ledger::Impl::Refuse(std::deque<Written>* groups, const Status& st) {
  for (Written& g : *groups) {
    if (!g.head) continue;
    g.head.reset();  // never published
    for (auto& w : g.writers) {
      if (w->result.ok()) w->result = st;
    }
  }
}

void Ledger::Impl::SyncLoop() {
  for (std::deque<Written> groups; !(groups = to_sync_.TakeAll()).empty();) {
    // One sync of each log file written covers every group taken: each was
    // written before it began.
    std::optional<TreeHead> head;
    Status st;
    internal::LogSegment* synced = nullptr;
    for (const Written& g : groups) {
      if (!g.head) continue;
      head = g.head;
      if (g.segment.get() != synced && st.ok()) {
        synced = g.segment.get();
        st = synced->Sync();
      }
    }
    if (head && !st.ok()) {
      Fail(st);
      Refuse(&groups, st);
    }
    // Answered only now that their group is durable (or failed): a refusal
    // too waits, since it may rest on a group before it that has yet to
    // reach the disk. The answer thread waits for the memtable write, so
    // that this thread can start the next sync at once.
    for (Written& g : groups) to_answer_.Push(std::move(g));
  }
}

void Ledger::Impl::AnswerLoop() {
  for (std::deque<Written> groups; !(groups = to_answer_.TakeAll()).empty();) {
    std::optional<TreeHead> head;
    for (const Written& g : groups) {
      if (g.head) head = g.head;
    }
    // Readers see only what is in the memtable, and an event that is not
    // there was never written to RocksDB (Apply).
    if (head) {
      if (Status st = WaitApplied(head->size); !st.ok()) {
        head.reset();
        Refuse(&groups, st);
      }
    }
    if (head) Publish(*head);  // before any answer: what is acknowledged is visible
    for (Written& g : groups) {
      for (auto& w : g.writers) {
        w->done(std::move(w->result));
        // Released at once, not with the next group: a callback may hold
        // what its caller waits to see released (AppendCallback).
        w.reset();
      }
    }
  }
}

Status Ledger::Impl::WriteGroup(const std::vector<Writer*>& group,
                                std::shared_ptr<internal::LogSegment>* segment,
                                std::optional<Logged>* logged) {
  // RocksDB counts every key comparison in a thread-local perf context unless
  // told not to; on the write path that costs more than the comparisons.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  if (Status failed = Failed(); !failed.ok()) {
    for (Writer* x : group) x->result = failed;
    return failed;
  }
  const Micros now = options_.clock();
  const Micros recorded_at = std::max(now, written_recorded_at_);
  const bool restoring = group.size() == 1 && !group.front()->recorded.empty();
  if (restoring && written_seq_ > 0 &&
      group.front()->recorded.front().recorded_at < written_recorded_at_) {
    Status st = Status::BadField("recorded_at", "is earlier than the ledger's last recorded_at (" +
                                                    FormatTimestamp(written_recorded_at_) + ")")
                    .ForEvent(0);
    group.front()->result = st;
    return st;
  }

  Overlay overlay;
  overlay.first_seq = written_seq_ + 1;
  size_t requests = 0;
  for (const Writer* x : group) requests += x->requests.size();
  overlay.events.reserve(requests);
  std::vector<Writer*> accepted;
  for (Writer* x : group) {
    Overlay delta;
    delta.first_seq = written_seq_ + 1 + overlay.events.size();
    std::vector<AppendResult> results;
    Status st = ProcessWriter(*x, overlay, now, recorded_at, &delta, &results);
    if (st.ok()) {
      overlay.MergeFrom(std::move(delta));
      x->result = std::move(results);
      accepted.push_back(x);
    } else {
      x->result = st;
    }
  }
  if (overlay.events.empty()) return Status::Ok();

  // Encode, chain and tree the accepted events, and write them in one batch.
  // Records go in key order, one kind after another, so that the memtable's
  // per-batch insert hint finds each next position next to the last.
  rocksdb::WriteBatch batch;
  Hash hash = written_hash_;
  CompactRange tree = tree_;
  std::string value;
  std::vector<std::pair<std::string, Hash>> nodes;
  nodes.reserve(overlay.events.size() / 8 + 64);
  // Brief records since the last block boundary, and the blocks this group
  // completes (brief_block.h).
  std::string briefs;
  bool tail_ok = brief_tail_ok_;
  bool completed = false;
  std::vector<std::pair<std::string, std::string>> blocks;
  for (Event& e : overlay.events) {
    std::string bytes = internal::EncodeEvent(e);
    hash = Sha256({AsBytes(hash), bytes});
    e.hash = hash;
    value.assign(AsBytes(hash));
    value.append(bytes);
    batch.Put(keys::Event(e.seq), value);
    tree.Append(LeafHash(bytes), [&](unsigned level, uint64_t index, const Hash& h) {
      if (level >= keys::kFirstStoredLevel) nodes.emplace_back(keys::MerkleNode(level, index), h);
    });
    internal::AppendBriefRecord(BriefOf(e), bytes, &briefs);
    if (e.seq % internal::kBriefBlockEvents == 0) {
      if (tail_ok) {
        std::string block = completed ? std::string(1, internal::kBriefBlockFormat) : brief_tail_;
        block.append(briefs);
        blocks.emplace_back(keys::BriefBlock(internal::BriefBlockOf(e.seq)), std::move(block));
      }
      briefs.clear();
      completed = true;
      tail_ok = true;
    }
  }
  for (const auto& [key, block] : blocks) batch.Put(key, block);
  for (const auto& [key, h] : nodes) batch.Put(key, AsBytes(h));
  std::vector<std::pair<std::string, std::string>> heads;
  for (const auto& [id, head] : overlay.streams) {
    heads.emplace_back(keys::StreamHead(id), internal::EncodeStreamHead(head));
  }
  std::sort(heads.begin(), heads.end());
  for (const auto& [key, v] : heads) batch.Put(key, v);
  if (restoring) {
    // Where each event landed must be where it was recorded, with the same
    // chain hash: else the history given is not the one that was exported.
    Writer& w = *group.front();
    const std::vector<AppendResult>& results = w.result.value();
    for (size_t i = 0; i < results.size(); ++i) {
      const Writer::Recording& want = w.recorded[i];
      const Event* e = results[i].replayed ? nullptr : overlay.FindEvent(results[i].seq);
      std::string problem;
      if (!e) {
        problem = "was already in the ledger (idempotency_key " +
                  w.requests[i].idempotency_key.value_or("") + ")";
      } else if (want.seq != 0 && want.seq != e->seq) {
        problem = "lands at seq " + std::to_string(e->seq) + ", not " + std::to_string(want.seq);
      } else if (want.hash && *want.hash != e->hash) {
        problem = "has chain hash " + ToHex(e->hash) + ", not " + ToHex(*want.hash) +
                  ": the history differs from the one recorded";
      }
      if (!problem.empty()) {
        w.result = Status::Corruption("event " + std::to_string(i) + " (seq " +
                                      std::to_string(want.seq) + ") " + problem);
        return w.result.status();
      }
    }
    if (w.expected_root && tree.Root() != *w.expected_root) {
      w.result = Status::Corruption("events " + std::to_string(overlay.events.front().seq) + ".." +
                                    std::to_string(overlay.events.back().seq) +
                                    " make a tree of root " + ToHex(tree.Root()) + ", not " +
                                    ToHex(*w.expected_root) + " as expected");
      return w.result.status();
    }
  }
  for (const auto& [key, entry] : overlay.idempotency) {
    std::string v;
    keys::PutU64(entry.first, &v);
    v.append(AsBytes(entry.second));
    batch.Put(keys::Idempotency(key), v);
  }
  const uint64_t last_seq = overlay.events.back().seq;
  std::string head;
  keys::PutU64(last_seq, &head);
  head.append(AsBytes(hash));
  batch.Put(keys::Head(), head);

  if (Status room = CheckFreeSpace(batch.GetDataSize()); !room.ok()) {
    for (Writer* x : accepted) x->result = room;
    return room;
  }
  // The batch goes to the commit log, not synced: the sync thread syncs the
  // log file for this group and any written while it waits, and only then
  // are they visible or acknowledged (readers stop at Size(), the synced
  // head). Apply then writes it to RocksDB's memtable.
  auto appended =
      log_->Append(overlay.first_seq, last_seq, batch.Data(), [this] { return PersistedSeq(); });
  if (!appended.ok()) {
    // The batch may or may not have reached the log: the in-memory state can
    // no longer be trusted to match the disk. Refuse appends until reopened.
    Fail(appended.status());
    for (Writer* x : accepted) x->result = appended.status();
    return appended.status();
  }
  *segment = std::move(appended).value();

  // The events' chain hashes are final.
  for (Writer* x : accepted) {
    for (AppendResult& r : x->result.value()) {
      // A retry answered from an event of this same group gets its hash here too.
      if (const Event* e = overlay.FindEvent(r.seq)) r.hash = e->hash;
    }
  }
  logged->emplace(Logged{std::move(batch), std::move(overlay), hash, std::move(tree),
                         std::move(briefs), completed, tail_ok});
  return Status::Ok();
}

Status Ledger::Impl::CheckFreeSpace(uint64_t batch_bytes) {
  if (options_.min_free_bytes == 0) return Status::Ok();
  const uint64_t needed = options_.min_free_bytes + 2 * batch_bytes;
  // A statvfs per group cost the commit thread about 2% of its time. Far
  // from the limit the free space is estimated, as last read less what the
  // ledger has written since, and read again every 50 ms (RocksDB's
  // flushes and compactions also use space); within 1 GiB of the limit it
  // is read for every group.
  constexpr uint64_t kEstimateAbove = 1ull << 30;
  constexpr auto kReadEvery = std::chrono::milliseconds(50);
  const auto now = std::chrono::steady_clock::now();
  const uint64_t estimate =
      free_read_ > written_since_free_read_ ? free_read_ - written_since_free_read_ : 0;
  if (estimate < needed + kEstimateAbove || now - free_read_at_ >= kReadEvery) {
    struct statvfs fs;
    if (statvfs(dir_.c_str(), &fs) != 0) return Status::Ok();  // unknown: let the write say
    free_read_ = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    free_read_at_ = now;
    written_since_free_read_ = 0;
  }
  if (free_read_ >= needed) {
    // The batch goes to the commit log and, later, to a table.
    written_since_free_read_ += 2 * batch_bytes;
    return Status::Ok();
  }
  return Status::ResourceExhausted(
      "the disk holding the ledger is full: " + std::to_string(free_read_ >> 20) +
      " MiB free, appends resume above " + std::to_string((needed + (1 << 20) - 1) >> 20) +
      " MiB; nothing was appended");
}

void Ledger::Impl::Publish(const TreeHead& head) {
  {
    std::lock_guard l(head_mu_);
    durable_head_ = head;
  }
  durable_.store(head.size, std::memory_order_release);
  std::lock_guard g(listeners_mu_);
  for (auto& f : listeners_) f(head.size);
}

}  // namespace ledger
