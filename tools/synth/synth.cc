#include "synth.h"

#include <cstdio>
#include <limits>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "projections/areas.h"

namespace synth {

using namespace ledger;

namespace {

constexpr Micros kDay = kMicrosPerDay;
// The share of referrals whose placement starts, as the pathways below give
// it (measured over five years of referrals; see synth_test).
constexpr double kPlacedShare = 0.46;

// What a pending step of a pathway will emit.
enum class Step : uint8_t {
  kReceive,
  kAssess,
  kRequestFunding,
  kFundingDecision,
  kAssessmentRefusal,
  kLodgeAppeal,
  kDecideAppeal,
  kOffer,
  kStart,
  kProviderRefusal,
  kEnd,
  kWithdraw,
  kCorrectReceipt,
  kCorrectRefusal,
};

struct Pending {
  Micros t;
  uint64_t order;  // ties in time keep scheduling order
  uint64_t path;
  Step step;
  bool operator>(const Pending& o) const { return t != o.t ? t > o.t : order > o.order; }
};

struct Path {
  std::string id;
  size_t area = 0;        // in State::areas: the area as it was before April 2023
  std::string area_code;  // the code it is recorded with: a successor's from then
  ledger::Ethnicity ethnicity{};
  ledger::RefusalReason reason_to_correct{};  // of the refusal a correction will name
  Micros received_at = 0;
  double refusal_odds = 0;  // chance a funding panel refuses
  // Generation indices (not seqs: seqs follow recording order) of the
  // events a scheduled correction will target.
  uint64_t received_gen = 0;
  uint64_t refused_gen = 0;
  uint64_t correct_refusal_gen = 0;
  ledger::Micros last_recorded = 0;  // recordings of a referral keep its order
  std::string provider;              // latest offered
  int offers = 0;
  int pending = 0;  // steps in the queue; the path is dropped at 0
};

struct AreaWeight {
  std::string code;
  uint64_t cumulative = 0;  // population up to and including this area
  double refusal_odds = 0;
};

// A generated event waiting for its recording time to come round.
struct Item {
  Generated out;
  uint64_t gen = 0;         // generation index
  bool is_target = false;   // a later correction names it
  uint64_t target_gen = 0;  // for a correction: its target's generation index
  bool operator>(const Item& o) const {
    return out.recorded_at != o.out.recorded_at ? out.recorded_at > o.out.recorded_at : gen > o.gen;
  }
};

}  // namespace

// An area replaced by others (April 2023): referrals received from
// `from_day` are recorded with one of them, in proportion to population.
struct Successors {
  int64_t from_day = 0;
  std::vector<std::pair<std::string, uint64_t>> areas;  // code, population
  uint64_t population = 0;
};

struct Generator::State {
  Options opt;
  std::mt19937_64 rng;
  std::vector<AreaWeight> areas;  // the areas in use before any was replaced
  std::unordered_map<std::string, Successors> successors;  // by replaced code
  std::vector<std::string> providers;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue;
  std::unordered_map<uint64_t, Path> paths;
  uint64_t next_referral = 0;
  uint64_t order = 0;
  uint64_t produced = 0;                                 // generated in business-time order
  Micros frontier = std::numeric_limits<Micros>::min();  // last produced business time
  uint64_t emitted = 0;                                  // released in recording order
  // Generated events not yet released, by recorded_at.
  std::priority_queue<Item, std::vector<Item>, std::greater<>> recorded;
  std::unordered_map<uint64_t, uint64_t> target_seqs;  // generation index -> seq

  // How long after it happened an event is recorded: mostly within hours,
  // some days later, a few weeks later.
  Micros Lag() {
    const double u = Uniform();
    const Micros minute = 60 * kMicrosPerSecond;
    if (u < 0.60) return minute * static_cast<Micros>(2 + Below(240));
    if (u < 0.85) return minute * static_cast<Micros>(240 + Below(3 * 1440));
    if (u < 0.97) return kDay * static_cast<Micros>(3 + Below(12)) + minute * Below(1440);
    return kDay * static_cast<Micros>(14 + Below(42)) + minute * Below(1440);
  }

