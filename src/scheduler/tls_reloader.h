// Serving certificate and key from files that are rotated in place (a Secret volume updated
// by cert-manager or by the install Job): each new TLS handshake gets the newest pair that
// loaded. The files are checked for a change (modification time, size, inode) at most once
// per `check_interval`, from the handshake itself, so no thread or timer is needed. A pair that
// does not load, or whose key does not match the certificate (a rotation caught half-written),
// is refused with an error and the previous pair stays in use; a later check tries again.
// Thread-safe.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace hami::scheduler {

class CertificateReloader {
 public:
  // Loads the pair once; fails (kInvalidArgument) when it does not load or match.
  static Result<std::unique_ptr<CertificateReloader>> Create(
      std::string cert_path, std::string key_path,
      std::chrono::milliseconds check_interval = std::chrono::seconds(1));
  ~CertificateReloader();
  CertificateReloader(const CertificateReloader&) = delete;
  CertificateReloader& operator=(const CertificateReloader&) = delete;

  // Makes `ctx` present the current pair on every handshake (SSL_CTX_set_cert_cb). The
  // reloader must outlive `ctx`.
  void Install(SSL_CTX* ctx);

  // Re-reads the files when they changed since the last load attempt. Returns true when a new
  // pair was taken, false when nothing changed, an error when the changed files are unusable
  // (the previous pair stays). Handshakes call it at most once per check interval.
  Result<bool> ReloadIfChanged();

  // The current certificate's subject, e.g. "/CN=hami-scheduler" (for logs and tests).
  std::string Subject() const;
  uint64_t reloads() const { return reloads_.load(); }

 private:
  struct Pair;
  struct FileStamp {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };

  CertificateReloader(std::string cert_path, std::string key_path,
                      std::chrono::milliseconds check_interval);
  static Result<std::shared_ptr<const Pair>> Load(const std::string& cert_path,
                                                  const std::string& key_path);
  static FileStamp Stamp(const std::string& path);
  static int OnHandshake(SSL* ssl, void* self);

  const std::string cert_path_, key_path_;
  const std::chrono::milliseconds check_interval_;
  mutable std::mutex mu_;
  std::shared_ptr<const Pair> current_;               // GUARDED_BY(mu_)
  FileStamp cert_stamp_, key_stamp_;                  // GUARDED_BY(mu_), of the last attempt
  std::chrono::steady_clock::time_point last_check_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> reloads_{0};
};

}  // namespace hami::scheduler
