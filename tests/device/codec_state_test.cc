#include <gtest/gtest.h>

#include <string>

#include "device/codec.h"
#include "device/time_format.h"

namespace hami {
namespace {

constexpr int64_t kT = 1735830245;  // 2025-01-02T15:04:05Z
constexpr int32_t kPlus8 = 8 * 3600;

// ---- Handshake ----------------------------------------------------------------------------

TEST(HandshakeTest, EncodesGoDateTimeInTheGivenZone) {
  EXPECT_EQ(EncodeHandshake(HandshakeKind::kRequesting, kT, 0), "Requesting_2025-01-02 15:04:05");
  EXPECT_EQ(EncodeHandshake(HandshakeKind::kRequesting, kT, kPlus8),
            "Requesting_2025-01-02 23:04:05");
  EXPECT_EQ(EncodeHandshake(HandshakeKind::kReported, kT, -3600), "Reported_2025-01-02 14:04:05");
  EXPECT_EQ(EncodeHandshake(HandshakeKind::kDeleted, 0, 0), "Deleted_1970-01-01 00:00:00");
  EXPECT_EQ(EncodeHandshake(HandshakeKind::kNone, kT, 0), "");
}

struct HandshakeCase {
  const char* value;
  int32_t offset;
  Handshake want;
};

class HandshakeParseTest : public ::testing::TestWithParam<HandshakeCase> {};

TEST_P(HandshakeParseTest, Classifies) {
  EXPECT_EQ(ParseHandshake(GetParam().value, GetParam().offset), GetParam().want)
      << GetParam().value;
}

INSTANTIATE_TEST_SUITE_P(
    Table, HandshakeParseTest,
    ::testing::Values(
        HandshakeCase{"Requesting_2025-01-02 15:04:05", 0, {HandshakeKind::kRequesting, kT}},
        HandshakeCase{"Requesting_2025-01-02 23:04:05", kPlus8, {HandshakeKind::kRequesting, kT}},
        HandshakeCase{"Requesting_2025-01-02 15:04:05.999", 0, {HandshakeKind::kRequesting, kT}},
        HandshakeCase{"Requesting_2025-01-02 5:04:05",
                      0,
                      {HandshakeKind::kRequesting, kT - int64_t{10} * 3600}},
        HandshakeCase{"Requesting_2025-01-02 15:04:05_extra", 0, {HandshakeKind::kRequesting, kT}},
        // Unparsable timestamps: "no time" (the scheduler treats the node as healthy).
        HandshakeCase{"Requesting_garbage", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{"Requesting", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{
            "Requesting_2025-02-29 00:00:00", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{
            "Requesting_2025-01-02T15:04:05", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{
            "Requesting_2025-01-02 15:04:05Z", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{
            "Requesting_2025-1-02 15:04:05", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{
            "Requesting_2025-01-02 24:00:00", 0, {HandshakeKind::kRequesting, std::nullopt}},
        HandshakeCase{"Reported_2024-02-29 00:00:00", 0, {HandshakeKind::kReported, 1709164800}},
        HandshakeCase{"Deleted_2025-01-02 15:04:05", 0, {HandshakeKind::kDeleted, kT}},
        HandshakeCase{"Deleted", 0, {HandshakeKind::kDeleted, std::nullopt}},
        HandshakeCase{"", 0, {HandshakeKind::kNone, std::nullopt}},
        HandshakeCase{"hello_2025-01-02 15:04:05", 0, {HandshakeKind::kNone, std::nullopt}}));

TEST(HandshakeTest, RoundTripsAcrossTimesAndZones) {
  for (int64_t t : {int64_t{0}, kT, int64_t{-62135596800}, int64_t{253402300799} - 86400,
                    int64_t{951782400} /* 2000-02-29 */}) {
    for (int32_t off : {0, kPlus8, -5 * 3600 - 1800, 14 * 3600}) {
      for (HandshakeKind k :
           {HandshakeKind::kRequesting, HandshakeKind::kReported, HandshakeKind::kDeleted}) {
        Handshake h = ParseHandshake(EncodeHandshake(k, t, off), off);
        EXPECT_EQ(h, (Handshake{k, t})) << t << " " << off;
      }
    }
  }
}

TEST(HandshakeTest, RequestExpiresAfterGracePeriod) {
  Handshake h{HandshakeKind::kRequesting, kT};
  EXPECT_FALSE(HandshakeRequestExpired(h, kT));
  EXPECT_FALSE(HandshakeRequestExpired(h, kT + kHandshakeGraceSeconds - 1));
  EXPECT_TRUE(HandshakeRequestExpired(h, kT + kHandshakeGraceSeconds));
  EXPECT_FALSE(HandshakeRequestExpired({HandshakeKind::kRequesting, std::nullopt}, kT + 1000));
  EXPECT_FALSE(HandshakeRequestExpired({HandshakeKind::kReported, kT}, kT + 1000));
  EXPECT_FALSE(HandshakeRequestExpired({HandshakeKind::kRequesting, INT64_MAX}, INT64_MIN));
}

// ---- Node lock ----------------------------------------------------------------------------

TEST(NodeLockTest, SpecExample) {
  Result<NodeLock> r = ParseNodeLock("2025-01-02T15:04:05Z,default,gpu-pod");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (NodeLock{kT, "default", "gpu-pod", false}));
  EXPECT_EQ(EncodeNodeLock(*r, 0), "2025-01-02T15:04:05Z,default,gpu-pod");
  EXPECT_EQ(EncodeNodeLock(*r, kPlus8), "2025-01-02T23:04:05+08:00,default,gpu-pod");
  EXPECT_EQ(EncodeNodeLock(*r, -(5 * 3600 + 1800)), "2025-01-02T09:34:05-05:30,default,gpu-pod");
}

struct LockCase {
  const char* value;
  NodeLock want;
};

class NodeLockParseTest : public ::testing::TestWithParam<LockCase> {};

TEST_P(NodeLockParseTest, Parses) {
  Result<NodeLock> r = ParseNodeLock(GetParam().value);
  ASSERT_TRUE(r.ok()) << GetParam().value << ": " << r.status().message();
  EXPECT_EQ(*r, GetParam().want);
  // Re-encoding and parsing again gives the same lock.
  Result<NodeLock> again = ParseNodeLock(EncodeNodeLock(*r, kPlus8));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *r);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeLockParseTest,
    ::testing::Values(LockCase{"2025-01-02T23:04:05+08:00,ns,p", {kT, "ns", "p", false}},
                      LockCase{"2025-01-02T09:34:05-05:30,ns,p", {kT, "ns", "p", false}},
                      LockCase{"2025-01-02T15:04:05.123456789Z,ns,p", {kT, "ns", "p", false}},
                      LockCase{"2025-01-02T15:04:05Z", {kT, "", "", true}},
                      LockCase{"2025-01-02T23:04:05+08:00", {kT, "", "", true}},
                      LockCase{"1969-12-31T23:59:59.5Z", {-1, "", "", true}},
                      LockCase{"2024-02-29T00:00:00Z,kube-system,a.b-c",
                               {1709164800, "kube-system", "a.b-c", false}}));

struct BadLock {
  const char* value;
  const char* message_part;
};

class NodeLockBadTest : public ::testing::TestWithParam<BadLock> {};

TEST_P(NodeLockBadTest, RejectsWithClearMessage) {
  Result<NodeLock> r = ParseNodeLock(GetParam().value);
  ASSERT_FALSE(r.ok()) << GetParam().value;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message_part), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, NodeLockBadTest,
    ::testing::Values(BadLock{"", "too short"}, BadLock{"garbage", "not RFC 3339"},
                      BadLock{"2025-01-02T15:04:05Z,default", "has 2 comma-separated fields"},
                      BadLock{"2025-01-02T15:04:05Z,a,b,c", "has 4 comma-separated fields"},
                      BadLock{"2025-01-02T15:04:05Z,,pod", "empty owner"},
                      BadLock{"2025-01-02T15:04:05Z,ns,", "empty owner"},
                      BadLock{"2025-13-02T15:04:05Z,ns,p", "month out of range"},
                      BadLock{"2025-02-29T15:04:05Z,ns,p", "day out of range"},
                      BadLock{"2025-01-02T24:04:05Z,ns,p", "time of day out of range"},
                      BadLock{"2025-01-02 15:04:05Z,ns,p", "YYYY-MM-DDTHH:MM:SS"},
                      BadLock{"2025-01-02T15:04:05z,ns,p", "zone must be Z"},
                      BadLock{"2025-01-02T15:04:05,ns,p", "too short"},
                      BadLock{"2025-01-02T15:04:05+0800,ns,p", "zone must be Z"},
                      BadLock{"2025-01-02T15:04:05+24:00,ns,p", "zone offset out of range"},
                      BadLock{"2025-01-02T15:04:05.Z,ns,p", "zone must be Z"}));

TEST(NodeLockTest, OwnershipBySuffix) {
  EXPECT_TRUE(NodeLockValueOwnedBy("2025-01-02T15:04:05Z,default,gpu-pod", "default", "gpu-pod"));
  EXPECT_TRUE(NodeLockValueOwnedBy("garbage-time,default,gpu-pod", "default", "gpu-pod"));
  EXPECT_FALSE(NodeLockValueOwnedBy("2025-01-02T15:04:05Z,default,gpu-pod2", "default", "gpu-pod"));
  EXPECT_FALSE(NodeLockValueOwnedBy("2025-01-02T15:04:05Z,xdefault,gpu-pod", "default", "gpu-pod"));
  EXPECT_FALSE(NodeLockValueOwnedBy("2025-01-02T15:04:05Z", "default", "gpu-pod"));
  EXPECT_FALSE(NodeLockValueOwnedBy("", "a", "b"));
}

TEST(TimeFormatTest, Rfc3339FormatsGoStyle) {
  EXPECT_EQ(FormatRfc3339(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-1, 0), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(kT, 3600 + 59), "2025-01-02T16:05:04+01:00");
  EXPECT_EQ(FormatGoDateTime(253402300799, 0), "9999-12-31 23:59:59");
  EXPECT_EQ(FormatGoDateTime(-62135596800, 0), "0001-01-01 00:00:00");
}

// ---- Bind phase ---------------------------------------------------------------------------

TEST(BindPhaseTest, ParsesAndFormatsTheThreePhases) {
  for (BindPhase p : {BindPhase::kAllocating, BindPhase::kSuccess, BindPhase::kFailed}) {
    Result<BindPhase> r = ParseBindPhase(BindPhaseName(p));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, p);
  }
  EXPECT_EQ(BindPhaseName(BindPhase::kAllocating), "allocating");
  EXPECT_EQ(BindPhaseName(BindPhase::kSuccess), "success");
  EXPECT_EQ(BindPhaseName(BindPhase::kFailed), "failed");
  for (const char* bad : {"", "Allocating", "success ", "done"}) {
    Result<BindPhase> r = ParseBindPhase(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("is not one of allocating, success, failed"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace hami
