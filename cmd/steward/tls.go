package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/steward/steward/tlsutil"
)

// The files `steward tls` writes, named as `consul tls` names its own.
const (
	caCertFile = "steward-agent-ca.pem"
	caKeyFile  = "steward-agent-ca-key.pem"
	// maxCertIndex bounds the search for a free certificate file name.
	maxCertIndex = 10000
)

func newTLSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Create a CA and role certificates for TLS (as consul tls)",
		Long: `Create the CA and the certificates that TLS between agents and callers needs
(ECDSA P-256). The role is in the certificate, as a DNS name: server.<region>.steward
for server agents, client.<region>.steward for client agents, cli.<region>.steward for
CLI and API users. Only a server certificate may speak Raft and call the
node-to-node service; a client agent's calls only its own work; a cli one only
the public API.

  steward tls ca create
  steward tls cert create --server        global-server-steward-0.pem (and -key.pem)
  steward tls cert create --client        global-client-steward-0.pem
  steward tls cert create --cli           global-cli-steward-0.pem`,
	}
	ca := &cobra.Command{Use: "ca", Short: "Create a certificate authority"}
	ca.AddCommand(newTLSCACreateCmd())
	cert := &cobra.Command{Use: "cert", Short: "Create role certificates signed by the CA"}
	cert.AddCommand(newTLSCertCreateCmd())
	cmd.AddCommand(ca, cert)
	return cmd
}

// tlsWritten is the JSON output of a create: the files written.
type tlsWritten struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// Role and Names are a certificate's (empty for a CA).
	Role     string   `json:"role,omitempty"`
	DNSNames []string `json:"dns_names,omitempty"`
	IPs      []string `json:"ip_addresses,omitempty"`
	NotAfter string   `json:"not_after"`
}

// writeNewTLSFile writes b to path, refusing to replace a file.
func writeNewTLSFile(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists; not replacing it", path)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func newTLSCACreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a CA: " + caCertFile + " and " + caKeyFile,
		Args:  cobra.NoArgs,
	}
	days := cmd.Flags().Int("days", tlsutil.DefaultCADays, fmt.Sprintf("validity in days (1..%d)", tlsutil.MaxDays))
	cn := cmd.Flags().String("common-name", "", "the CA's common name (default: Steward Agent CA <serial>)")
	dir := cmd.Flags().String("dir", ".", "directory to write the files to")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *days < 1 || *days > tlsutil.MaxDays {
			return usageError(fmt.Sprintf("days: %d is out of range 1..%d", *days, tlsutil.MaxDays))
		}
		ca, err := tlsutil.GenerateCA(tlsutil.CAOptions{Days: *days, CommonName: *cn})
		if err != nil {
			return err
		}
		certPath, keyPath := filepath.Join(*dir, caCertFile), filepath.Join(*dir, caKeyFile)
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s already exists; not replacing a CA (move it away to create another)", p)
			}
		}
		if err := writeNewTLSFile(certPath, ca.CertPEM, 0o644); err != nil {
			return err
		}
		if err := writeNewTLSFile(keyPath, ca.KeyPEM, 0o600); err != nil {
			return err
		}
		w := tlsWritten{Cert: certPath, Key: keyPath, NotAfter: ca.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")}
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), w)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "==> Saved %s\n==> Saved %s\n", certPath, keyPath)
		return nil
	}
	return cmd
}

func newTLSCertCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --server|--client|--cli",
		Short: "Create a role certificate signed by the CA: <region>-<role>-steward-<n>.pem and -key.pem",
		Args:  cobra.NoArgs,
	}
	fl := cmd.Flags()
	server := fl.Bool("server", false, "a server agent's certificate (server.<region>.steward)")
	client := fl.Bool("client", false, "a client agent's certificate (client.<region>.steward)")
	cli := fl.Bool("cli", false, "a CLI or API user's certificate (cli.<region>.steward)")
	region := fl.String("region", tlsutil.DefaultRegion, "region of the role name")
	days := fl.Int("days", tlsutil.DefaultCertDays, fmt.Sprintf("validity in days (1..%d; never past the CA's)", tlsutil.MaxDays))
	dnsNames := fl.StringArray("additional-dnsname", nil, "another DNS name for the certificate (repeatable)")
	ips := fl.StringArray("additional-ipaddress", nil, "an IP address for the certificate (repeatable)")
	caFile := fl.String("ca", caCertFile, "the CA certificate (in --dir unless a path)")
	keyFile := fl.String("key", caKeyFile, "the CA key (in --dir unless a path)")
	dir := fl.String("dir", ".", "directory to write the files to (and to read the CA from)")
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		var roles []tlsutil.Role
		for _, r := range []struct {
			on   bool
			role tlsutil.Role
		}{{*server, tlsutil.RoleServer}, {*client, tlsutil.RoleClient}, {*cli, tlsutil.RoleCLI}} {
			if r.on {
				roles = append(roles, r.role)
			}
		}
		if len(roles) != 1 {
			return usageError("tls cert create: give exactly one of --server, --client, --cli")
		}
		if err := tlsutil.CheckRegion(*region); err != nil {
			return usageError(err.Error())
		}
		if *days < 1 || *days > tlsutil.MaxDays {
			return usageError(fmt.Sprintf("days: %d is out of range 1..%d", *days, tlsutil.MaxDays))
		}
		var ipList []net.IP
		for _, s := range *ips {
			ip := net.ParseIP(s)
			if ip == nil {
				return usageError(fmt.Sprintf("additional-ipaddress: %q is not an IP address", s))
			}
			ipList = append(ipList, ip)
		}
		in := func(p string) string {
			if filepath.IsAbs(p) || filepath.Base(p) != p {
				return p
			}
			return filepath.Join(*dir, p)
		}
		caPath, caKeyPath := in(*caFile), in(*keyFile)
		certPEM, err := os.ReadFile(caPath)
		if err != nil {
			return fmt.Errorf("ca %s: %w (create one with steward tls ca create)", caPath, err)
		}
		keyPEM, err := os.ReadFile(caKeyPath)
		if err != nil {
			return fmt.Errorf("key %s: %w", caKeyPath, err)
		}
		ca, err := tlsutil.ParseCA(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("ca %s, key %s: %w", caPath, caKeyPath, err)
		}
		c, err := ca.Issue(tlsutil.CertOptions{Role: roles[0], Region: *region, Days: *days, DNSNames: *dnsNames, IPAddresses: ipList})
		if err != nil {
			return usageError(err.Error())
		}
		var certPath, keyPath string
		for i := 0; ; i++ {
			if i == maxCertIndex {
				return fmt.Errorf("%s: %d certificates of this role and region already; no free name", *dir, maxCertIndex)
			}
			base := filepath.Join(*dir, fmt.Sprintf("%s-%s-steward-%d", *region, roles[0], i))
			certPath, keyPath = base+".pem", base+"-key.pem"
			_, e1 := os.Stat(certPath)
			_, e2 := os.Stat(keyPath)
			if errors.Is(e1, os.ErrNotExist) && errors.Is(e2, os.ErrNotExist) {
				break
			}
		}
		if err := writeNewTLSFile(certPath, c.CertPEM, 0o644); err != nil {
			return err
		}
		if err := writeNewTLSFile(keyPath, c.KeyPEM, 0o600); err != nil {
			return err
		}
		w := tlsWritten{Cert: certPath, Key: keyPath, Role: string(roles[0]), DNSNames: c.Cert.DNSNames, NotAfter: c.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")}
		for _, ip := range c.Cert.IPAddresses {
			w.IPs = append(w.IPs, ip.String())
		}
		if *out == "json" {
			return writeJSON(cmd.OutOrStdout(), w)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "==> Using %s and %s\n==> Saved %s\n==> Saved %s\n", caPath, caKeyPath, certPath, keyPath)
		return nil
	}
	return cmd
}
