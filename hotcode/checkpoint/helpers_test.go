package checkpoint_test

import (
	"testing"

	"github.com/steward/steward/hotcode/deploy/deploytest"
	"github.com/steward/steward/pb"
)

// The cluster fixture of hotcode/deploy's tests, whose nodes run the
// checkpoint layer too.

type fixture struct{ *deploytest.Fixture }

func newFixture(t *testing.T) *fixture { return &fixture{deploytest.New(t, nil)} }

// push stores counter@version from examples/modules.
func (f *fixture) push(version string) {
	f.T.Helper()
	f.Push(version, deploytest.Module(f.T, "..", "..", "examples", "modules", "counter-v"+version+".wasm"))
}

func options() *pb.DeployOptions {
	return &pb.DeployOptions{MaxParallel: 4, MinHealthyTimeMs: 50, HealthyDeadlineMs: 5000, ProgressDeadlineMs: 20000}
}
