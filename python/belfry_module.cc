// python/belfry_module.cc — the `belfry` Python module: belfry::Client for Python apps.
//
// How it works. Each Python object wraps the C++ object of client_lib/client.h, so a
// Python app gets exactly the checks a C++ app gets: requests signed here, sent to every
// replica over mutual TLS, and a result accepted only when 2f+1 replicas signed matching
// replies (confidential documents opened here from f+1 verified decryption shares). There
// is no gateway in between to trust. Every blocking call releases the GIL, so Python
// threads can keep several requests in flight on one Client, which is thread-safe.
//
// Errors. A failed call raises one exception class per ErrorKind, which is one class per
// exit code of the `belfry` command (ExitCodeFor): InvalidInput 2, NotLoggedIn 3,
// AccessDenied 4, NoSuchDocument 5, IntegrityError 6, NoQuorum 7, OtherError 1, all
// subclasses of belfry.Error. The exception carries `status` (the 3S status name, e.g.
// "ACCESS_DENIED", when the cluster refused the request, else None), `code` (the 3S code,
// e.g. 702, or None) and `exit_code`. Nothing else escapes: a closed Client raises
// ValueError, wrong argument types raise TypeError, as Python code expects.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "client_lib/client.h"
#include "evidence/timestamp_request.h"
#include "wire/request_format.h"

namespace py = pybind11;

