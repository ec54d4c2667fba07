package state

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	verifyPlanCopies = true
	os.Exit(m.Run())
}
