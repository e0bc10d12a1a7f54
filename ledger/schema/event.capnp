# The stored form of a ledger event. Its encoding (an unpacked Cap'n Proto
# message, as one flat array of words) is the event's canonical bytes: what the
# hash chain and the Merkle tree hash (SPEC §5).
#
# Evolution: only ever add fields, union members and enumerants, each with the
# next ordinal. Never renumber, remove or change the type of a field. Enumerants
# are in the same order as the C++ enums in ledger/event.h (a test checks).
@0xd83c99682e1f9d09;

$import "/capnp/c++.capnp".namespace("ledger::schema");

struct Event {
  # Envelope, set by the ledger.
  seq @0 :UInt64;             # global position, 1, 2, 3 ... gap-free
  stream @1 :Text;            # the referral_id
  version @2 :UInt64;         # position in the stream, 1, 2, 3 ...
  occurredAtUs @3 :Int64;     # business time, microseconds since the Unix epoch (UTC)
  recordedAtUs @4 :Int64;     # system time of append, non-decreasing with seq
  actor @5 :Text;             # "role:name" of the credential that recorded it
  idempotencyKey @6 :Text;    # absent when the client gave none

  # The event's type is the discriminant of `data`.
  data :union {
    referralReceived @7 :ReferralReceived;
    assessmentCompleted @8 :AssessmentCompleted;
    fundingRequested @9 :FundingRequested;
    fundingApproved @10 :FundingApproved;
    referralRefused @11 :ReferralRefused;
    appealLodged @12 :AppealLodged;
    appealDecided @13 :AppealDecided;
    placementOffered @14 :PlacementOffered;
    placementStarted @15 :PlacementStarted;
    placementEnded @16 :PlacementEnded;
    referralWithdrawn @17 :ReferralWithdrawn;
    recordCorrected @18 :RecordCorrected;
  }
}

enum Referrer { communityTreatment @0; gp @1; hospital @2; criminalJustice @3; self @4; other @5; }
enum Substance { opiate @0; nonOpiate @1; alcohol @2; alcoholAndNonOpiate @3; }
enum AgeBand {
  age18to24 @0; age25to29 @1; age30to34 @2; age35to39 @3; age40to44 @4;
  age45to49 @5; age50to54 @6; age55to59 @7; age60to64 @8; age65plus @9;
}
enum Sex { female @0; male @1; other @2; notStated @3; }
enum Ethnicity { asian @0; black @1; mixed @2; white @3; other @4; notStated @5; }
enum Disability { yes @0; no @1; notStated @2; }
enum AssessmentOutcome { suitable @0; notSuitable @1; }
enum FundingRoute { localAuthority @0; rehabGrant @1; nhs @2; criminalJustice @3; other @4; }
enum RefusalStage { assessment @0; fundingPanel @1; provider @2; }
enum RefusalReason {
  notEligible @0; needsMetInCommunity @1; communityTreatmentFirst @2; insufficientBudget @3;
  noSuitableProvider @4; notReady @5; complexNeedsUnsupported @6; outOfArea @7;
  incompleteInformation @8; previousPlacement @9; other @10;
}
enum AppealOutcome { upheld @0; dismissed @1; }
enum PlacementOutcome { completed @0; unplannedExit @1; transferred @2; }
enum WithdrawnBy { person @0; referrer @1; }

struct ReferralReceived {
  person @0 :Text;
  area @1 :Text;
  referrer @2 :Referrer;
  substance @3 :Substance;
  ageBand @4 :AgeBand;
  sex @5 :Sex;
  ethnicity @6 :Ethnicity;
  disability @7 :Disability;
}

struct AssessmentCompleted {
  outcome @0 :AssessmentOutcome;
  note @1 :Text;  # absent when none was given
}

struct FundingRequested {
  route @0 :FundingRoute;
  weeks @1 :Int32;
}

struct FundingApproved {
  panel @0 :Text;
  weeks @1 :Int32;
}

struct ReferralRefused {
  stage @0 :RefusalStage;
  reason @1 :RefusalReason;
  decidedBy @2 :Text;
  note @3 :Text;  # absent when none was given
}

struct AppealLodged {
  grounds @0 :Text;
}

struct AppealDecided {
  outcome @0 :AppealOutcome;
  decidedBy @1 :Text;
}

struct PlacementOffered {
  provider @0 :Text;
  plannedStart @1 :Text;  # YYYY-MM-DD
}

struct PlacementStarted {
  provider @0 :Text;
}

struct PlacementEnded {
  outcome @0 :PlacementOutcome;
}

struct ReferralWithdrawn {
  by @0 :WithdrawnBy;
  note @1 :Text;  # absent when none was given
}

struct RecordCorrected {
  correctsSeq @0 :UInt64;
  reason @1 :Text;
  fields @2 :List(CorrectedField);
}

struct CorrectedField {
  # A data field of the corrected event by its JSON name, and its new value
  # as the JSON gave it (enumerations by their wire name).
  name @0 :Text;
  value :union {
    text @1 :Text;
    integer @2 :Int64;
  }
}

struct StreamHead {
  # What the ledger keeps per referral to check the next event without
  # reading the stream: its state, latest business time, the (corrected) area
  # and current provider that writers are scoped by, and the seq of each of
  # its events (the stream index: version v is seqs[v-1]).
  state @0 :UInt8;             # ledger::ReferralState
  lastOccurredAtUs @1 :Int64;
  area @2 :Text;
  provider @3 :Text;           # of the latest placement.offered or .started
  providerSeq @4 :UInt64;      # the event `provider` was taken from
  seqs @5 :List(UInt64);
}
