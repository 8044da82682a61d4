//go:build !linux

package hashpool

// setThreadNice is a no-op where threads cannot be niced one by one; the
// dedicated threads still keep hashing off the request goroutines' Ps.
func setThreadNice(int) {}
