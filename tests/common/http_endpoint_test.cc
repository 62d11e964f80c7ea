#include "common/http_endpoint.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace hami {
namespace {

TEST(MetricsEndpointTest, ServesTheRenderedTextOrTheError) {
  bool fail = false;
  MetricsEndpoint endpoint([&fail]() -> Result<std::string> {
    if (fail) return Status(StatusCode::kInvalidArgument, "bad family");
    return std::string("m 1\n");
  });
  auto port = endpoint.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status().message();
  httplib::Client http("127.0.0.1", *port);
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "m 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  fail = true;
  res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "bad family\n");
  EXPECT_EQ(http.Get("/healthz")->status, 200);
  endpoint.Stop();
  endpoint.Stop();  // idempotent
}

TEST(MetricsEndpointTest, ASecondServerCannotTakeTheSamePort) {
  MetricsEndpoint first([]() -> Result<std::string> { return std::string(); });
  auto port = first.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  MetricsEndpoint second([]() -> Result<std::string> { return std::string(); });
  auto taken = second.Start("127.0.0.1", *port);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(taken.status().message().find(std::to_string(*port)), std::string::npos);
}

TEST(ParseBindAddressTest, HostPortForms) {
  auto all = ParseBindAddress(":9394");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->first, "0.0.0.0");
  EXPECT_EQ(all->second, 9394);
  auto local = ParseBindAddress("127.0.0.1:0");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->first, "127.0.0.1");
  EXPECT_EQ(local->second, 0);
  auto v6 = ParseBindAddress("[::1]:80");  // split at the last ':', brackets dropped
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 80);
  for (const char* bad : {"9394", ":", ":-1", ":65536", ":80x", "host:"}) {
    EXPECT_EQ(ParseBindAddress(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace hami
