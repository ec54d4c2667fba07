package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
)

// Signing modules (docs/MODULES.md "Signed modules"): ed25519 keys in the
// formats openssl uses, detached signatures in base64.

// maxKeyFileBytes bounds a key or signature file read by the CLI.
const maxKeyFileBytes = 16 << 10

// fingerprintCells is how much of a fingerprint a table shows.
const fingerprintCells = 16

func newModuleKeygenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keygen --out PREFIX", Short: "Write a new ed25519 signing key pair: PREFIX.key (private, PEM PKCS#8, mode 0600) and PREFIX.pub (PEM public key)", Args: cobra.NoArgs}
	prefix := cmd.Flags().String("out", "", "the files' prefix: writes PREFIX.key and PREFIX.pub (required; existing files are not overwritten)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *prefix == "" {
			return usageError("keygen: --out PREFIX is required")
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		pubDER, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return err
		}
		keyFile, pubFile := *prefix+".key", *prefix+".pub"
		for _, f := range []string{keyFile, pubFile} {
			if _, err := os.Lstat(f); err == nil {
				return &cliError{msg: fmt.Sprintf("module keygen: %s already exists; not overwritten", f), code: 1}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return &cliError{msg: fmt.Sprintf("module keygen: %v", err), code: 1}
			}
		}
		if err := writeNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		if err := writeNew(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
			_ = os.Remove(keyFile)
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (private key, keep it secret) and %s (public key, fingerprint %s)\n",
			keyFile, pubFile, store.Fingerprint(pub))
		return nil
	}
	return cmd
}

// writeNew creates a file that does not exist yet, with mode perm.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return &cliError{msg: fmt.Sprintf("module keygen: %v", err), code: 1}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return &cliError{msg: fmt.Sprintf("module keygen: %s: %v", path, err), code: 1}
	}
	if err := f.Close(); err != nil {
		return &cliError{msg: fmt.Sprintf("module keygen: %s: %v", path, err), code: 1}
	}
	return nil
}

// parsePrivateKey reads a PEM "PRIVATE KEY" (PKCS#8) ed25519 key, as
// `steward module keygen` and `openssl genpkey -algorithm ed25519` write.
func parsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not PEM: want a PEM \"PRIVATE KEY\" (steward module keygen, openssl genpkey -algorithm ed25519)")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("a PEM block of type %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8 private key: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T private key, want ed25519", k)
	}
	return priv, nil
}

func newModuleSignCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sign FILE --key KEYFILE", Short: "Write a detached ed25519 signature of a module file (base64), for push --signature", Args: cobra.ExactArgs(1)}
	keyPath := cmd.Flags().String("key", "", "the private key: PEM PKCS#8 ed25519 (required)")
	outPath := cmd.Flags().String("out", "", "where to write the signature (default FILE.sig)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *keyPath == "" {
			return usageError("sign: --key KEYFILE is required")
		}
		keyData, err := readInput(cmd, "key", *keyPath, maxKeyFileBytes)
		if err != nil {
			return err
		}
		priv, err := parsePrivateKey(keyData)
		if err != nil {
			return &cliError{msg: fmt.Sprintf("module sign: key file %s: %v", *keyPath, err), code: 1}
		}
		bin, err := readInput(cmd, "module", args[0], hotcode.MaxModuleBytes)
		if err != nil {
			return err
		}
		out := *outPath
		if out == "" {
			out = args[0] + ".sig"
		}
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, bin)) + "\n"
		if err := os.WriteFile(out, []byte(sig), 0o644); err != nil {
			return &cliError{msg: fmt.Sprintf("module sign: %v", err), code: 1}
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s: signature of %s (%d bytes) by the key with fingerprint %s\n",
			out, args[0], len(bin), store.Fingerprint(priv.Public().(ed25519.PublicKey)))
		return nil
	}
	return cmd
}

