package simnet

import (
	"context"
	"errors"
	"sync"
)

// RunChurn runs the churn scenario: the dht scenario (RunDHT) whose lookups
// run a second time while cfg.Churn of the nodes (default 0.1) leave, each
// replaced by a new node that joins. The fetch and compute scenarios take
// churn too (FetchConfig.Churn, ComputeConfig.Churn). Call it inside a
// synctest bubble.
func RunChurn(ctx context.Context, cfg DHTConfig) (DHTReport, error) {
	if cfg.Churn == 0 {
		cfg.Churn = 0.1
	}
	rep, err := RunDHT(ctx, cfg)
	rep.Scenario = "churn"
	return rep, err
}

// churnTrigger paces the churn of a fetch or a job by its progress: it
// releases its k-th of n tokens once the progress reaches (k+1)/(n+1), so
// that the victims leave evenly while the work runs, whatever its speed.
// Safe for concurrent use; observe never blocks.
type churnTrigger struct {
	mu      sync.Mutex
	n, next int
	c       chan struct{}
}

func newChurnTrigger(n int) *churnTrigger {
	return &churnTrigger{n: n, c: make(chan struct{}, n)}
}

// observe records that the work is frac done.
func (t *churnTrigger) observe(frac float64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.next < t.n && frac >= float64(t.next+1)/float64(t.n+1) {
		t.next++
		t.c <- struct{}{} // never blocks: the buffer holds all n
	}
}

// run calls step(k) for each token k until all n were taken or done is
// closed (the work ended first), and returns how many steps ran and their
// errors.
func (t *churnTrigger) run(ctx context.Context, done <-chan struct{}, step func(k int) error) (steps int, err error) {
	for k := range t.n {
		select {
		case <-done:
			return steps, err
		default:
		}
		select {
		case <-t.c:
		case <-done:
			return steps, err
		case <-ctx.Done():
			return steps, errors.Join(err, ctx.Err())
		}
		err = errors.Join(err, step(k))
		steps++
	}
	return steps, err
}
