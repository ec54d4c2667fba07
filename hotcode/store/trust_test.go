package store_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward/steward/hotcode/internal/wasmbin"
	"github.com/steward/steward/hotcode/store"
	"github.com/steward/steward/pb"
	"github.com/steward/steward/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func counterV2(t *testing.T) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("..", "..", "examples", "modules", "counter-v2.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// withVersion rewrites the version in the module's manifest: another
// version of the same code.
func withVersion(t *testing.T, bin []byte, from, to string) []byte {
	t.Helper()
	sections, err := wasmbin.Read(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, bin[:8]...)
	var manifest []byte
	for i, s := range sections {
		end := len(bin)
		if i+1 < len(sections) {
			end = sections[i+1].Offset
		}
		if s.ID == wasmbin.IDCustom && s.Name == "steward.manifest" {
			manifest = s.Data
			continue
		}
		out = append(out, bin[s.Offset:end]...)
	}
	old := fmt.Sprintf(`"version":%q`, from)
	if !bytes.Contains(manifest, []byte(old)) {
		t.Fatalf("the manifest %s has no %s", manifest, old)
	}
	return wasmbin.AppendCustom(out, "steward.manifest", bytes.Replace(manifest, []byte(old), []byte(fmt.Sprintf(`"version":%q`, to)), 1))
}