// readSignature reads push --signature's file.
func readSignature(cmd *cobra.Command, path string) ([]byte, error) {
	data, err := readInput(cmd, "signature", path, maxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	sig, err := store.ParseSignature(data)
	if err != nil {
		return nil, &cliError{msg: fmt.Sprintf("%s: signature file %s: %v", commandName(cmd), path, err), code: 1}
	}
	return sig, nil
}

func newModuleTrustCmd(g *globals) *cobra.Command {
	t := &cobra.Command{Use: "trust", Short: "The ed25519 keys the cluster trusts to sign modules (required at strict once one is trusted)"}
	t.AddCommand(newModuleTrustAddCmd(g), newModuleTrustListCmd(g), newModuleTrustRemoveCmd(g))
	return t
}

func newModuleTrustAddCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "add NAME PUBKEY_FILE", Short: "Trust a signing key: PEM public key (openssl pkey -pubout) or base64 of the raw 32 bytes", Args: cobra.ExactArgs(2)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		data, err := readInput(cmd, "public key", args[1], maxKeyFileBytes)
		if err != nil {
			return err
		}
		pub, err := store.ParsePublicKey(data)
		if err != nil {
			return &cliError{msg: fmt.Sprintf("module trust add: public key file %s: %v", args[1], err), code: 1}
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TrustAdd(r.ctx, &pb.TrustModuleKeyRequest{Name: args[0], PublicKey: pub, AddedBy: pusher()})
		if err != nil {
			return g.rpcError(err)
		}
		w := cmd.OutOrStdout()
		if resp.Unchanged {
			fmt.Fprintf(w, "Key %s already trusted with this public key (fingerprint %s): nothing changed\n", args[0], store.Fingerprint(pub))
			return nil
		}
		fmt.Fprintf(w, "Key %s trusted (fingerprint %s)\n", args[0], store.Fingerprint(pub))
		return nil
	}
	return cmd
}

// trustedKeyJSON is one key of `steward module trust list -o json`.
type trustedKeyJSON struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	PublicKey   string    `json:"public_key"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

func newModuleTrustListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the trusted signing keys", Args: cobra.NoArgs}
	out := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		resp, err := r.c.TrustList(r.ctx, &pb.ListTrustedModuleKeysRequest{})
		if err != nil {
			return g.rpcError(err)
		}
		keys := []trustedKeyJSON{}
		for _, k := range resp.Keys {
			keys = append(keys, trustedKeyJSON{Name: k.Name, Fingerprint: store.Fingerprint(k.PublicKey),
				PublicKey: base64.StdEncoding.EncodeToString(k.PublicKey), AddedBy: k.AddedBy, AddedAt: time.Unix(0, k.AddedAtUnixNano).UTC()})
		}
		w := cmd.OutOrStdout()
		if *out == "json" {
			return writeJSON(w, map[string]any{"keys": keys, "max_keys": resp.MaxKeys})
		}
		t := newTable(w, "NAME", "FINGERPRINT", "ADDED BY", "ADDED AT")
		for _, k := range keys {
			t.row(cell(k.Name, 0), k.Fingerprint[:fingerprintCells], cell(k.AddedBy, 40), k.AddedAt.Format(time.RFC3339))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(keys) == 0 {
			_, err = fmt.Fprintf(w, "No signing key is trusted: strict pushes need no signature (at most %d keys)\n", resp.MaxKeys)
		} else {
			_, err = fmt.Fprintf(w, "%d of at most %d keys trusted: strict pushes need a signature by one of them\n", len(keys), resp.MaxKeys)
		}
		return err
	}
	return cmd
}

func newModuleTrustRemoveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "remove NAME", Short: "Stop trusting a signing key (versions it signed stay stored)", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := g.dialModules(cmd)
		if err != nil {
			return err
		}
		defer r.done()
		if _, err := r.c.TrustRemove(r.ctx, &pb.RemoveTrustedModuleKeyRequest{Name: args[0]}); err != nil {
			return g.rpcError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Key %s no longer trusted\n", args[0])
		return nil
	}
	return cmd
}
