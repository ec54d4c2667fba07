package client

import (
	"fmt"
	"os"
	"strings"

	"github.com/steward/steward/tlsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// The environment variables of the TLS flags (Consul's CONSUL_CACERT,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME).
const (
	EnvCACert        = "STEWARD_CACERT"
	EnvClientCert    = "STEWARD_CLIENT_CERT"
	EnvClientKey     = "STEWARD_CLIENT_KEY"
	EnvTLSServerName = "STEWARD_TLS_SERVER_NAME"
)

// TLSFromEnv fills the empty fields of c from the environment; on is
// whether TLS is asked for (a CA file given either way).
func TLSFromEnv(c tlsutil.CLIConfig) (out tlsutil.CLIConfig, on bool) {
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&c.CAFile, EnvCACert)
	fill(&c.CertFile, EnvClientCert)
	fill(&c.KeyFile, EnvClientKey)
	fill(&c.ServerName, EnvTLSServerName)
	return c, c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
}

// WithTLS is the dial option of a TLS connection with c's files
// (tlsutil.ClientTLSConfig: TLS 1.3, the agent verified against the CA).
// Given to New or NewLeaderRouted, it replaces the default plain text.
func WithTLS(c tlsutil.CLIConfig) (grpc.DialOption, error) {
	cfg, err := tlsutil.ClientTLSConfig(c)
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}

// ExplainTLS explains a failed connection that TLS caused: a handshake
// the agent or this client refused, or a plain-text client meeting an
// agent that speaks TLS only. ok is false for other errors.
func ExplainTLS(addr string, tlsOn bool, err error) (msg string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || st.Code() != codes.Unavailable {
		return "", false
	}
	m := st.Message()
	switch {
	case strings.Contains(m, "authentication handshake failed") || strings.Contains(m, "tls:"):
		return fmt.Sprintf("TLS with the agent at %s failed (check --ca-file, --cert-file, --key-file or %s, %s, %s): %s", addr, EnvCACert, EnvClientCert, EnvClientKey, m), true
	case !tlsOn && (strings.Contains(m, "server preface") || strings.Contains(m, "EOF") || strings.Contains(m, "connection reset")):
		return fmt.Sprintf("the agent at %s closed the connection: it may speak TLS only; give --ca-file, --cert-file and --key-file (or %s, %s, %s): %s", addr, EnvCACert, EnvClientCert, EnvClientKey, m), true
	}
	return "", false
}
