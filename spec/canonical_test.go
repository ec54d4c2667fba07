package spec

import (
	"encoding/json"
	"testing"
)

func TestEqual(t *testing.T) {
	base := ChildSpec{ID: "a", Behavior: "echo"}
	tests := []struct {
		name    string
		a, b    ChildSpec
		equal   bool
		shallow bool
	}{
		{"defaults spelled out", base, ChildSpec{ID: "a", Type: Worker, Behavior: "echo", Restart: Permanent, Shutdown: "5s"}, true, true},
		{"duration spelling", ChildSpec{ID: "a", Behavior: "echo", Shutdown: "5000ms"}, base, true, true},
		{"empty args", ChildSpec{ID: "a", Behavior: "echo", Args: map[string]string{}}, base, true, true},
		{"args order", ChildSpec{ID: "a", Behavior: "echo", Args: map[string]string{"x": "1", "y": "2"}}, ChildSpec{ID: "a", Behavior: "echo", Args: map[string]string{"y": "2", "x": "1"}}, true, true},
		{"restart differs", base, ChildSpec{ID: "a", Behavior: "echo", Restart: Temporary}, false, false},
		{"args differ", base, ChildSpec{ID: "a", Behavior: "echo", Args: map[string]string{"x": "1"}}, false, false},
		{"supervisor intensity default", ChildSpec{ID: "s", Type: Supervisor}, ChildSpec{ID: "s", Type: Supervisor, Shutdown: Infinity, SupervisorSpec: SupervisorSpec{Strategy: OneForOne, MaxRestarts: 1, MaxSeconds: 5}}, true, true},
		{"supervisor shutdown default", ChildSpec{ID: "s", Type: Supervisor}, ChildSpec{ID: "s", Type: Supervisor, Shutdown: "5s"}, false, false},
		{"zero shutdown", ChildSpec{ID: "a", Behavior: "echo", Shutdown: "0"}, ChildSpec{ID: "a", Behavior: "echo", Shutdown: "0ms"}, true, true},
		{"grandchild differs", ChildSpec{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{Children: []ChildSpec{base}}},
			ChildSpec{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "counter"}}}}, false, true},
		{"strategy differs", ChildSpec{ID: "s", Type: Supervisor}, ChildSpec{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{Strategy: OneForAll}}, false, false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.equal {
			t.Errorf("%s: Equal = %v", tt.name, got)
		}
		if got := EqualShallow(tt.a, tt.b); got != tt.shallow {
			t.Errorf("%s: EqualShallow = %v", tt.name, got)
		}
	}
}

func TestCanonicalDoesNotModify(t *testing.T) {
	c := ChildSpec{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{Children: []ChildSpec{{ID: "a", Behavior: "echo", Args: map[string]string{}}}}}
	before, _ := json.Marshal(c)
	Canonical(c)
	EqualShallow(c, c)
	after, _ := json.Marshal(c)
	if string(before) != string(after) {
		t.Errorf("modified:\n%s\n%s", before, after)
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	tree := &Tree{Name: "w", SupervisorSpec: SupervisorSpec{Children: []ChildSpec{
		{ID: "a", Behavior: "echo", Shutdown: "90s"},
		{ID: "s", Type: Supervisor, SupervisorSpec: SupervisorSpec{MaxRestarts: 0, MaxSeconds: 10, Children: []ChildSpec{{ID: "b", Behavior: "echo"}}}},
	}}}
	Normalize(tree)
	once, _ := json.Marshal(tree)
	Normalize(tree)
	twice, _ := json.Marshal(tree)
	if string(once) != string(twice) {
		t.Errorf("not idempotent:\n%s\n%s", once, twice)
	}
	if tree.Node != NodeAuto || tree.Children[0].Shutdown != "1m30s" || tree.Children[1].MaxRestarts != 0 || tree.Children[1].MaxSeconds != 10 {
		t.Errorf("normalized = %s", once)
	}
}
