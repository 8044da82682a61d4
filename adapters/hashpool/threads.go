package hashpool

import "runtime"

// threads runs hashes on dedicated OS threads whose scheduling priority is
// lowered (nice). With the goroutines that serve requests on threads of
// normal priority, the kernel runs those first whenever both want a core,
// and hashing still gets every idle cycle: under a login flood at 3× the
// bcrypt ceiling this halved /auth/me's p99 again on top of the extra P
// (perf/results/proposals/hashing.md), at no cost to login throughput.
type threads struct {
	jobs chan func()
	stop chan struct{}
}

func startThreads(n, nice int) *threads {
	t := &threads{jobs: make(chan func()), stop: make(chan struct{})}
	for range n {
		go func() {
			// Never unlocked: when this goroutine returns, its thread exits
			// with it instead of going back, niced, to run other goroutines.
			runtime.LockOSThread()
			setThreadNice(nice)
			for {
				select {
				case job := <-t.jobs:
					job()
				case <-t.stop:
					return
				}
			}
		}()
	}
	return t
}

// do runs fn on one of the threads and waits for it. A panic in fn is
// raised again in the caller, where the request's recovery handles it.
func (t *threads) do(fn func()) {
	done := make(chan any, 1)
	t.jobs <- func() {
		defer func() { done <- recover() }()
		fn()
	}
	if r := <-done; r != nil {
		panic(r)
	}
}
