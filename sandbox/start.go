package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/steward/steward/actor"
	"github.com/steward/steward/spec"
)

// Start runs t as a sandbox under p on rt: the tree starts (or is updated)
// with p's runtime policy (actor.Runtime.ApplySandbox), then its tracing
// is set from p.Trace (messages: the flow graph; states: state history).
// If the tracing cannot be set up, a tree this call started is stopped
// again and the error says why, so a sandbox never runs without the
// tracing its policy asks for. p.Name, when set, must be t's name.
func Start(ctx context.Context, rt *actor.Runtime, t spec.Tree, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Name != "" && p.Name != t.Name {
		return fmt.Errorf("%w: name: the policy is for %q, the tree is %q", ErrInvalid, p.Name, t.Name)
	}
	_, err := rt.Tree(t.Name)
	existed := err == nil
	if err := rt.ApplySandbox(ctx, t, p.Actor()); err != nil {
		return fmt.Errorf("sandbox %q: %w", t.Name, err)
	}
	if err := rt.SetTracing(t.Name, actor.Tracing{Flow: p.Trace.Messages, History: p.Trace.States}); err != nil {
		err = fmt.Errorf("sandbox %q: tracing: %w", t.Name, err)
		if !existed {
			if serr := rt.StopTree(ctx, t.Name); serr != nil {
				err = errors.Join(err, fmt.Errorf("removing it: %w", serr))
			}
		}
		return err
	}
	return nil
}
