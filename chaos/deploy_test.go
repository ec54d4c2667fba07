package chaos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward/steward/pb"
	"github.com/steward/steward/state"
)

func deployRec(id, version string, idx uint64, s pb.DeploymentStatus) *pb.DeploymentRecord {
	return &pb.DeploymentRecord{Id: id, Module: DeployModule, Version: version, CreateIndex: idx,
		StatusCode: s, Status: state.DeploymentStatusName(s)}
}

func onVersion(v string, nodes ...string) map[string]NodeVersions {
	out := map[string]NodeVersions{}
	for _, n := range nodes {
		nv := NodeVersions{}
		for i := 1; i <= DeployChildren; i++ {
			nv[DeployTreePrefix+n+"/d"+string(rune('0'+i))] = v
		}
		out[n] = nv
	}
	return out
}

// cleanDeployView: v2 successful at 10, then a v2 -> v1 reverted at 20
// and one failed at 30: every replica and runtime on v2.
func cleanDeployView() ([]DeployRecord, DeployView) {
	recs := []DeployRecord{
		{ID: "d1", From: "1", To: "2", Submit: "ok", Status: "successful"},
		{ID: "d2", From: "2", To: "1", Submit: "ok", Status: "reverted"},
		{From: "2", To: "1", Submit: "refused", Error: "another deployment runs"},
		{ID: "d3", From: "2", To: "1", Submit: "unknown", Status: "failed"},
	}
	v := DeployView{
		Nodes: []string{"n1", "n2", "n3"},
		Listed: []*pb.DeploymentRecord{
			deployRec("d3", "1", 30, pb.DeploymentStatus_DEPLOYMENT_STATUS_FAILED),
			deployRec("d2", "1", 20, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED),
			deployRec("d1", "2", 10, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL),
		},
		Active:  map[string]string{"n1": "2", "n2": "2", "n3": "2"},
		Runtime: onVersion("2", "n1", "n2", "n3"),
	}
	return recs, v
}

func TestCheckDeploymentsClean(t *testing.T) {
	recs, v := cleanDeployView()
	r := CheckDeployments(recs, v)
	if r.Deployments != 3 || r.Successful != 1 || r.Reverted != 1 || r.Failed != 1 || r.Refused != 1 {
		t.Errorf("counts %+v", r)
	}
	if r.Stuck != 0 || r.Mixed != 0 || r.FinalMixed || len(r.Problems) != 0 {
		t.Errorf("clean run: stuck %d, mixed %d, final mixed %v, problems %v", r.Stuck, r.Mixed, r.FinalMixed, r.Problems)
	}
	if r.Expected != "2" {
		t.Errorf("expected version %s, want 2 (the last successful; the later ones reverted or failed)", r.Expected)
	}
}

func TestCheckDeploymentsStuck(t *testing.T) {
	recs, v := cleanDeployView()
	v.Listed[0] = deployRec("d3", "1", 30, pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTING)
	r := CheckDeployments(recs, v)
	if r.Stuck != 1 || !strings.Contains(strings.Join(r.Problems, "\n"), "d3 (2 -> 1) stuck reverting") {
		t.Errorf("reverting after healing: stuck %d, problems %v", r.Stuck, r.Problems)
	}
	// A committed deployment the listing lost is a problem, not a pass.
	recs, v = cleanDeployView()
	v.Listed = v.Listed[1:]
	if r := CheckDeployments(recs, v); !strings.Contains(strings.Join(r.Problems, "\n"), "d3") || r.Stuck != 1 || r.Failed != 0 {
		t.Errorf("unlisted deployment: %+v", r)
	}
}

// A deployment seen ended and no longer listed because the state keeps
// only the newest state.MaxDeploymentHistory ended ones is pruned, not
// stuck, and counts as what it was seen as; the expected version is still
// the last successful one's, even when that one was pruned.
func TestCheckDeploymentsPruned(t *testing.T) {
	recs := []DeployRecord{{ID: "old", From: "1", To: "2", Submit: "ok", Status: "successful", Index: 5}}
	v := DeployView{Nodes: []string{"n1"}, Active: map[string]string{"n1": "2"}, Runtime: onVersion("2", "n1")}
	for i := range state.MaxDeploymentHistory {
		id := "r" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		recs = append(recs, DeployRecord{ID: id, From: "2", To: "1", Submit: "ok", Status: "reverted", Index: uint64(10 + i)})
		v.Listed = append(v.Listed, deployRec(id, "1", uint64(10+i), pb.DeploymentStatus_DEPLOYMENT_STATUS_REVERTED))
	}
	r := CheckDeployments(recs, v)
	if r.Pruned != 1 || r.Stuck != 0 || r.Successful != 1 || r.Reverted != state.MaxDeploymentHistory || len(r.Problems) != 0 {
		t.Fatalf("pruned %d, stuck %d, successful %d, reverted %d, problems %v", r.Pruned, r.Stuck, r.Successful, r.Reverted, r.Problems)
	}
	if r.Expected != "2" {
		t.Fatalf("expected version %s, want 2 (the pruned successful one)", r.Expected)
	}
	// One fewer kept: the state would not have pruned it, so it is lost.
	v.Listed = v.Listed[1:]
	if r := CheckDeployments(recs, v); r.Stuck == 0 || r.Pruned != 0 {
		t.Fatalf("with %d listed: pruned %d, stuck %d, want it stuck", len(v.Listed), r.Pruned, r.Stuck)
	}
}

