// Fuzz target: key and certificate files — threshold key share and public key set files
// (threshold/key_file.h, read from a 0600 temporary file as a replica reads its share),
// PEM private keys (pki/key.h), PEM CA bundles with and without CRLs, and the DER user
// certificate a login carries, verified against a CA bundle (pki/certificate.h,
// pki/issuer.h).
//
// Input: a mode byte (byte % 6), then:
//   0  a key share file          3  two pieces (fixtures.h): CA PEM, CRL PEM (may be empty)
//   1  a public key set file     4  two pieces: CA PEM, DER certificate to verify
//   2  a PEM private key         5  PEM text to take the first certificate's DER from
// Properties: nothing crashes or leaks; a key share that loads is consistent with its
// own verification key (KeyShare::FromProto checks it); a parsed key set round-trips.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "pki/certificate.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "test/fuzz/fixtures.h"
#include "threshold/key_file.h"

namespace {

namespace fuzz = belfry::fuzz;
namespace pki = belfry::pki;
namespace threshold = belfry::threshold;
using belfry::ByteSpan;
using fuzz::Require;

// A private folder for the one file the file-reading modes use, removed at exit.
const std::string& ScratchDir() {
  static const std::string* dir = [] {
    char pattern[] = "/tmp/belfry-fuzz-key-file-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    Require(made != nullptr, "mkdtemp");
    return new std::string(made);
  }();
  return *dir;
}

void RemoveScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(ScratchDir(), ec);
}

const std::string& ScratchFile() {
  static const std::string* path = [] {
    auto* p = new std::string(ScratchDir() + "/key");
    std::atexit(RemoveScratchDir);
    return p;
  }();
  return *path;
}

void WriteScratch(ByteSpan bytes, mode_t mode) {
  const std::string& path = ScratchFile();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  Require(fd >= 0, "opening the scratch file");
  Require(::fchmod(fd, mode) == 0, "fchmod of the scratch file");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    Require(n > 0, "writing the scratch file");
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ByteSpan rest(data + 1, size - 1);
  const std::string_view text = belfry::AsStringView(rest);
  switch (data[0] % 6) {
    case 0: {
      WriteScratch(rest, 0600);
      (void)threshold::ReadKeyShareFile(ScratchFile());
      break;
    }
    case 1: {
      WriteScratch(rest, 0644);
      absl::StatusOr<threshold::PublicKeySet> keys = threshold::ReadPublicKeySetFile(ScratchFile());
      if (keys.ok()) {
        auto again = threshold::PublicKeySet::Parse(belfry::AsBytes(keys->Serialize()));
        Require(again.ok() && *again == *keys, "a key set file round-trips");
      }
      break;
    }
    case 2:
      (void)pki::Ed25519PrivateKey::FromPem(text);
      break;
    case 3: {
      const auto pieces = fuzz::SplitPieces(rest, 2);
      if (pieces[1].empty()) {
        (void)pki::CaBundle::FromPem(pieces[0]);
      } else {
        (void)pki::CaBundle::FromPemWithCrls(pieces[0], pieces[1]);
      }
      break;
    }
    case 4: {
      const auto pieces = fuzz::SplitPieces(rest, 2);
      absl::StatusOr<pki::CaBundle> bundle = pki::CaBundle::FromPem(pieces[0]);
      if (bundle.ok()) (void)bundle->Verify(belfry::AsBytes(pieces[1]), fuzz::kPkiTimeS);
      break;
    }
    default:
      (void)pki::CertificatePemToDer(text);
      break;
  }
  return 0;
}
