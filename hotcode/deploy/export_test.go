package deploy

import (
	"context"

	"github.com/hashicorp/go-memdb"
)

// ConvergeOnce runs one convergence pass now, as the loop would.
func (l *Layer) ConvergeOnce(ctx context.Context) {
	l.conv.pass(ctx, l.node.State(), memdb.NewWatchSet())
}

// SettledModules is settledModules.
var SettledModules = settledModules
