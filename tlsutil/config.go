package tlsutil

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Role is what a certificate lets its holder be, named by a DNS SAN
// <role>.<region>.steward.
type Role string

// The roles.
const (
	// RoleServer: a server agent; it alone may speak Raft and call every
	// Internal method.
	RoleServer Role = "server"
	// RoleClient: a client agent (--client, no Raft); it may call the
	// Internal methods a client agent needs (Work, Signal, Deliver, and
	// Propose of its own reports) and the public services.
	RoleClient Role = "client"
	// RoleCLI: a CLI or API user; the public services only.
	RoleCLI Role = "cli"
)

// Roles lists the roles in a stable order.
var Roles = []Role{RoleServer, RoleClient, RoleCLI}

// Domain is the DNS suffix of role names.
const Domain = "steward"

// DefaultRegion is the region of an agent not given one.
const DefaultRegion = "global"

// Name is the DNS name that carries role r in region: server.global.steward.
func (r Role) Name(region string) string {
	return string(r) + "." + region + "." + Domain
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// regionRE is the syntax of a region: one DNS label.
var regionRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckRegion checks that region is one lower-case DNS label, as it is a
// part of the role names.
func CheckRegion(region string) error {
	if !regionRE.MatchString(region) {
		return fmt.Errorf("region: %q is not one lower-case DNS label (1-63 of a-z 0-9 -, not starting or ending with -)", region)
	}
	return nil
}

// Config is an agent's TLS setting, as the config file's tls block and the
// agent's flags give it (Consul's names).
type Config struct {
	// CAFile is the PEM file of the CA certificates that sign the
	// cluster's certificates (every peer's certificate must chain to one).
	CAFile string
	// CertFile and KeyFile are the PEM files of this agent's certificate
	// (with its role name as a DNS SAN) and private key.
	CertFile string
	KeyFile  string
	// VerifyIncoming requires every gRPC caller to present a certificate
	// signed by the CA (false: a caller without a certificate may call the
	// public services; a certificate given is verified all the same, and
	// the Internal service and Raft always demand one).
	VerifyIncoming bool
	// VerifyOutgoing verifies the certificate chain of every peer this
	// agent dials against the CA (false: the chain of a gRPC peer is not
	// checked; Raft always checks it).
	VerifyOutgoing bool
	// VerifyServerHostname also checks that a dialed peer holds the role
	// it is dialed as: server.<region>.steward for a server (a client
	// agent's certificate cannot pose as a server). Needs VerifyOutgoing.
	VerifyServerHostname bool
	// Region is the region part of the role names ("" means
	// DefaultRegion).
	Region string
}

// Enabled reports whether TLS is configured (any file given).
func (c Config) Enabled() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
}

// region is Region or the default.
func (c Config) region() string {
	if c.Region == "" {
		return DefaultRegion
	}
	return c.Region
}

// Validate checks that the setting is complete; its errors name the
// setting. It does not read the files (NewConfigurator does).
func (c Config) Validate() error {
	var errs []error
	if err := CheckRegion(c.region()); err != nil {
		errs = append(errs, err)
	}
	if !c.Enabled() {
		for _, v := range []struct {
			name string
			on   bool
		}{{"verify_incoming", c.VerifyIncoming}, {"verify_outgoing", c.VerifyOutgoing}, {"verify_server_hostname", c.VerifyServerHostname}} {
			if v.on {
				errs = append(errs, fmt.Errorf("tls.%s: needs ca_file, cert_file and key_file (TLS is off without them)", v.name))
			}
		}
		return errors.Join(errs...)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("tls: %s required: an agent with TLS needs ca_file, cert_file and key_file", strings.Join(missing, " and ")))
	}
	if c.VerifyServerHostname && !c.VerifyOutgoing {
		errs = append(errs, errors.New("tls.verify_server_hostname: needs verify_outgoing (a peer's name is checked only with its chain)"))
	}
	return errors.Join(errs...)
}