  // The next event in business-time order, or false when there are none.
  bool Produce(Item* out);

  double Uniform() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return rng() % n; }
  // The code an area is recorded with at business time t: its own, or,
  // once it has been replaced, one of its successors', by population.
  std::string AreaCodeAt(const std::string& code, Micros t) {
    auto it = successors.find(code);
    if (it == successors.end() || t < it->second.from_day * ledger::kMicrosPerDay) return code;
    uint64_t pick = Below(it->second.population);
    for (const auto& [successor, population] : it->second.areas) {
      if (pick < population) return successor;
      pick -= population;
    }
    return it->second.areas.back().first;
  }
  bool Chance(double p) { return Uniform() < p; }
  // A delay of lo..hi whole days plus a random time of day.
  Micros Days(int lo, int hi) {
    return static_cast<Micros>(lo + Below(hi - lo + 1)) * kDay +
           static_cast<Micros>(Below(86400)) * kMicrosPerSecond;
  }
  template <typename E>
  E Pick(std::initializer_list<int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    int r = static_cast<int>(Below(total));
    int i = 0;
    for (int w : weights) {
      if (r < w) return static_cast<E>(i);
      r -= w;
      ++i;
    }
    return static_cast<E>(0);
  }

  void Schedule(uint64_t path, Micros t, Step step) {
    if (t >= opt.end) return;  // beyond the ledger's horizon: left open
    queue.push(Pending{t, order++, path, step});
    ++paths[path].pending;
  }

  Micros ArrivalTime(uint64_t i) const {
    // One arrival per equal slot of [start, end), at a point in the slot.
    const double slot =
        static_cast<double>(opt.end - opt.start) / static_cast<double>(opt.referrals);
    return opt.start + static_cast<Micros>(slot * static_cast<double>(i));
  }

  void ScheduleArrivals(Micros until) {
    while (next_referral < opt.referrals && ArrivalTime(next_referral) <= until) {
      const uint64_t i = next_referral++;
      const Micros jitter =
          static_cast<Micros>(Uniform() * static_cast<double>(opt.end - opt.start) /
                              static_cast<double>(opt.referrals));
      Schedule(i, ArrivalTime(i) + jitter, Step::kReceive);
    }
  }
};

Generator::Generator(Options options) : s_(std::make_unique<State>()) {
  s_->opt = std::move(options);
  s_->rng.seed(s_->opt.seed);
  uint64_t total = 0;
  for (const projections::AreaInfo& a : projections::ReferenceAreas()) {
    if (a.in_use_from) {  // a successor: taken in place of the area it replaced
      for (const std::string& old : a.replaces) {
        Successors& to = s_->successors[old];
        to.from_day = *a.in_use_from;
        to.areas.emplace_back(a.code, a.population);
        to.population += a.population;
      }
      continue;
    }
    total += a.population;
    // The postcode lottery: most areas' panels refuse a typical share
    // (25-45%), one in ten far more (60-80%), one in ten rarely (5-15%).
    const double kind = s_->Uniform(), u = s_->Uniform();
    const double odds = kind < 0.1 ? 0.60 + 0.2 * u : kind < 0.2 ? 0.05 + 0.1 * u : 0.25 + 0.2 * u;
    s_->areas.push_back(AreaWeight{a.code, total, odds});
  }
  for (int i = 0; i < 120; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "1-%010llu",
                  static_cast<unsigned long long>(1000000000 + s_->Below(8999999999ULL)));
    s_->providers.push_back(buf);
  }
}

Generator::~Generator() = default;

uint64_t Generator::generated() const { return s_->emitted; }