func pushSigned(ctx context.Context, c pb.ModulesClient, name, safety string, bin, sig []byte) (*pb.ModulePushResponse, error) {
	var resp *pb.ModulePushResponse
	err := retry(ctx, func() error {
		up, err := c.Push(ctx)
		if err != nil {
			return err
		}
		if err := up.Send(&pb.ModulePushChunk{Name: name, Safety: safety, PushedBy: "test", Signature: sig, Data: bin}); err != nil {
			return err
		}
		resp, err = up.CloseAndRecv()
		return err
	})
	return resp, err
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// Signed modules on a 3-node cluster: with no key trusted an unsigned
// strict push is accepted; once keys are trusted (through a follower), a
// strict push unsigned, or signed by an untrusted key, is refused with the
// signature check named, a module_refused event, and nothing stored; a
// signature is verified at moderate too; a push signed by a trusted key
// is stored with its signer; once that key is removed its signature is
// refused again.
func TestSignedPush(t *testing.T) {
	c := newCluster(t)
	leader := c.WaitForLeader()
	li := c.Index(leader.Name())
	fi := (li + 1) % c.Size()
	ctx := testkit.Ctx(t, 90*time.Second)
	mods := pb.NewModulesClient(c.Conn(fi))

	// No key trusted: strict needs no signature.
	resp, err := pushSigned(ctx, mods, "counter", "strict", counterV1(t), nil)
	if err != nil || resp.Module.SignedBy != "" || resp.Module.Safety != "strict" {
		t.Fatalf("unsigned strict push with no key trusted: %+v, %v; want it stored unsigned", resp, err)
	}

	releasePub, releasePriv := newKey(t)
	ciPub, ciPriv := newKey(t)
	_, strangerPriv := newKey(t)
	trust := func(name string, pub []byte) (*pb.TrustModuleKeyResponse, error) {
		var r *pb.TrustModuleKeyResponse
		err := retry(ctx, func() error {
			var err error
			r, err = mods.TrustAdd(ctx, &pb.TrustModuleKeyRequest{Name: name, PublicKey: pub, AddedBy: "ops"})
			return err
		})
		return r, err
	}
	for name, pub := range map[string]ed25519.PublicKey{"release": releasePub, "ci": ciPub} {
		if r, err := trust(name, pub); err != nil || r.Unchanged || r.Key.Name != name || r.Key.AddedBy != "ops" || r.Key.AddedAtUnixNano == 0 {
			t.Fatalf("trust %s: %+v, %v", name, r, err)
		}
	}
	if r, err := trust("release", releasePub); err != nil || !r.Unchanged {
		t.Fatalf("the same key again: %+v, %v; want unchanged", r, err)
	}
	if _, err := trust("again", releasePub); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `already trusted as "release"`) {
		t.Fatalf("a trusted key under another name: %v", err)
	}
	if _, err := trust("bad/name", bytes.Repeat([]byte{1}, 32)); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "key name") {
		t.Fatalf("a bad key name: %v", err)
	}
	for i := 0; i < c.Size(); i++ {
		cl := pb.NewModulesClient(c.Conn(i))
		c.Eventually(10*time.Second, func() error {
			l, err := cl.TrustList(ctx, &pb.ListTrustedModuleKeysRequest{})
			if err != nil {
				return err
			}
			if len(l.Keys) != 2 || l.Keys[0].Name != "ci" || l.Keys[1].Name != "release" || l.MaxKeys != store.MaxTrustedKeys {
				return fmt.Errorf("%s lists %v", c.Node(i).Name(), l.Keys)
			}
			return nil
		}, "the trusted keys on every node")
	}

	v2 := counterV2(t)
	tables := func() uint64 {
		return c.WaitForLeader().State().TableIndex("modules", "module_chunks", "module_active")
	}
	notStored := func(what, version string, before uint64) {
		t.Helper()
		for i := 0; i < c.Size(); i++ {
			if v, err := c.Node(i).State().ModuleVersion("counter", version); err != nil || v != nil {
				t.Fatalf("%s: %s has counter@%s stored (%v)", what, c.Node(i).Name(), version, err)
			}
		}
		if after := tables(); after != before {
			t.Fatalf("%s: the module tables moved from index %d to %d", what, before, after)
		}
	}
	refusals := []struct {
		what, safety string
		sig          []byte
		sentinel     string
		text         string
	}{
		{"strict unsigned", "strict", nil, "unsigned module", "strict requires a signature by a trusted key (2 trusted: ci, release)"},
		{"strict signed by an untrusted key", "strict", ed25519.Sign(strangerPriv, v2), "signature not verified by a trusted key", "none of the 2 trusted keys (ci, release) verifies"},
		{"moderate signed by an untrusted key", "moderate", ed25519.Sign(strangerPriv, v2), "signature not verified by a trusted key", "none of the 2 trusted keys"},
		{"strict signed over other bytes", "strict", ed25519.Sign(releasePriv, counterV1(t)), "signature not verified by a trusted key", "verifies the signature over these bytes"},
		{"permissive with a malformed signature", "permissive", []byte("short"), "signature not verified by a trusted key", "5 bytes, an ed25519 signature is 64"},
	}
	for _, r := range refusals {
		before := tables()
		_, err := pushSigned(ctx, mods, "counter", r.safety, v2, r.sig)
		want := "signature: " + r.sentinel + ": "
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), r.text) ||
			!strings.Contains(err.Error(), "refused at "+r.safety) {
			t.Fatalf("%s: %v, want a refusal at %s naming %q and %q", r.what, err, r.safety, want, r.text)
		}
		notStored(r.what, "2", before)
	}

	// The signature check is listed with the other failed checks.
	_, err = pushSigned(ctx, mods, "ticker", "strict", v2, nil)
	if err == nil || !strings.Contains(err.Error(), "name: ") || !strings.Contains(err.Error(), "; signature: unsigned module: ") {
		t.Fatalf("unsigned push under another name: %v, want both the name and the signature checks", err)
	}

	// Signed by a trusted key: stored with its signer, shown by inspect.
	resp, err = pushSigned(ctx, mods, "counter", "strict", v2, ed25519.Sign(releasePriv, v2))
	if err != nil || resp.Module.Id != "counter@2" || resp.Module.SignedBy != "release" || resp.Module.SignerFingerprint != store.Fingerprint(releasePub) {
		t.Fatalf("push signed by a trusted key: %+v, %v", resp, err)
	}
	for i := 0; i < c.Size(); i++ {
		cl := pb.NewModulesClient(c.Conn(i))
		c.Eventually(10*time.Second, func() error {
			ins, err := cl.Inspect(ctx, &pb.InspectModuleRequest{Name: "counter", Version: "2"})
			if err != nil {
				return err
			}
			if ins.Module.SignedBy != "release" {
				return fmt.Errorf("%s: counter@2 signed by %q", c.Node(i).Name(), ins.Module.SignedBy)
			}
			return nil
		}, "the signer on every node")
	}

	// The key removed: its signature is refused again.
	if err := retry(ctx, func() error {
		_, err := mods.TrustRemove(ctx, &pb.RemoveTrustedModuleKeyRequest{Name: "release"})
		if status.Code(err) == codes.NotFound {
			if l, lerr := mods.TrustList(ctx, &pb.ListTrustedModuleKeysRequest{}); lerr == nil && len(l.Keys) == 1 {
				return nil // a first try that was committed before leadership moved
			}
		}
		return err
	}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := mods.TrustRemove(ctx, &pb.RemoveTrustedModuleKeyRequest{Name: "release"}); status.Code(err) != codes.NotFound {
		t.Fatalf("remove of a key not trusted: %v", err)
	}
	v3 := withVersion(t, v2, "2", "3")
	before := tables()
	_, err = pushSigned(ctx, mods, "counter", "strict", v3, ed25519.Sign(releasePriv, v3))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "signature: signature not verified by a trusted key: none of the 1 trusted keys (ci)") {
		t.Fatalf("push signed by a removed key: %v", err)
	}
	notStored("signed by a removed key", "3", before)
	resp, err = pushSigned(ctx, mods, "counter", "strict", v3, ed25519.Sign(ciPriv, v3))
	if err != nil || resp.Module.SignedBy != "ci" {
		t.Fatalf("push signed by the key still trusted: %+v, %v", resp, err)
	}

	// Each refusal was a module_refused event naming the signature check.
	stream, err := pb.NewRuntimeClient(c.Conn(li)).Events(ctx, &pb.EventsRequest{Types: []string{string(store.EventModuleRefused)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := stream.Recv()
		if err != nil {
			break
		}
		if strings.Contains(e.Reason, "signature: ") {
			got = append(got, e.Reason)
		}
	}
	if len(got) != len(refusals)+2 {
		t.Fatalf("%d module_refused events name the signature check, want %d: %q", len(got), len(refusals)+2, got)
	}
}