namespace belfry::python {
namespace {

// ---- exceptions ------------------------------------------------------------------------

// The exception classes, created once at import and kept alive by the module. Index =
// ErrorKind; kOk's slot holds the base class (never raised by itself).
struct ExceptionClasses {
  std::array<PyObject*, static_cast<size_t>(ErrorKind::kOther) + 1> by_kind{};
};

ExceptionClasses& Exceptions() {
  static ExceptionClasses classes;
  return classes;
}

// Raises the exception of `kind` with `message`, and the 3S status `service` when the
// cluster refused. Needs the GIL. Never returns.
[[noreturn]] void RaiseKind(ErrorKind kind, const std::string& message,
                            std::optional<pb::Status> service = std::nullopt) {
  if (kind == ErrorKind::kOk) {
    kind = ErrorKind::kOther;
  }
  PyObject* cls = Exceptions().by_kind[static_cast<size_t>(kind)];
  py::object exc = py::reinterpret_borrow<py::object>(cls)(message);
  exc.attr("status") = service.has_value() ? py::object(py::str(wire::StatusName(*service)))
                                           : py::object(py::none());
  exc.attr("code") = service.has_value() ? py::object(py::int_(wire::ThreeSCode(*service)))
                                         : py::object(py::none());
  exc.attr("exit_code") = py::int_(ExitCodeFor(kind));
  PyErr_SetObject(cls, exc.ptr());
  throw py::error_already_set();
}

// Raises the exception for a Status the client library returned. Never returns.
[[noreturn]] void Raise(const absl::Status& status) {
  RaiseKind(ErrorKindOf(status), std::string(status.message()), ServiceStatusOf(status));
}

// The value of a StatusOr, or the exception for its error. Needs the GIL.
template <typename T>
T ValueOrRaise(absl::StatusOr<T> result) {
  if (!result.ok()) {
    Raise(result.status());
  }
  return std::move(*result);
}

// Creates belfry.Error and its subclasses in `m`.
void AddExceptions(py::module_& m) {
  static constexpr struct {
    ErrorKind kind;
    const char* name;
    const char* doc;
  } kClasses[] = {
      {ErrorKind::kInvalidInput, "InvalidInput",
       "Bad input: a document name, size, grant or file (exit code 2)."},
      {ErrorKind::kNotLoggedIn, "NotLoggedIn",
       "No session, login refused, or session ended or expired (exit code 3)."},
      {ErrorKind::kAccessDenied, "AccessDenied", "Access denied, 3S 702 (exit code 4)."},
      {ErrorKind::kNoSuchDocument, "NoSuchDocument", "No such document, 3S 704 (exit code 5)."},
      {ErrorKind::kIntegrity, "IntegrityError",
       "Integrity broken, 3S 703, or a result that fails its check (exit code 6)."},
      {ErrorKind::kNoQuorum, "NoQuorum",
       "The cluster did not give 2f+1 matching replies in time (exit code 7)."},
      {ErrorKind::kOther, "OtherError", "Any other failure, 3S 700 (exit code 1)."},
  };
  PyObject* base = PyErr_NewExceptionWithDoc(
      "belfry.Error",
      "A Belfry call failed. Attributes: status (the 3S status name when the cluster "
      "refused, else None), code (the 3S code or None), exit_code (the belfry command's).",
      PyExc_Exception, nullptr);
  if (base == nullptr) {
    throw py::error_already_set();
  }
  m.add_object("Error", py::reinterpret_steal<py::object>(base));
  Exceptions().by_kind[static_cast<size_t>(ErrorKind::kOk)] = base;
  for (const auto& c : kClasses) {
    PyObject* cls = PyErr_NewExceptionWithDoc((std::string("belfry.") + c.name).c_str(), c.doc,
                                              base, nullptr);
    if (cls == nullptr) {
      throw py::error_already_set();
    }
    m.add_object(c.name, py::reinterpret_steal<py::object>(cls));
    Exceptions().by_kind[static_cast<size_t>(c.kind)] = cls;
  }
}

// ---- helpers ---------------------------------------------------------------------------

template <size_t N>
py::bytes ToPyBytes(const std::array<uint8_t, N>& a) {
  return py::bytes(reinterpret_cast<const char*>(a.data()), a.size());
}

py::bytes ToPyBytes(const Bytes& b) {
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

// The certificate beside a key, as the `belfry` command finds it: NAME.key -> NAME.crt.
std::string CertBesideKey(const std::string& key_path) {
  const std::string suffix = ".key";
  if (key_path.size() > suffix.size() &&
      key_path.compare(key_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return key_path.substr(0, key_path.size() - suffix.size()) + ".crt";
  }
  return key_path + ".crt";
}

// The subject CN of the PEM certificate at `path`: the user id `login()` uses by default.
// The cluster checks the certificate itself; this only saves the caller from repeating it.
// Raises InvalidInput. Needs the GIL.
std::string CertificateCommonName(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) {
    RaiseKind(ErrorKind::kInvalidInput, "cannot read certificate " + path);
  }
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) {
    RaiseKind(ErrorKind::kInvalidInput, "not a PEM certificate: " + path);
  }
  char cn[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                          sizeof(cn));
  X509_free(cert);
  if (n <= 0) {
    RaiseKind(ErrorKind::kInvalidInput, "certificate has no common name: " + path);
  }
  return std::string(cn, static_cast<size_t>(n));
}

// The user-facing names of Rights, as the `belfry grant` command spells them. Raises
// InvalidInput for any other. Needs the GIL.
Rights ParseRights(const std::string& rights) {
  if (rights == "checkin") {
    return Rights::kCheckIn;
  }
  if (rights == "checkout") {
    return Rights::kCheckOut;
  }
  if (rights == "both") {
    return Rights::kBoth;
  }
  RaiseKind(ErrorKind::kInvalidInput,
            "rights must be checkin, checkout or both, not '" + rights + "'");
}

const char* RightsName(Rights rights) {
  switch (rights) {
    case Rights::kCheckIn:
      return "checkin";
    case Rights::kCheckOut:
      return "checkout";
    case Rights::kBoth:
      return "both";
  }
  return "both";
}

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// ---- the client --------------------------------------------------------------------------

// PyClient: the Python Client. Holds the C++ Client by shared_ptr so that close() from one
// thread while another thread's call is running only drops a reference: the connections
// close when the last call returns. Calls take the GIL only to convert arguments and
// results. Thread-safe.
class PyClient {
 public:
  PyClient(const std::string& cluster_conf, const std::string& key_file,
           std::optional<std::string> cert_file, double timeout_s) {
    ClientOptions options;
    struct stat st {};
    options.cluster_config_path =
        (::stat(cluster_conf.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            ? cluster_conf + "/cluster.conf"
            : cluster_conf;
    options.user_key_path = key_file;
    options.user_cert_path = cert_file.value_or(CertBesideKey(key_file));
    if (!(timeout_s > 0)) {
      RaiseKind(ErrorKind::kInvalidInput, "timeout must be above 0 seconds");
    }
    options.deadline = Milliseconds(timeout_s);
    cert_path_ = options.user_cert_path;
    absl::StatusOr<std::unique_ptr<Client>> client;
    {
      py::gil_scoped_release release;
      client = Client::Connect(std::move(options));
    }
    client_ = std::shared_ptr<Client>(ValueOrRaise(std::move(client)).release());
  }

  // Runs `call(Client&)` without the GIL and returns its value, raising its error.
  template <typename F>
  auto Call(F call) {
    std::shared_ptr<Client> client = Get();
    using Result = decltype(call(*client));
    std::optional<Result> result;
    {
      py::gil_scoped_release release;
      result.emplace(call(*client));
      // The last reference may be this one (close() ran meanwhile): the destructor waits
      // for the connection threads, so it too runs without the GIL.
      client.reset();
    }
    return ValueOrRaise(std::move(*result));
  }

  LoginInfo Login(std::optional<std::string> uid, int64_t client_time_ms) {
    if (!uid.has_value()) {
      uid = CertificateCommonName(cert_path_);
    }
    return Call([&](Client& c) { return c.Login(*uid, client_time_ms); });
  }

  CheckInInfo CheckIn(const std::string& doc, const std::string& data, bool confidential,
                      bool integrity) {
    CheckInFlags flags;
    flags.confidential = confidential;
    flags.integrity = integrity;
    return Call([&](Client& c) { return c.CheckIn(doc, data, flags); });
  }

  Document CheckOut(const std::string& doc) {
    return Call([&](Client& c) { return c.CheckOut(doc); });
  }

  GrantInfo Grant(const std::string& doc, const std::string& user, const std::string& rights,
                  int64_t seconds) {
    const Rights parsed = ParseRights(rights);
    // The cluster's grant_seconds_max is checked by the client library; this only keeps
    // the value representable.
    if (seconds < 0 || seconds > static_cast<int64_t>(UINT32_MAX)) {
      RaiseKind(ErrorKind::kInvalidInput, "grant seconds must be 0..4294967295");
    }
    // "ALL" is every user, as in `belfry grant`; no user id can be ALL.
    const GrantTarget target = user == "ALL" ? GrantTarget::All() : GrantTarget::User(user);
    return Call([&](Client& c) {
      return c.Grant(doc, target, parsed, static_cast<uint32_t>(seconds));
    });
  }

  OpInfo Delete(const std::string& doc) {
    return Call([&](Client& c) { return c.Delete(doc); });
  }

  OpInfo Logout() {
    return Call([](Client& c) { return c.Logout(); });
  }

  OpInfo SubmitRevocation(const std::string& request_bytes) {
    return Call([&](Client& c) { return c.SubmitRevocation(request_bytes); });
  }

  TimeStampInfo Stamp(const std::string& request_der) {
    const Bytes der(request_der.begin(), request_der.end());
    evidence::TimeStampReqParse parsed = evidence::ParseTimeStampReq(der);
    if (const auto* refusal = std::get_if<evidence::TimeStampRefusal>(&parsed)) {
      RaiseKind(ErrorKind::kInvalidInput, "time-stamp request refused: " + refusal->reason);
    }
    const evidence::TimeStampRequest request = std::get<evidence::TimeStampRequest>(parsed);
    return Call([&](Client& c) { return c.StampWithReport(request); });
  }

  TimeStampInfo StampFile(const std::string& path) {
    return Call([&](Client& c) { return c.StampFile(path); });
  }

  std::vector<ReplicaState> QueryStatus(double timeout_s) {
    const std::chrono::milliseconds timeout = Milliseconds(timeout_s);
    return Call([&](Client& c) {
      return absl::StatusOr<std::vector<ReplicaState>>(c.QueryStatus(timeout));
    });
  }

  // Drops this object's reference; the connections close now, or when the last running
  // call returns.
  void Close() {
    std::shared_ptr<Client> client;
    {
      std::lock_guard<std::mutex> lock(mu_);
      client.swap(client_);
    }
    py::gil_scoped_release release;
    client.reset();
  }

  std::shared_ptr<Client> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (client_ == nullptr) {
      throw py::value_error("belfry.Client is closed");
    }
    return client_;
  }

 private:
  std::mutex mu_;
  std::shared_ptr<Client> client_;
  std::string cert_path_;
};

}  // namespace
}  // namespace belfry::python

PYBIND11_MODULE(belfry, m) {
  using belfry::python::PyClient;
  using belfry::python::ToPyBytes;
  namespace bp = belfry::python;
  m.doc() =
      "Belfry's verifying client: every result is accepted only when 2f+1 replicas signed "
      "matching replies; confidential documents are encrypted and opened here.";
  bp::AddExceptions(m);

  // Connection events go to stderr only with BELFRY_LOG=1, as for the `belfry` command:
  // a library must not write to an application's stderr by default.
  const char* log = std::getenv("BELFRY_LOG");
  if (log == nullptr || std::string(log) != "1") {
    belfry::SetConnectionLogSink([](const std::string&) {});
  }

  py::class_<belfry::ReplicaReport>(m, "ReplicaReport",
                                    "What the client noticed about individual replicas.")
      .def_readonly("agreeing", &belfry::ReplicaReport::agreeing)
      .def_readonly("disagreeing", &belfry::ReplicaReport::disagreeing)
      .def_readonly("faults", &belfry::ReplicaReport::faults)
      .def_readonly("epoch", &belfry::ReplicaReport::epoch)
      .def_readonly("position", &belfry::ReplicaReport::position)
      .def_readonly("consensus_time_ms", &belfry::ReplicaReport::consensus_time_ms);

  py::class_<belfry::LoginInfo>(m, "LoginInfo", "An accepted login.")
      .def_readonly("uid", &belfry::LoginInfo::uid)
      .def_readonly("session_expires_ms", &belfry::LoginInfo::session_expires_ms)
      .def_readonly("replicas", &belfry::LoginInfo::replicas);

  py::class_<belfry::CheckInInfo>(m, "CheckInInfo", "An accepted checkin.")
      .def_readonly("doc", &belfry::CheckInInfo::doc)
      .def_readonly("version", &belfry::CheckInInfo::version)
      .def_property_readonly("sha256",
                             [](const belfry::CheckInInfo& i) { return ToPyBytes(i.sha256); })
      .def_readonly("owner", &belfry::CheckInInfo::owner)
      .def_readonly("created", &belfry::CheckInInfo::created)
      .def_readonly("replicas", &belfry::CheckInInfo::replicas);

  py::class_<belfry::IntegrityCertificate>(
      m, "IntegrityCertificate",
      "The service key's detached CMS signature over one version of a document.")
      .def_property_readonly(
          "der", [](const belfry::IntegrityCertificate& c) { return py::bytes(c.der); })
      .def_readonly("cluster_id", &belfry::IntegrityCertificate::cluster_id)
      .def_readonly("doc", &belfry::IntegrityCertificate::doc)
      .def_readonly("owner", &belfry::IntegrityCertificate::owner)
      .def_readonly("version", &belfry::IntegrityCertificate::version)
      .def_property_readonly(
          "sha256", [](const belfry::IntegrityCertificate& c) { return ToPyBytes(c.sha256); })
      .def_readonly("signing_time_ms", &belfry::IntegrityCertificate::signing_time_ms);

  py::class_<belfry::Document>(m, "Document", "A checked-out document, verified.")
      .def_readonly("doc", &belfry::Document::doc)
      .def_property_readonly("data",
                             [](const belfry::Document& d) { return py::bytes(d.data); })
      .def_readonly("owner", &belfry::Document::owner)
      .def_readonly("version", &belfry::Document::version)
      .def_readonly("confidential", &belfry::Document::confidential)
      .def_readonly("integrity", &belfry::Document::integrity)
      .def_property_readonly("sha256",
                             [](const belfry::Document& d) { return ToPyBytes(d.sha256); })
      .def_readonly("integrity_certificate", &belfry::Document::integrity_certificate)
      .def_readonly("replicas", &belfry::Document::replicas);

  py::class_<belfry::GrantInfo>(m, "GrantInfo", "An accepted grant.")
      .def_readonly("doc", &belfry::GrantInfo::doc)
      .def_property_readonly("user",
                             [](const belfry::GrantInfo& g) {
                               return g.target.all_users ? std::string("ALL") : g.target.uid;
                             })
      .def_property_readonly("rights",
                             [](const belfry::GrantInfo& g) { return bp::RightsName(g.rights); })
      .def_readonly("expires_ms", &belfry::GrantInfo::expires_ms)
      .def_readonly("replicas", &belfry::GrantInfo::replicas);

  py::class_<belfry::OpInfo>(m, "OpInfo", "An accepted delete, logout or revocation.")
      .def_readonly("replicas", &belfry::OpInfo::replicas);

  py::class_<belfry::TimeStampInfo>(m, "TimeStampInfo",
                                    "A granted RFC 3161 time-stamp, made through consensus.")
      .def_property_readonly(
          "response_der", [](const belfry::TimeStampInfo& t) { return ToPyBytes(t.response_der); })
      .def_property_readonly(
          "serial_number",
          [](const belfry::TimeStampInfo& t) { return ToPyBytes(t.serial_number); })
      .def_readonly("gen_time_ms", &belfry::TimeStampInfo::gen_time_ms)
      .def_readonly("replicas", &belfry::TimeStampInfo::replicas);

  py::class_<belfry::ReplicaState>(m, "ReplicaState", "One replica's signed view of itself.")
      .def_readonly("replica", &belfry::ReplicaState::replica)
      .def_readonly("address", &belfry::ReplicaState::address)
      .def_readonly("reachable", &belfry::ReplicaState::reachable)
      .def_readonly("error", &belfry::ReplicaState::error)
      .def_readonly("next_epoch", &belfry::ReplicaState::next_epoch)
      .def_readonly("consensus_time_ms", &belfry::ReplicaState::consensus_time_ms)
      .def_readonly("checkpoint_epoch", &belfry::ReplicaState::checkpoint_epoch)
      .def_readonly("faults_seen", &belfry::ReplicaState::faults_seen);

  py::class_<PyClient>(m, "Client",
                       "A verifying client of one Belfry cluster, as one user. Thread-safe; "
                       "every blocking call releases the GIL.")
      .def(py::init<const std::string&, const std::string&, std::optional<std::string>, double>(),
           py::arg("cluster_conf"), py::arg("key_file"), py::arg("cert_file") = py::none(),
           py::arg("timeout") = 30.0,
           "Loads cluster.conf (the file or its folder) and the user's key and certificate "
           "(default: NAME.crt beside NAME.key) and starts connecting to every replica. A "
           "call without 2f+1 matching replies after `timeout` seconds raises NoQuorum.")
      .def("login", &PyClient::Login, py::arg("uid") = py::none(),
           py::arg("client_time_ms") = 0,
           "Starts a session (default uid: the certificate's common name).")
      .def("checkin", &PyClient::CheckIn, py::arg("doc"), py::arg("data"),
           py::arg("confidential") = false, py::arg("integrity") = false,
           "Stores `data` (bytes or str) as `doc`; confidential: encrypted here first.")
      .def("checkout", &PyClient::CheckOut, py::arg("doc"),
           "Reads `doc`, verified (and decrypted here if confidential).")
      .def("grant", &PyClient::Grant, py::arg("doc"), py::arg("user"), py::arg("rights"),
           py::arg("seconds"),
           "Gives `user` (or \"ALL\") checkin, checkout or both rights for `seconds`.")
      .def("delete", &PyClient::Delete, py::arg("doc"))
      .def("logout", &PyClient::Logout, "Ends the session at the cluster.")
      .def("submit_revocation", &PyClient::SubmitRevocation, py::arg("request"),
           "Submits the bytes of an ordered revocation (belfry-setup revoke --user).")
      .def("stamp", &PyClient::Stamp, py::arg("request_der"),
           "Time-stamps a DER RFC 3161 TimeStampReq through consensus.")
      .def("stamp_file", &PyClient::StampFile, py::arg("path"),
           "Hashes the file here (SHA-256) and time-stamps the hash through consensus.")
      .def("query_status", &PyClient::QueryStatus, py::arg("timeout") = 5.0,
           "Every replica's signed status; never raises for unreachable replicas.")
      .def("close", &PyClient::Close, "Closes the connections (once running calls return).")
      .def("__enter__", [](PyClient& c) -> PyClient& { return c; })
      .def("__exit__", [](PyClient& c, py::args) { c.Close(); })
      .def_property_readonly("n", [](PyClient& c) { return c.Get()->n(); })
      .def_property_readonly("f", [](PyClient& c) { return c.Get()->f(); })
      .def_property_readonly("cluster_id", [](PyClient& c) { return c.Get()->cluster_id(); })
      .def_property_readonly("in_flight_max",
                             [](PyClient& c) { return c.Get()->in_flight_max(); });

  m.def(
      "verify_integrity_certificate",
      [](const std::string& ca_cert, const std::string& service_cert, const std::string& data,
         const std::string& certificate_der) {
        return bp::ValueOrRaise(belfry::VerifyIntegrityCertificate(ca_cert, service_cert, data,
                                                                   certificate_der));
      },
      py::arg("ca_cert"), py::arg("service_cert"), py::arg("data"), py::arg("certificate_der"),
      "Checks an integrity certificate offline against ca.crt and service.crt; raises "
      "IntegrityError when it does not hold.");
}
