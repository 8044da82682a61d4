// Package load is the record format shared by loadgen (which writes it)
// and perfrun (which reads it): one CSV row per request.
package load

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Record is one request. Times are offsets from the start of the run.
type Record struct {
	Stream   string // e.g. "me#0"
	Endpoint string // "me" or "login"
	// Sched is when the request was due: for an open-loop stream its slot
	// in the arrival schedule, for a closed-loop one when it was sent.
	Sched time.Duration
	// Start is when it was actually sent; Start-Sched is the generator's
	// own lag.
	Start time.Duration
	// Latency runs from Sched to the last byte of the answer, so a late
	// send counts against the server's latency rather than hiding it
	// (no coordinated omission).
	Latency    time.Duration
	Status     int    // 0 when no answer came
	RetryAfter string // the Retry-After header, "" when absent
	Err        string // transport error or a malformed answer, "" when fine
}

// End is when the answer had fully arrived.
func (r Record) End() time.Duration { return r.Sched + r.Latency }

var header = []string{"stream", "endpoint", "sched_us", "start_us", "latency_us", "status", "retry_after", "error"}

// WriteCSV writes records with a header row.
func WriteCSV(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, r := range recs {
		if err := cw.Write([]string{
			r.Stream, r.Endpoint,
			strconv.FormatInt(r.Sched.Microseconds(), 10),
			strconv.FormatInt(r.Start.Microseconds(), 10),
			strconv.FormatInt(r.Latency.Microseconds(), 10),
			strconv.Itoa(r.Status), r.RetryAfter, r.Err,
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads what WriteCSV wrote.
func ReadCSV(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	recs := make([]Record, 0, len(rows)-1)
	for i, row := range rows[1:] {
		if len(row) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields", path, i+2, len(row))
		}
		var n [4]int64
		for j, s := range []string{row[2], row[3], row[4], row[5]} {
			if n[j], err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+2, err)
			}
		}
		recs = append(recs, Record{
			Stream: row[0], Endpoint: row[1],
			Sched: time.Duration(n[0]) * time.Microsecond, Start: time.Duration(n[1]) * time.Microsecond,
			Latency: time.Duration(n[2]) * time.Microsecond, Status: int(n[3]),
			RetryAfter: row[6], Err: row[7],
		})
	}
	return recs, nil
}
