#include "scheduler/tls_reloader.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "device/config.h"
#include "scheduler/http_server.h"
#include "tests/fakes/fake_apiserver.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler {
namespace {

class TlsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/hami_tls_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    cert_ = dir_ + "/tls.crt";
    key_ = dir_ + "/tls.key";
  }

  // Writes a fresh self-signed pair for `cn` beside the served paths, then renames it into
  // place, as a Secret volume update swaps files atomically. False when no openssl CLI.
  bool Rotate(const std::string& cn) {
    const std::string cert = dir_ + "/new.crt", key = dir_ + "/new.key";
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=" +
        cn + " -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return false;
    return std::rename(cert.c_str(), cert_.c_str()) == 0 &&
           std::rename(key.c_str(), key_.c_str()) == 0;
  }

  std::string dir_, cert_, key_;
};

TEST_F(TlsReloadTest, TakesRotatedPairsAndKeepsTheOldOneWhenTheNewOneIsBroken) {
  if (!Rotate("first")) GTEST_SKIP() << "openssl CLI not available";
  auto reloader = CertificateReloader::Create(cert_, key_);
  ASSERT_TRUE(reloader.ok()) << reloader.status().message();
  EXPECT_EQ((*reloader)->Subject(), "/CN=first");
  EXPECT_FALSE(*(*reloader)->ReloadIfChanged());  // nothing changed

  ASSERT_TRUE(Rotate("second"));
  auto reloaded = (*reloader)->ReloadIfChanged();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ((*reloader)->Subject(), "/CN=second");

  // A rotation caught half-way: the certificate is new, the key still the old one.
  const std::string old_key = dir_ + "/old.key";
  ASSERT_EQ(std::rename(key_.c_str(), old_key.c_str()), 0);
  ASSERT_TRUE(Rotate("third"));
  ASSERT_EQ(std::rename(old_key.c_str(), key_.c_str()), 0);
  auto mismatched = (*reloader)->ReloadIfChanged();
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("does not match"), std::string::npos)
      << mismatched.status().message();
  EXPECT_EQ((*reloader)->Subject(), "/CN=second");

  // Garbage in place of the certificate.
  std::ofstream(cert_) << "not a certificate\n";
  EXPECT_FALSE((*reloader)->ReloadIfChanged().ok());
  EXPECT_EQ((*reloader)->Subject(), "/CN=second");
  EXPECT_EQ((*reloader)->reloads(), 1u);

  // Repaired: taken again.
  ASSERT_TRUE(Rotate("fourth"));
  EXPECT_TRUE(*(*reloader)->ReloadIfChanged());
  EXPECT_EQ((*reloader)->Subject(), "/CN=fourth");
}

TEST_F(TlsReloadTest, MissingOrBrokenFilesAreRefusedAtStart) {
  EXPECT_EQ(CertificateReloader::Create(cert_, key_).status().code(), StatusCode::kInvalidArgument);
  if (!Rotate("first")) GTEST_SKIP() << "openssl CLI not available";
  std::ofstream(key_) << "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n";
  auto broken = CertificateReloader::Create(cert_, key_);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("private key"), std::string::npos)
      << broken.status().message();
}

// The subject of the certificate a TLS server on 127.0.0.1:port presents ("" on failure).
std::string PeerSubject(int port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string subject;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        char buffer[256];
        X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof(buffer));
        subject = buffer;
        X509_free(cert);
      }
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return subject;
}

// What an ExtenderServer needs besides its certificate.
struct Extender {
  fakes::FakeApiServer api;
  std::unique_ptr<kube::KubeClient> client = testing::TestClient(*api.Start(), 1);
  VendorRegistry registry = *MakeVendorRegistry(DefaultDeviceConfig());
  UsageLedger ledger;
  FilterCore filter{
      registry, ledger,
      std::make_unique<policy::HamiPolicy>("d", policy::NodePolicy::kBinpack, policy::GpuPolicy{})};
  Binder binder{*client, registry, ledger, BindOptions{}, [] { return int64_t{0}; }};
};

TEST_F(TlsReloadTest, ExtenderServesTheRotatedCertificateWithoutARestart) {
  if (!Rotate("first")) GTEST_SKIP() << "openssl CLI not available";
  Extender extender;
  ExtenderServer server(extender.filter, extender.binder, ServerHooks{}, cert_, key_);
  auto port = server.Start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status().message();
  EXPECT_EQ(PeerSubject(*port), "/CN=first");

  httplib::SSLClient https("127.0.0.1", *port);
  https.enable_server_certificate_verification(false);
  auto healthz = https.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);

  ASSERT_TRUE(Rotate("second"));
  // Files are looked at no more than once a second, from a handshake.
  std::string subject;
  for (int i = 0; i < 40 && subject != "/CN=second"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    subject = PeerSubject(*port);
  }
  EXPECT_EQ(subject, "/CN=second");
}

TEST_F(TlsReloadTest, ExtenderWithUnusableFilesDoesNotStart) {
  Extender extender;
  ExtenderServer server(extender.filter, extender.binder, ServerHooks{}, cert_, key_);
  auto port = server.Start("127.0.0.1", 0);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(port.status().message().find("tls.crt"), std::string::npos) << port.status().message();
}

}  // namespace
}  // namespace hami::scheduler
