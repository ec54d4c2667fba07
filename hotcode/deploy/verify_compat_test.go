package deploy

import (
	"strings"
	"testing"

	"github.com/steward/steward/hotcode"
	"github.com/steward/steward/pb"
)

// The manifest checks of verify: a downgrade the running version cannot
// make and a foreign name are errors; new host functions, an upgrade with
// no way down, an ABI change, new WASI and narrower args are warnings.
func TestVerifyCompatible(t *testing.T) {
	man := func(version string, down bool, fns ...string) (*hotcode.Manifest, *pb.ModuleVersion) {
		m := &hotcode.Manifest{Name: "counter", Version: version, ABI: hotcode.ABIVersion, SupportsDowngrade: down, HostFunctions: fns}
		v := &pb.ModuleVersion{Name: "counter", Version: version}
		for _, f := range fns {
			class := "safe"
			if f == "spawn" {
				class = "dangerous"
			}
			v.Capabilities = append(v.Capabilities, &pb.ModuleUse{Function: "steward." + f, Class: class})
		}
		return m, v
	}
	join := func(s []string) string { return strings.Join(s, "\n") }

	n2, v2 := man("2", true, "cast")
	o1, ov1 := man("1", false, "cast")
	if errs, warns := compatible(n2, v2, o1, ov1, "1"); len(errs)+len(warns) != 0 {
		t.Errorf("counter@1 -> counter@2: %q %q", errs, warns)
	}
	n3, v3 := man("3", false, "cast", "spawn")
	errs, warns := compatible(n3, v3, o1, ov1, "1")
	if len(errs) != 0 || !strings.Contains(join(warns), "counter@1 -> counter@3: imports host functions counter@1 does not: steward.spawn (dangerous)") ||
		!strings.Contains(join(warns), "a revert restores") {
		t.Errorf("counter@1 -> counter@3: %q %q", errs, warns)
	}
	// Down: the running (newer) version converts; it must support it.
	n1, v1 := man("1", false, "cast")
	o2, ov2 := man("2", true, "cast")
	if errs, _ := compatible(n1, v1, o2, ov2, "2"); len(errs) != 0 {
		t.Errorf("counter@2 -> counter@1: %q", errs)
	}
	o3, ov3 := man("3", false, "cast")
	if errs, _ := compatible(n1, v1, o3, ov3, "3"); !strings.Contains(join(errs), "does not support downgrade") {
		t.Errorf("counter@3 -> counter@1: %q", errs)
	}
	// Name, ABI, WASI, args, a running version not stored.
	odd, vodd := man("4", true)
	odd.Name, odd.ABI, odd.Args = "other", 2, []string{"start"}
	odd.Capabilities = []hotcode.Capability{{Name: hotcode.CapabilityWASI}}
	o1.Args = []string{"start", "step"}
	errs, warns = compatible(odd, vodd, o1, ov1, "1")
	if !strings.Contains(join(errs), `names module "other"`) || !strings.Contains(join(errs), "ABI 2") ||
		!strings.Contains(join(warns), "the ABI changes from 1 to 2") || !strings.Contains(join(warns), "wasi") ||
		!strings.Contains(join(warns), "no longer accepts the args step") {
		t.Errorf("an odd counter@4: %q %q", errs, warns)
	}
	if _, warns := compatible(n2, v2, nil, nil, "0"); !strings.Contains(join(warns), "counter@0 is not stored") {
		t.Errorf("from a version not stored: %q", warns)
	}
}