func TestCheckDeploymentsMixed(t *testing.T) {
	// One process on the other version.
	recs, v := cleanDeployView()
	v.Runtime["n2"][DeployTreePrefix+"n2/d2"] = "1"
	if r := CheckDeployments(recs, v); !r.FinalMixed || !strings.Contains(strings.Join(r.Problems, "\n"), "n2 chaosdeploy-n2/d2 on 1") {
		t.Errorf("a v1 process among v2: final mixed %v, problems %v", r.FinalMixed, r.Problems)
	}
	// Every process on the version of a reverted deployment.
	recs, v = cleanDeployView()
	v.Runtime = onVersion("1", "n1", "n2", "n3")
	v.Active = map[string]string{"n1": "1", "n2": "1", "n3": "1"}
	if r := CheckDeployments(recs, v); !r.FinalMixed {
		t.Errorf("all on v1 after v2 succeeded and the rest reverted: %+v", r)
	}
	// A replica whose active version differs.
	recs, v = cleanDeployView()
	v.Active["n3"] = "1"
	if r := CheckDeployments(recs, v); !r.FinalMixed || !strings.Contains(strings.Join(r.Problems, "\n"), "n3: active version") {
		t.Errorf("n3's replica on v1: %+v", r)
	}
	// A process missing, a node not read.
	recs, v = cleanDeployView()
	delete(v.Runtime["n1"], DeployTreePrefix+"n1/d1")
	if r := CheckDeployments(recs, v); !r.FinalMixed {
		t.Errorf("n1 runs one process of two: %+v", r)
	}
	recs, v = cleanDeployView()
	delete(v.Runtime, "n3")
	if r := CheckDeployments(recs, v); !r.FinalMixed {
		t.Errorf("n3 not read: %+v", r)
	}
	// Mixed after a deployment ended, during the run.
	recs, v = cleanDeployView()
	recs[1].Mixed, recs[1].Observed = true, "n1: d1=1,d2=2"
	if r := CheckDeployments(recs, v); r.Mixed != 1 || r.FinalMixed {
		t.Errorf("mixed after d2: mixed %d, final %v", r.Mixed, r.FinalMixed)
	}
	// A process of another behavior in the tree.
	recs, v = cleanDeployView()
	v.Runtime["n1"][DeployTreePrefix+"n1/d1"] = "?counter"
	if r := CheckDeployments(recs, v); !r.FinalMixed {
		t.Errorf("a native behavior in the tree: %+v", r)
	}
}

// A deployment listed but never seen by the workload (its submit's answer
// lost) is adopted and checked like the others.
func TestCheckDeploymentsAdopted(t *testing.T) {
	recs, v := cleanDeployView()
	v.Listed = append([]*pb.DeploymentRecord{deployRec("d4", "1", 40, pb.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESSFUL)}, v.Listed...)
	r := CheckDeployments(recs, v)
	if r.Deployments != 4 || r.Successful != 2 || r.Expected != "1" {
		t.Fatalf("adopted d4: %+v", r)
	}
	if !r.FinalMixed {
		t.Error("runtime on v2 after d4 (v1) succeeded: not mixed")
	}
	found := false
	for _, rec := range r.Records {
		if rec.ID == "d4" && rec.Submit == "adopted" && rec.FinalStatus == "successful" {
			found = true
		}
	}
	if !found {
		t.Errorf("d4 not adopted: %+v", r.Records)
	}
}

func TestDeployHelpers(t *testing.T) {
	if v := versionOf("wasm:counter@2"); v != "2" {
		t.Errorf("versionOf wasm:counter@2 = %q", v)
	}
	if v := versionOf("counter"); v != "" {
		t.Errorf("versionOf counter = %q", v)
	}
	spec := deployTreeSpec("n2")
	for _, want := range []string{`tree "chaosdeploy-n2"`, `node = "n2"`, `child "d1"`, `child "d2"`, `module = "counter"`} {
		if !strings.Contains(spec, want) {
			t.Errorf("tree spec has no %s:\n%s", want, spec)
		}
	}
	req := deployRequest("1")
	if req.Module != "counter@1" || !req.Options.AutoRevert || !req.HasMaxParallel || req.Safety != "moderate" {
		t.Errorf("deploy request %v", req)
	}
}

// The modules are found beside the results directory (<repo>/chaos/results)
// or where they are named; elsewhere the error says how to go on.
func TestModulesDir(t *testing.T) {
	repo := t.TempDir()
	mods := filepath.Join(repo, "examples", "modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "counter-v1.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ModulesDir("", filepath.Join(repo, "chaos", "results"))
	if err != nil || filepath.Clean(got) != mods {
		t.Errorf("beside the results: %q, %v", got, err)
	}
	if got, err := ModulesDir(mods, "/nowhere"); err != nil || got != mods {
		t.Errorf("named: %q, %v", got, err)
	}
	if _, err := ModulesDir(filepath.Join(repo, "none"), ""); err == nil || !strings.Contains(err.Error(), "-deployments=false") {
		t.Errorf("missing: %v", err)
	}
}
