#include "device/vendor.h"

#include <gtest/gtest.h>

#include <string>

#include "device/nvidia.h"

namespace hami {
namespace {

// A minimal vendor for registry tests: requests one device when "<word>/dev" is present.
class FakeVendor final : public Vendor {
 public:
  explicit FakeVendor(std::string word) : word_(std::move(word)) { names_.count = word_ + "/dev"; }
  std::string_view CommonWord() const override { return word_; }
  const VendorResourceNames& ResourceNames() const override { return names_; }
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }
  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override {
    const std::string* v = FindResource(limits, requests, names_.count);
    if (v == nullptr) {
      return std::optional<ContainerDeviceRequest>();
    }
    if (*v == "bad") {
      return InvalidArgument("bad count");
    }
    return std::optional<ContainerDeviceRequest>(ContainerDeviceRequest{1, word_, 0, 100, 0});
  }
  Result<DeviceSelectors> ParseSelectors(const Annotations&) const override {
    return DeviceSelectors{};
  }
  Result<std::vector<DeviceInfo>> DecodeRegistration(const Annotations&) const override {
    return NotFound("none");
  }

 private:
  std::string word_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

TEST(VendorRegistryTest, RegistersFindsAndIteratesInKeyOrder) {
  VendorRegistry reg;
  EXPECT_TRUE(reg.IsEmpty());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeVendor>("NVIDIA")).ok());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeVendor>("DCU")).ok());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeVendor>("MLU")).ok());
  EXPECT_EQ(reg.Size(), 3u);
  ASSERT_NE(reg.Find("MLU"), nullptr);
  EXPECT_EQ(reg.Find("MLU")->CommonWord(), "MLU");
  EXPECT_EQ(reg.Find("nvidia"), nullptr);  // case-sensitive, like HAMi's map
  std::vector<std::string> order;
  for (const Vendor* v : reg.Vendors()) {
    order.emplace_back(v->CommonWord());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"DCU", "MLU", "NVIDIA"}));

  Status dup = reg.Register(std::make_unique<FakeVendor>("DCU"));
  EXPECT_EQ(dup.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(dup.message().find("\"DCU\" is already registered"), std::string::npos);
  EXPECT_EQ(reg.Register(nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Register(std::make_unique<FakeVendor>("")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Size(), 3u);
}

TEST(VendorRegistryTest, RequestsForContainerCollectsInOrder) {
  VendorRegistry reg;
  ASSERT_TRUE(reg.Register(std::make_unique<FakeVendor>("B")).ok());
  ASSERT_TRUE(reg.Register(std::make_unique<FakeVendor>("A")).ok());
  Result<std::vector<ContainerDeviceRequest>> r =
      RequestsForContainer(reg, {{"B/dev", "1"}}, {{"A/dev", "1"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].type, "A");
  EXPECT_EQ((*r)[1].type, "B");
  r = RequestsForContainer(reg, {{"B/dev", "bad"}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "B: bad count");
  r = RequestsForContainer(reg, {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(VendorRegistryTest, MakeFromConfig) {
  Result<VendorRegistry> reg = MakeVendorRegistry(DefaultDeviceConfig());
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  ASSERT_EQ(reg->Size(), 1u);
  const Vendor* nv = reg->Find(kNvidiaCommonWord);
  ASSERT_NE(nv, nullptr);
  Result<std::optional<ContainerDeviceRequest>> req =
      nv->RequestFromResources({{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "100"}}, {});
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE(req->has_value());
  EXPECT_EQ((*req)->memory_mib, 100);

  Result<VendorRegistry> empty = MakeVendorRegistry(DeviceConfig{});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->IsEmpty());

  DeviceConfig bad;
  bad.nvidia = NvidiaConfig{};
  bad.nvidia->device_split_count = 0;
  Result<VendorRegistry> invalid = MakeVendorRegistry(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("deviceSplitCount"), std::string::npos);
}

TEST(FindResourceTest, LimitsThenRequests) {
  ResourceList limits = {{"a", "1"}};
  ResourceList requests = {{"a", "2"}, {"b", "3"}};
  EXPECT_EQ(*FindResource(limits, requests, "a"), "1");
  EXPECT_EQ(*FindResource(limits, requests, "b"), "3");
  EXPECT_EQ(FindResource(limits, requests, "c"), nullptr);
  EXPECT_EQ(FindResource(limits, requests, ""), nullptr);
}

}  // namespace
}  // namespace hami
