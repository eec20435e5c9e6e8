// TLS and bearer-token authentication over a real socket, with certificates
// generated at test time by openssl and a trivial classifier.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "client/evaluator_client.h"
#include "common/credential_files.h"
#include "server/server.h"
#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using grpc::health::v1::HealthCheckResponse;

// A self-signed certificate for "localhost" and 127.0.0.1, which the client
// trusts as its own CA, plus a second, unrelated one.
struct Certificates {
  std::string dir;
  std::string cert() const { return dir + "/server.crt"; }
  std::string key() const { return dir + "/server.key"; }
  std::string other_cert() const { return dir + "/other.crt"; }
};

void MakeCertificate(const std::string& cert, const std::string& key, const std::string& name) {
  const std::string command = absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", name,
                                           " -addext subjectAltName=DNS:", name, ",IP:127.0.0.1 -keyout ", key,
                                           " -out ", cert, " >/dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

const Certificates& TestCertificates() {
  static const Certificates* certificates = [] {
    auto* made = new Certificates{testing::MakeTempDir()};
    MakeCertificate(made->cert(), made->key(), "localhost");
    MakeCertificate(made->other_cert(), made->dir + "/other.key", "localhost");
    return made;
  }();
  return *certificates;
}

class SecureServiceTest : public ::testing::Test {
 protected:
  void Start(bool tls, const std::string& token) {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    if (tls) {
      ASSERT_OK_AND_ASSIGN(options.tls_certificate_chain, ReadPemFile(TestCertificates().cert()));
      ASSERT_OK_AND_ASSIGN(options.tls_private_key, ReadPemFile(TestCertificates().key()));
    }
    options.auth_token = token;
    ASSERT_OK_AND_ASSIGN(server_, EvaluatorServer::Start(options, classifier_, FakeServedModel()));
    server_->SetServing(true);
  }

  EvaluatorClient Client(const ConnectOptions& options) {
    return EvaluatorClient(EvaluatorClient::Connect(server_->address(), options), options.auth_token);
  }

  static ConnectOptions Trusting(const std::string& cert_file, const std::string& token = "") {
    ConnectOptions options;
    options.tls_root_certificates = *ReadPemFile(cert_file);
    options.tls_server_name = "localhost";
    options.auth_token = token;
    return options;
  }

  static LabeledImages TwoImages() {
    LabeledImages images;
    images.pixels.assign(2 * kImageBytes, 3);  // class 3 for both
    images.labels = {3, 4};
    images.indices = {0, 1};
    return images;
  }

  FirstByteClassifier classifier_;
  std::unique_ptr<EvaluatorServer> server_;
};

TEST_F(SecureServiceTest, TlsClientTrustingTheCertificateIsServed) {
  Start(/*tls=*/true, "");
  EvaluatorClient client = Client(Trusting(TestCertificates().cert()));
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, client.Evaluate(TwoImages(), {}));
  EXPECT_EQ(result.metrics.correct(), 1);
}

TEST_F(SecureServiceTest, TlsRefusesPlaintextAndUntrustedCertificates) {
  Start(/*tls=*/true, "");
  EXPECT_STATUS(Client({}).GetModelInfo(absl::Seconds(5)), absl::StatusCode::kUnavailable, "");
  EXPECT_STATUS(Client(Trusting(TestCertificates().other_cert())).GetModelInfo(absl::Seconds(5)),
                absl::StatusCode::kUnavailable, "");
}

TEST_F(SecureServiceTest, TokenIsRequiredAndChecked) {
  Start(/*tls=*/false, "s3cret-token");
  ConnectOptions none, wrong, right;
  wrong.auth_token = "s3cret-tokem";
  right.auth_token = "s3cret-token";
  EXPECT_STATUS(Client(none).GetModelInfo(absl::Seconds(5)), absl::StatusCode::kUnauthenticated,
                "send metadata 'authorization: Bearer <token>'");
  EXPECT_STATUS(Client(wrong).Classify({absl::MakeConstSpan(TwoImages().pixels), 2, PixelLayout::kChannelPlanar},
                                       absl::Seconds(5)),
                absl::StatusCode::kUnauthenticated, "not valid");
  EvaluateOptions no_retry;
  no_retry.reconnect_budget = absl::ZeroDuration();
  EXPECT_STATUS(Client(wrong).Evaluate(TwoImages(), no_retry), absl::StatusCode::kUnauthenticated, "not valid");
  EXPECT_OK(Client(right).GetModelInfo(absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(EvaluationResult result, Client(right).Evaluate(TwoImages(), {}));
  EXPECT_EQ(result.metrics.images(), 2);
}

TEST_F(SecureServiceTest, HealthStaysOpenForProbesWithoutAToken) {
  Start(/*tls=*/true, "s3cret-token");
  EvaluatorClient probe = Client(Trusting(TestCertificates().cert()));  // TLS, no token
  ASSERT_OK_AND_ASSIGN(HealthCheckResponse::ServingStatus status, probe.CheckHealth("", absl::Seconds(5)));
  EXPECT_EQ(status, HealthCheckResponse::SERVING);
  EXPECT_STATUS(probe.GetModelInfo(absl::Seconds(5)), absl::StatusCode::kUnauthenticated, "");
  EXPECT_OK(Client(Trusting(TestCertificates().cert(), "s3cret-token")).GetModelInfo(absl::Seconds(5)));
}

TEST(SecurityOptions, RefusesACertificateWithoutAKey) {
  ServerOptions options;
  options.tls_certificate_chain = "-----BEGIN CERTIFICATE-----";
  EXPECT_STATUS(ValidateServerOptions(options), absl::StatusCode::kInvalidArgument, "both a certificate chain");
}

TEST(CredentialFiles, ReadsATokenAndRejectsBadOnes) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/good") << "  abc.DEF-123_=  \n";
  std::ofstream(dir + "/empty") << "\n";
  std::ofstream(dir + "/spaced") << "two words\n";
  ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(dir + "/good"));
  EXPECT_EQ(token, "abc.DEF-123_=");
  EXPECT_STATUS(ReadTokenFile(dir + "/empty"), absl::StatusCode::kInvalidArgument,
                dir + "/empty: the token file is empty");
  EXPECT_STATUS(ReadTokenFile(dir + "/spaced"), absl::StatusCode::kInvalidArgument, "holds a space");
  EXPECT_STATUS(ReadTokenFile(dir + "/missing"), absl::StatusCode::kNotFound, dir + "/missing");
  EXPECT_STATUS(ReadPemFile(dir + "/good"), absl::StatusCode::kInvalidArgument, "not a PEM file");
}

}  // namespace
}  // namespace resnet8
