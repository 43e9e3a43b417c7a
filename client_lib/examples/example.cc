// client_lib/examples/example.cc — a small application of the Belfry client library.
//
// It logs a user in, stores a confidential document, reads it back from the cluster
// (decrypted only here, from f+1 replicas' decryption shares), shares it with another
// user for an hour, and logs out:
//
//   belfry-example DIR/cluster.conf UID KEYFILE CERTFILE [OTHER-UID]
//
// It also shows the two things every caller of the library does: check each result's
// absl::Status, and turn a failure into a message and an exit code (ExitCodeFor).
#include <cstdio>
#include <iostream>
#include <string>

#include "client_lib/client.h"

namespace {

int Fail(const char* step, const absl::Status& status) {
  std::cerr << "belfry-example: " << step << ": " << status.message() << "\n";
  if (std::optional<belfry::pb::Status> service = belfry::ServiceStatusOf(status)) {
    std::cerr << "belfry-example: the cluster answered " << belfry::pb::Status_Name(*service)
              << "\n";
  }
  return belfry::ExitCodeFor(belfry::ErrorKindOf(status));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--help") {
    std::cout << "usage: belfry-example CLUSTER_CONF UID KEYFILE CERTFILE [OTHER-UID]\n";
    return 0;
  }
  if (argc != 5 && argc != 6) {
    std::cerr << "usage: belfry-example CLUSTER_CONF UID KEYFILE CERTFILE [OTHER-UID]\n";
    return 2;
  }
  // Connection events go to stderr unless routed elsewhere; this program keeps quiet.
  belfry::SetConnectionLogSink([](const std::string&) {});
  belfry::ClientOptions options;
  options.cluster_config_path = argv[1];
  options.user_key_path = argv[3];
  options.user_cert_path = argv[4];
  options.deadline = std::chrono::seconds(20);
  absl::StatusOr<std::unique_ptr<belfry::Client>> client =
      belfry::Client::Connect(std::move(options));
  if (!client.ok()) return Fail("connect", client.status());

  absl::StatusOr<belfry::LoginInfo> login = (*client)->Login(argv[2]);
  if (!login.ok()) return Fail("login", login.status());
  std::cout << "logged in as " << login->uid << "\n";

  belfry::CheckInFlags flags;
  flags.confidential = true;
  flags.integrity = true;
  absl::StatusOr<belfry::CheckInInfo> stored =
      (*client)->CheckIn("example-note", "written by the example program\n", flags);
  if (!stored.ok()) return Fail("checkin", stored.status());
  std::cout << "stored example-note version " << stored->version << "\n";

  absl::StatusOr<belfry::Document> doc = (*client)->CheckOut("example-note");
  if (!doc.ok()) return Fail("checkout", doc.status());
  std::cout << "read back " << doc->data.size() << " bytes, with a " << doc->integrity_certificate->der.size()
            << "-byte integrity certificate signed by the service key\n";

  if (argc == 6) {
    absl::StatusOr<belfry::GrantInfo> grant = (*client)->Grant(
        "example-note", belfry::GrantTarget::User(argv[5]), belfry::Rights::kCheckOut, 3600);
    if (!grant.ok()) return Fail("grant", grant.status());
    std::cout << "granted " << argv[5] << " checkout for an hour\n";
  }

  absl::StatusOr<belfry::OpInfo> logout = (*client)->Logout();
  if (!logout.ok()) return Fail("logout", logout.status());
  std::cout << "logged out\n";
  return 0;
}
