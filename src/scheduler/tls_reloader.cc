#include "scheduler/tls_reloader.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <utility>

namespace hami::scheduler {

// One loaded certificate chain and key. OpenSSL reference-counts them: SSL_use_cert_and_key
// takes its own references, so a pair replaced mid-handshake stays valid for that handshake.
struct CertificateReloader::Pair {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  ~Pair() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

struct BioCloser {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

}  // namespace

CertificateReloader::CertificateReloader(std::string cert_path, std::string key_path,
                                         std::chrono::milliseconds check_interval)
    : cert_path_(std::move(cert_path)),
      key_path_(std::move(key_path)),
      check_interval_(check_interval) {}

CertificateReloader::~CertificateReloader() = default;

Result<std::unique_ptr<CertificateReloader>> CertificateReloader::Create(
    std::string cert_path, std::string key_path, std::chrono::milliseconds check_interval) {
  std::unique_ptr<CertificateReloader> reloader(
      new CertificateReloader(std::move(cert_path), std::move(key_path), check_interval));
  reloader->cert_stamp_ = Stamp(reloader->cert_path_);
  reloader->key_stamp_ = Stamp(reloader->key_path_);
  HAMI_ASSIGN_OR_RETURN(reloader->current_, Load(reloader->cert_path_, reloader->key_path_));
  reloader->last_check_ = std::chrono::steady_clock::now();
  return reloader;
}

CertificateReloader::FileStamp CertificateReloader::Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return FileStamp{};  // follows the Secret volume's symlinks
  return FileStamp{static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

Result<std::shared_ptr<const CertificateReloader::Pair>> CertificateReloader::Load(
    const std::string& cert_path, const std::string& key_path) {
  auto pair = std::make_shared<Pair>();
  std::unique_ptr<BIO, BioCloser> cert_bio(BIO_new_file(cert_path.c_str(), "r"));
  if (!cert_bio) return InvalidArgument("TLS certificate " + cert_path + ": " + OpenSslError());
  pair->leaf = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  if (pair->leaf == nullptr) {
    return InvalidArgument("TLS certificate " + cert_path + ": no PEM certificate (" +
                           OpenSslError() + ")");
  }
  pair->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(pair->chain, extra);
  }
  ERR_clear_error();  // the read that ended the chain leaves "no start line" behind
  std::unique_ptr<BIO, BioCloser> key_bio(BIO_new_file(key_path.c_str(), "r"));
  if (!key_bio) return InvalidArgument("TLS key " + key_path + ": " + OpenSslError());
  pair->key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (pair->key == nullptr) {
    return InvalidArgument("TLS key " + key_path + ": no PEM private key (" + OpenSslError() + ")");
  }
  if (X509_check_private_key(pair->leaf, pair->key) != 1) {
    ERR_clear_error();
    return InvalidArgument("TLS key " + key_path + " does not match certificate " + cert_path);
  }
  return std::shared_ptr<const Pair>(std::move(pair));
}

Result<bool> CertificateReloader::ReloadIfChanged() {
  const FileStamp cert = Stamp(cert_path_);
  const FileStamp key = Stamp(key_path_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_check_ = std::chrono::steady_clock::now();
    if (cert == cert_stamp_ && key == key_stamp_) return false;
    cert_stamp_ = cert;
    key_stamp_ = key;
  }
  auto loaded = Load(cert_path_, key_path_);
  if (!loaded.ok()) {
    // Remember nothing about the failure but the stamps: the next change is tried again.
    return loaded.status().WithContext("TLS reload (keeping the previous certificate)");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(*loaded);
  }
  ++reloads_;
  return true;
}

std::string CertificateReloader::Subject() const {
  std::shared_ptr<const Pair> pair;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pair = current_;
  }
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(pair->leaf), buffer, sizeof(buffer));
  return buffer;
}

void CertificateReloader::Install(SSL_CTX* ctx) {
  SSL_CTX_set_cert_cb(ctx, &CertificateReloader::OnHandshake, this);
}

int CertificateReloader::OnHandshake(SSL* ssl, void* self_ptr) {
  auto* self = static_cast<CertificateReloader*>(self_ptr);
  bool check = false;
  std::shared_ptr<const Pair> pair;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    check = std::chrono::steady_clock::now() - self->last_check_ >= self->check_interval_;
    pair = self->current_;
  }
  if (check) {
    Result<bool> reloaded = self->ReloadIfChanged();
    if (!reloaded.ok()) {
      spdlog::error("{}", reloaded.status().message());
    } else if (*reloaded) {
      spdlog::info("TLS certificate reloaded subject=\"{}\"", self->Subject());
      std::lock_guard<std::mutex> lock(self->mu_);
      pair = self->current_;
    }
  }
  // Override = 1: replace whatever the context had.
  return SSL_use_cert_and_key(ssl, pair->leaf, pair->key, pair->chain, 1) == 1 ? 1 : 0;
}

}  // namespace hami::scheduler
