package hashpool

import "syscall"

// setThreadNice lowers the calling thread's priority: on Linux,
// setpriority with a thread id applies to that thread alone. Failing (a
// sandbox refusing it) only loses the preference, so it is ignored.
func setThreadNice(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
