package chaos

import (
	"reflect"
	"testing"
	"time"
)

func TestScheduleRepeatsFromSeed(t *testing.T) {
	a, err := NewSchedule(7, AllKinds, 40, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSchedule(7, AllKinds, 40, 20*time.Minute)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	c, _ := NewSchedule(8, AllKinds, 40, 20*time.Minute)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 7 and 8 gave the same schedule")
	}
	if len(a) != 40 {
		t.Fatalf("%d faults, want 40", len(a))
	}
	// Every kind once per round of len(AllKinds).
	seen := map[string]int{}
	for _, p := range a[:len(AllKinds)] {
		seen[p.Kind]++
	}
	for _, k := range AllKinds {
		if seen[k] != 1 {
			t.Errorf("kind %s %d times in the first round", k, seen[k])
		}
	}
	slot := 20 * time.Minute / 40
	for i, p := range a {
		if p.Hold < MinHold || p.Gap < MinGap || p.Hold+p.Gap != slot {
			t.Errorf("fault %d: hold %s gap %s, slot %s", i, p.Hold, p.Gap, slot)
		}
	}
}

func TestScheduleRefusals(t *testing.T) {
	if _, err := NewSchedule(1, AllKinds, 100, time.Minute); err == nil {
		t.Error("100 faults in a minute accepted")
	}
	if _, err := NewSchedule(1, nil, 1, time.Minute); err == nil {
		t.Error("no kinds accepted")
	}
	if _, err := ParseKinds("kill-leader,nope"); err == nil {
		t.Error("unknown kind accepted")
	}
	k, err := ParseKinds("kill-leader, restart-all,kill-leader")
	if err != nil || !reflect.DeepEqual(k, []string{KillLeader, RestartAll}) {
		t.Errorf("ParseKinds: %v %v", k, err)
	}
	if NetworkKind(KillLeader) || !NetworkKind(PartitionLeader) {
		t.Error("NetworkKind")
	}
}