bool Generator::State::Produce(Item* item) {
  State& s = *this;
  for (;;) {
    // Arrivals due before the next pending step join the queue first.
    s.ScheduleArrivals(s.queue.empty() ? s.ArrivalTime(s.next_referral) : s.queue.top().t);
    if (s.queue.empty()) return false;
    const Pending p = s.queue.top();
    s.queue.pop();
    Path& path = s.paths[p.path];
    const uint64_t gen = s.produced;
    Item it;
    it.gen = gen;
    AppendRequest& req = it.out.request;
    req.event.occurred_at = p.t;
    auto refusal = [&](RefusalStage stage, std::initializer_list<int> weights,
                       std::string decided_by) {
      ReferralRefused r{stage, s.Pick<RefusalReason>(weights), std::move(decided_by), std::nullopt};
      path.refused_gen = gen;
      return r;
    };
    // A refusal's correction is scheduled with it and names it.
    auto correct_refusal_later = [&] {
      if (!s.Chance(0.02)) return;
      path.correct_refusal_gen = gen;
      path.reason_to_correct = std::get<ReferralRefused>(req.event.data).reason;
      it.is_target = true;
      s.Schedule(p.path, p.t + s.Days(1, 30), Step::kCorrectRefusal);
    };
    const std::string area = path.area_code;
    switch (p.step) {
      case Step::kReceive: {
        char id[48];
        std::snprintf(id, sizeof id, "%sr%09llu", s.opt.id_prefix.c_str(),
                      static_cast<unsigned long long>(p.path));
        path.id = id;
        const uint64_t pick = s.Below(s.areas.back().cumulative);
        while (s.areas[path.area].cumulative <= pick) ++path.area;
        path.received_at = p.t;
        path.area_code = s.AreaCodeAt(s.areas[path.area].code, p.t);
        ReferralReceived r;
        char person[20];
        std::snprintf(person, sizeof person, "p%015llx",
                      static_cast<unsigned long long>(s.rng() >> 4));
        r.person = person;
        r.area = path.area_code;
        r.referrer = s.Pick<Referrer>({60, 8, 5, 12, 12, 3});
        r.substance = s.Pick<Substance>({30, 15, 40, 15});
        r.age_band = s.Pick<AgeBand>({4, 8, 14, 16, 17, 15, 12, 8, 4, 2});
        r.sex = s.Pick<Sex>({34, 62, 1, 3});
        r.ethnicity = s.Pick<Ethnicity>({6, 5, 4, 80, 2, 3});
        path.ethnicity = r.ethnicity;
        r.disability = s.Pick<Disability>({25, 65, 10});
        // Some groups meet more refusals: the disparities the views show.
        path.refusal_odds = s.areas[path.area].refusal_odds +
                            (r.ethnicity == Ethnicity::kBlack ? 0.12 : 0.0) +
                            (r.age_band >= AgeBand::k55To59 ? 0.08 : 0.0);
        path.received_gen = gen;
        req.event.data = std::move(r);
        if (s.Chance(0.015)) {
          it.is_target = true;
          s.Schedule(p.path, p.t + s.Days(1, 20), Step::kCorrectReceipt);
        }
        if (s.Chance(0.05)) {
          s.Schedule(p.path, p.t + s.Days(1, 40), Step::kWithdraw);
        } else if (s.Chance(0.06)) {
          s.Schedule(p.path, p.t + s.Days(1, 10), Step::kRequestFunding);
        } else {
          s.Schedule(p.path, p.t + s.Days(2, 25), Step::kAssess);
        }
        break;
      }
      case Step::kAssess: {
        const bool suitable = s.Chance(0.85);
        req.event.data = AssessmentCompleted{
            suitable ? AssessmentOutcome::kSuitable : AssessmentOutcome::kNotSuitable,
            std::nullopt};
        if (!suitable) {
          s.Schedule(p.path, p.t + s.Days(0, 5), Step::kAssessmentRefusal);
        } else if (s.Chance(0.04)) {
          s.Schedule(p.path, p.t + s.Days(1, 30), Step::kWithdraw);
        } else {
          s.Schedule(p.path, p.t + s.Days(1, 14), Step::kRequestFunding);
        }
        break;
      }
      case Step::kAssessmentRefusal:
        req.event.data = refusal(RefusalStage::kAssessment, {20, 25, 20, 0, 0, 15, 10, 0, 5, 0, 5},
                                 "assessor-" + area + "-" + std::to_string(1 + s.Below(6)));
        correct_refusal_later();
        if (s.Chance(0.2)) s.Schedule(p.path, p.t + s.Days(3, 30), Step::kLodgeAppeal);
        break;
      case Step::kRequestFunding:
        req.event.data = FundingRequested{s.Pick<FundingRoute>({60, 25, 5, 8, 2}),
                                          static_cast<int32_t>(4 + s.Below(21))};
        s.Schedule(p.path, p.t + s.Days(7, 60), Step::kFundingDecision);
        break;
      case Step::kFundingDecision:
        if (s.Chance(path.refusal_odds)) {
          req.event.data =
              refusal(RefusalStage::kFundingPanel, {8, 15, 15, 25, 3, 5, 3, 8, 8, 5, 5},
                      "panel-" + area + "-" + std::to_string(1 + s.Below(3)));
          correct_refusal_later();
          if (s.Chance(0.3)) s.Schedule(p.path, p.t + s.Days(3, 30), Step::kLodgeAppeal);
        } else {
          req.event.data = FundingApproved{"panel-" + area + "-" + std::to_string(1 + s.Below(3)),
                                           static_cast<int32_t>(4 + s.Below(21))};
          if (s.Chance(0.03)) {
            s.Schedule(p.path, p.t + s.Days(1, 20), Step::kWithdraw);
          } else {
            s.Schedule(p.path, p.t + s.Days(3, 30), Step::kOffer);
          }
        }
        break;
      case Step::kLodgeAppeal:
        req.event.data = AppealLodged{"Grounds recorded by the referrer."};
        s.Schedule(p.path, p.t + s.Days(10, 50), Step::kDecideAppeal);
        break;
      case Step::kDecideAppeal: {
        const bool upheld = s.Chance(0.4);
        req.event.data = AppealDecided{upheld ? AppealOutcome::kUpheld : AppealOutcome::kDismissed,
                                       "appeals-" + area};
        if (upheld) s.Schedule(p.path, p.t + s.Days(3, 30), Step::kOffer);
        break;
      }
      case Step::kOffer: {
        path.provider = s.providers[s.Below(s.providers.size())];
        ++path.offers;
        char start[16];
        const int64_t day = (p.t + s.Days(5, 40)) / kDay;
        std::snprintf(start, sizeof start, "%s", FormatDate(day).c_str());
        req.event.data = PlacementOffered{path.provider, start};
        if (path.offers < 3 && s.Chance(0.15)) {
          s.Schedule(p.path, p.t + s.Days(2, 20), Step::kOffer);
        } else if (s.Chance(0.04)) {
          s.Schedule(p.path, p.t + s.Days(1, 20), Step::kProviderRefusal);
        } else if (s.Chance(0.03)) {
          s.Schedule(p.path, p.t + s.Days(1, 20), Step::kWithdraw);
        } else {
          s.Schedule(p.path, p.t + s.Days(2, 30), Step::kStart);
        }
        break;
      }
      case Step::kProviderRefusal:
        req.event.data =
            refusal(RefusalStage::kProvider, {0, 0, 0, 0, 40, 0, 50, 0, 0, 0, 10}, path.provider);
        if (s.Chance(0.2)) s.Schedule(p.path, p.t + s.Days(3, 30), Step::kLodgeAppeal);
        break;
      case Step::kStart:
        req.event.data = PlacementStarted{path.provider};
        s.Schedule(p.path, p.t + s.Days(28, 120), Step::kEnd);
        break;
      case Step::kEnd:
        req.event.data = PlacementEnded{s.Pick<PlacementOutcome>({60, 30, 10})};
        break;
      case Step::kWithdraw:
        req.event.data = ReferralWithdrawn{s.Pick<WithdrawnBy>({70, 30}), std::nullopt};
        break;
      case Step::kCorrectReceipt: {
        RecordCorrected c;
        it.target_gen = path.received_gen;
        if (s.Chance(0.2)) {
          // Another area, one in use when the referral was received.
          c.reason = "commissioning area recorded wrongly";
          std::string other;
          do {
            other = s.AreaCodeAt(s.areas[s.Below(s.areas.size())].code, path.received_at);
          } while (other == path.area_code);
          c.fields.push_back({"area", other});
        } else {
          // A correction changes the value it corrects.
          c.reason = "ethnicity recorded wrongly at referral";
          Ethnicity other;
          do {
            other = s.Pick<Ethnicity>({6, 5, 4, 80, 2, 3});
          } while (other == path.ethnicity);
          c.fields.push_back({"ethnicity", std::string(ToString(other))});
        }
        req.event.data = std::move(c);
        break;
      }
      case Step::kCorrectRefusal: {
        it.target_gen = path.correct_refusal_gen;
        RefusalReason other;
        do {
          other = s.Pick<RefusalReason>({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
        } while (other == path.reason_to_correct);
        req.event.data = RecordCorrected{0,  // set to the target's seq when released
                                         "refusal reason recorded wrongly",
                                         {{"reason", std::string(ToString(other))}}};
        break;
      }
    }
    req.event.referral_id = path.id;
    // Placements are recorded by their provider, everything else by the
    // commissioning partnership.
    it.out.actor = std::holds_alternative<PlacementStarted>(req.event.data) ||
                           std::holds_alternative<PlacementEnded>(req.event.data)
                       ? "provider:" + path.provider
                       : "partnership:" + path.area_code;
    it.out.recorded_at = std::max(p.t + s.Lag(), path.last_recorded);
    path.last_recorded = it.out.recorded_at;
    if (--path.pending == 0) s.paths.erase(p.path);
    *item = std::move(it);
    ++s.produced;
    return true;
  }
}

bool Generator::Next(Generated* out) {
  State& s = *s_;
  // Every event produced later happened, so is recorded, at or after the
  // business time of the next one produced: an event recorded before that
  // frontier is next in recording order.
  for (;;) {
    if (!s.recorded.empty() && s.recorded.top().out.recorded_at <= s.frontier) break;
    Item item;
    if (!s.Produce(&item)) {
      s.frontier = std::numeric_limits<Micros>::max();
      break;
    }
    s.frontier = item.out.request.event.occurred_at;
    // Recorded after the horizon: not yet recorded, and neither is anything
    // later of the same referral.
    if (item.out.recorded_at < s.opt.end) s.recorded.push(std::move(item));
  }
  if (s.recorded.empty()) return false;
  Item item = s.recorded.top();
  s.recorded.pop();
  const uint64_t seq = s.opt.first_seq + s.emitted++;
  if (item.is_target) s.target_seqs[item.gen] = seq;
  if (auto* c = std::get_if<RecordCorrected>(&item.out.request.event.data)) {
    auto found = s.target_seqs.find(item.target_gen);
    c->corrects_seq = found->second;  // released earlier: recorded no later
    s.target_seqs.erase(found);
  }
  *out = std::move(item.out);
  return true;
}

bool Generator::Next(RecordedRequest* out) {
  Generated g;
  if (!Next(&g)) return false;
  out->request = std::move(g.request);
  out->recorded_at = g.recorded_at;
  out->actor = std::move(g.actor);
  out->seq = 0;
  out->hash.reset();
  return true;
}

uint64_t CalibratedReferrals(Micros start, Micros end) {
  const double years = static_cast<double>(end - start) / (365.25 * kDay);
  return static_cast<uint64_t>(years * kTreatmentPopulation * kRehabShare / kPlacedShare + 0.5);
}

}  // namespace synth
